"""The 8×8 handwritten digits, shipped with the package (``digits.npz``, 45 KB): nothing is downloaded.

Source: the test set of the UCI Machine Learning Repository's "Optical Recognition of Handwritten Digits"
(E. Alpaydin & C. Kaynak, 1998; licence CC BY 4.0), 1797 images of 8×8 pixels with integer values 0–16 (the
count of inked pixels in each 4×4 block of a 32×32 bitmap) and their digit labels 0–9; the file was written
once from the copy bundled in scikit-learn's wheel (see ``README.md`` next to it).

Input scaling (:func:`scale_digits`) follows the conventions of the NTK results:

1. pixels / 16, so every feature lies in [0, 1];
2. minus the mean image of the *training* points: raw digit vectors are all non-negative, so any two make an
   angle below 90° (mean cosine ≈ 0.8 for 3s and 8s) and Θ, a function of norms and angles for the bias-free
   networks used here, is dominated by one constant mode whose eigenvalue sets the largest stable learning
   rate; centering removes that mode (mean cosine ≈ 0) and leaves the discriminative directions;
3. each image divided by its norm, so ‖x‖ = 1 as Lee et al. 2019, Theorem 2.1 assumes (‖x‖ ≤ 1) and as on the
   sphere of the synthetic lessons, where the NTK depends on angles only (Jacot, Gabriel & Hongler 2018).

The eval points are scaled with the training mean (nothing about them is used for preprocessing).
"""
from __future__ import annotations

import functools
from importlib import resources

import numpy as np
import torch

from .dataset import Dataset
from ..validation import check_count, check_device, check_float_dtype, check_seed

__all__ = ["load_digits", "digits_dataset", "scale_digits", "check_classes", "predicted_labels", "DIGIT_CLASSES",
           "DEFAULT_DIGIT_CLASSES", "DIGITS_FILE", "IMAGE_SHAPE"]

DIGITS_FILE = "digits.npz"
DIGIT_CLASSES = tuple(range(10))
DEFAULT_DIGIT_CLASSES = (3, 8)
IMAGE_SHAPE = (8, 8)
PIXEL_MAX = 16


@functools.lru_cache(maxsize=1)
def load_digits() -> tuple:
    """The shipped file as read-only arrays: (images uint8 (1797, 8, 8) with values 0–16, labels int64 (1797,)).
    Reads only ``ntk_explorer/data/digits.npz`` (package data)."""
    with resources.files(__package__).joinpath(DIGITS_FILE).open("rb") as handle, np.load(handle) as archive:
        images, labels = archive["images"].astype(np.uint8), archive["labels"].astype(np.int64)
    images.setflags(write=False)
    labels.setflags(write=False)
    return images, labels


def scale_digits(images, mean) -> np.ndarray:
    """Inputs for the network: x = (p/16 − mean) / ‖p/16 − mean‖ for pixel images p (N, 8, 8) or (N, 64) and
    a mean image of shape (64,) on the same /16 scale; float64 (N, 64), every row of norm 1."""
    images, mean = np.asarray(images, dtype=np.float64), np.asarray(mean, dtype=np.float64)
    if images.ndim not in (2, 3) or images[0].size != 64 or mean.size != 64:
        raise ValueError(f"images must have shape (N, 8, 8) or (N, 64) and mean 64 entries, got images of shape "
                         f"{images.shape} and mean of shape {mean.shape}")
    z = images.reshape(len(images), -1) / PIXEL_MAX - mean.reshape(-1)
    norms = np.linalg.norm(z, axis=1, keepdims=True)
    if np.any(norms < 1e-12):
        raise ValueError("an image equals the mean training image and has no direction; use more training points")
    return z / norms


def check_classes(classes) -> tuple:
    if isinstance(classes, (str, bytes)) or not hasattr(classes, "__iter__"):
        raise TypeError(f"classes must be a tuple of digit labels such as (3, 8), got {type(classes).__name__}")
    classes = tuple(classes)
    for c in classes:
        if isinstance(c, (bool, np.bool_)) or not isinstance(c, (int, np.integer)):
            raise TypeError(f"classes must hold integers 0–9, got {c!r}")
        if c not in DIGIT_CLASSES:
            raise ValueError(f"classes must be digits 0–9, got {c!r}")
    if len(classes) < 2 or len(set(classes)) != len(classes):
        raise ValueError(f"classes must name at least two distinct digits, got {classes}")
    return tuple(int(c) for c in classes)


def _balanced(n: int, k: int) -> np.ndarray:
    """n points spread over k classes as evenly as possible (the first n mod k classes get one more)."""
    return n // k + (np.arange(k) < n % k)


