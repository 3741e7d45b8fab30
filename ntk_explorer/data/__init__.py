"""Data for the lessons, generated or shipped with the package: nothing is downloaded.

``make_dataset`` builds the lesson data sets (circle, sphere, hypercube); typed target expressions are parsed
safely by ``parse_target`` (an AST whitelist, never ``eval``).
"""
from .expression import MAX_DEPTH, MAX_EXPONENT, MAX_LENGTH, TargetExpression, parse_target
from .synthetic import (DOMAINS, Dataset, add_label_noise, circle_points, flip_labels, fourier_target,
                        hypercube_points, make_dataset, random_smooth_target, sine_target, sphere_points, step_target,
                        train_eval_split, walsh_target)

__all__ = [
    "Dataset", "make_dataset", "circle_points", "sphere_points", "hypercube_points",
    "sine_target", "fourier_target", "step_target", "walsh_target", "random_smooth_target",
    "parse_target", "TargetExpression", "train_eval_split", "add_label_noise", "flip_labels",
    "DOMAINS", "MAX_LENGTH", "MAX_DEPTH", "MAX_EXPONENT",
]
