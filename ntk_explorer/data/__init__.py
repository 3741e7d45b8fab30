"""Data for the lessons, generated or shipped with the package: nothing is downloaded.

``make_dataset`` builds the lesson data sets (circle, sphere, hypercube) and splits the shipped 8×8 handwritten
digits ("digits", ``digits_dataset``); typed target expressions are parsed safely by ``parse_target`` (an AST
whitelist, never ``eval``).
"""
from .dataset import Dataset
from .digits import (DEFAULT_DIGIT_CLASSES, IMAGE_SHAPE, check_classes, digits_dataset, load_digits, predicted_labels,
                     scale_digits)
from .expression import MAX_DEPTH, MAX_EXPONENT, MAX_LENGTH, TargetExpression, parse_target
from .synthetic import (DATASETS, DOMAINS, add_label_noise, circle_points, flip_labels, fourier_target,
                        hypercube_points, make_dataset, random_smooth_target, sine_target, sphere_points, step_target,
                        train_eval_split, walsh_target)

__all__ = [
    "Dataset", "make_dataset", "circle_points", "sphere_points", "hypercube_points",
    "sine_target", "fourier_target", "step_target", "walsh_target", "random_smooth_target",
    "parse_target", "TargetExpression", "train_eval_split", "add_label_noise", "flip_labels",
    "DOMAINS", "DATASETS", "MAX_LENGTH", "MAX_DEPTH", "MAX_EXPONENT",
    "digits_dataset", "load_digits", "scale_digits", "check_classes", "DEFAULT_DIGIT_CLASSES", "IMAGE_SHAPE",
    "predicted_labels",
]