def _split(labels, classes, n_train, n_eval, seed):
    """Stratified, disjoint (train, eval) index arrays into the file, each sorted."""
    k = len(classes)
    pools = [np.flatnonzero(labels == c) for c in classes]
    train_counts = _balanced(n_train, k)
    eval_counts = _balanced(n_eval, k) if n_eval is not None else [len(p) - t for p, t in zip(pools, train_counts)]
    smallest = min(len(p) for p in pools)
    for c, pool, a, b in zip(classes, pools, train_counts, eval_counts):
        if a + b > len(pool) or b < 1:
            raise ValueError(f"digit {c} has {len(pool)} images but the split needs {a} training + {max(b, 1)} "
                             f"evaluation images of it; a balanced split of classes {classes} allows "
                             f"n_train + n_eval ≤ {k * smallest} (n_train < {k * smallest} with n_eval=None)")
    rng = np.random.default_rng(seed)
    train, evaluation = [], []
    for pool, a, b in zip(pools, train_counts, eval_counts):
        order = rng.permutation(pool)
        train.append(order[:a])
        evaluation.append(order[a:a + b])
    return np.sort(np.concatenate(train)), np.sort(np.concatenate(evaluation))


def _targets(labels, classes) -> np.ndarray:
    if len(classes) == 2:
        return np.where(labels == classes[0], 1.0, -1.0)
    return (labels[:, None] == np.asarray(classes)[None, :]).astype(np.float64)


def predicted_labels(outputs, classes) -> np.ndarray:
    """The digit each row of network outputs stands for, decoding the targets of :func:`digits_dataset`: one
    output (N,) or (N, 1) → ``classes[0]`` where f ≥ 0 (y = +1) and ``classes[1]`` elsewhere; k outputs (N, k)
    → ``classes[argmax_o f_o]``.  An int64 array (N,), to compare with a Dataset's ``labels_eval``."""
    classes = check_classes(classes)
    f = outputs.detach().cpu().numpy() if isinstance(outputs, torch.Tensor) else np.asarray(outputs)
    f = np.asarray(f, dtype=np.float64)
    if f.ndim == 2 and f.shape[1] == 1:
        f = f[:, 0]
    if f.ndim == 1:
        if len(classes) != 2:
            raise ValueError(f"one output per point decodes two classes, got classes {classes}")
        return np.where(f >= 0, classes[0], classes[1]).astype(np.int64)
    if f.ndim != 2 or f.shape[1] != len(classes):
        raise ValueError(f"outputs must have shape (N,) or (N, {len(classes)}) for classes {classes}, got {f.shape}")
    return np.asarray(classes, dtype=np.int64)[f.argmax(axis=1)]


def digits_dataset(*, n_train: int = 32, n_eval=256, classes=DEFAULT_DIGIT_CLASSES, seed: int = 0,
                   dtype: torch.dtype = torch.float64, device=None) -> Dataset:
    """A stratified train/eval split of the digits ``classes`` (default (3, 8): two digits that share strokes,
    among the hardest pairs of the set; 0 vs 1 is nearly separable by a single pixel).

    n_train (≥ number of classes) and n_eval images are spread evenly over the classes (the first classes get
    one more when a count does not divide) and drawn without replacement with ``seed``; the splits are
    disjoint.  ``n_eval=None`` takes every remaining image of the classes.  Inputs: :func:`scale_digits` with
    the training mean (module docstring; x is (N, 64) with ‖x‖ = 1).  Targets: two classes → y = +1 for
    ``classes[0]`` and −1 for ``classes[1]``, shape (N,) (one output, as the synthetic labels); k ≥ 3 classes →
    one-hot rows (N, k) for a network with k outputs, whose empirical NTK is (N, N, k, k) and tends to Θ ⊗ I_k
    at infinite width (Jacot, Gabriel & Hongler 2018; ``empirical_ntk(..., pseudo=True)`` gives the
    pseudo-NTK).  The :class:`Dataset` carries ``classes``, ``labels_*`` (the digits) and ``images_*`` (uint8
    (N, 8, 8) raw pixels, e.g. for heat maps of misclassified eval points)."""
    classes = check_classes(classes)
    n_train, seed, dtype = check_count("n_train", n_train, len(classes)), check_seed(seed), check_float_dtype(dtype)
    n_eval = None if n_eval is None else check_count("n_eval", n_eval)
    device = None if device is None else check_device(device)
    images, labels = load_digits()
    train, evaluation = _split(labels, classes, n_train, n_eval, seed)
    mean = images[train].reshape(len(train), -1).mean(axis=0) / PIXEL_MAX
    x_train, x_eval = scale_digits(images[train], mean), scale_digits(images[evaluation], mean)

    def tensor(a):
        return torch.as_tensor(a, dtype=dtype, device=device)
    return Dataset("digits", tensor(x_train), tensor(_targets(labels[train], classes)), tensor(x_eval),
                   tensor(_targets(labels[evaluation], classes)), classes=classes,
                   labels_train=labels[train].copy(), labels_eval=labels[evaluation].copy(),
                   images_train=images[train].copy(), images_eval=images[evaluation].copy())
