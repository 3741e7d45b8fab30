"""Generated data sets for the lessons: nothing is downloaded.

Domains: points on the unit circle in R² indexed by their angle t (the 1-D regression of the lessons),
the unit sphere S^{d−1} ⊂ R^d (on which the limiting NTK is positive definite when there is a bias σ_b > 0:
Jacot et al. 2018, Proposition 2; without a bias it can be singular) and the scaled hypercube {−1, 1}^d / sqrt(d)
(all points have norm 1, as Theorem 2.1 of Lee et al. 2019 assumes ‖x‖ ≤ 1).

Targets are callables mapping points x of shape (N, d) to a float64 numpy array of shape (N,):
:func:`sine_target`, :func:`fourier_target`, :func:`step_target`, :func:`walsh_target`,
:func:`random_smooth_target`, or an expression typed by a user and parsed safely by :func:`parse_target`.

Shapes: inputs are float64 torch tensors of shape (N, d); scalar targets have shape (N,) (the training
engine also accepts (N, O)).  Classification labels are ±1 with shape (N,) (logistic loss on one output).
"""
from __future__ import annotations

from typing import Callable, Optional

import numpy as np
import torch

from .dataset import Dataset
from .digits import DEFAULT_DIGIT_CLASSES, digits_dataset
from .expression import TargetExpression, parse_target
from ..validation import check_count, check_device, check_finite_number, check_float_dtype, check_seed

__all__ = [
    "Dataset", "make_dataset", "circle_points", "sphere_points", "hypercube_points",
    "sine_target", "fourier_target", "step_target", "walsh_target", "random_smooth_target",
    "parse_target", "TargetExpression", "train_eval_split", "add_label_noise", "flip_labels",
    "DOMAINS", "DATASETS",
]

DOMAINS = ("circle", "sphere", "hypercube")
DATASETS = DOMAINS + ("digits",)


def _angles(x: np.ndarray) -> np.ndarray:
    return np.mod(np.arctan2(x[:, 1], x[:, 0]), 2 * np.pi)


def _points(x) -> np.ndarray:
    if isinstance(x, torch.Tensor):
        x = x.detach().cpu().numpy()
    x = np.asarray(x, dtype=np.float64)
    if x.ndim != 2:
        raise ValueError(f"points must have shape (N, d), got shape {x.shape}")
    return x


# ----------------------------------------------------------------------------------------- domains
def circle_points(n: int, *, sampling: str = "grid", seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """n points on the unit circle: returns (x of shape (n, 2), angles t of shape (n,)).

    sampling="grid": t_i = 2π i / n; sampling="random": t uniform on [0, 2π) (sorted)."""
    n, seed = check_count("n", n), check_seed(seed)
    if sampling == "grid":
        t = 2 * np.pi * np.arange(n) / n
    elif sampling == "random":
        t = np.sort(np.random.default_rng(seed).uniform(0.0, 2 * np.pi, size=n))
    else:
        raise ValueError(f"sampling must be 'grid' or 'random', got {sampling!r}")
    return np.stack([np.cos(t), np.sin(t)], axis=1), t


def sphere_points(n: int, dim: int, *, seed: int = 0) -> np.ndarray:
    """n points uniform on the unit sphere S^{dim−1} ⊂ R^dim (normalised Gaussians), shape (n, dim)."""
    n, dim, seed = check_count("n", n), check_count("dim", dim, 2), check_seed(seed)
    z = np.random.default_rng(seed).standard_normal((n, dim))
    return z / np.linalg.norm(z, axis=1, keepdims=True)


def hypercube_points(n: Optional[int], dim: int, *, seed: int = 0) -> np.ndarray:
    """n distinct vertices of {−1, 1}^dim / sqrt(dim), sampled without replacement (all 2^dim if n is
    None), shape (n, dim); every point has norm 1."""
    dim, seed = check_count("dim", dim, 1), check_seed(seed)
    if dim > 30:
        raise ValueError(f"dim must be ≤ 30 for the hypercube, got {dim}")
    total = 2 ** dim
    n = total if n is None else check_count("n", n)
    if n > total:
        raise ValueError(f"the hypercube of dim {dim} has only {total} vertices; asked for n = {n}")
    index = np.random.default_rng(seed).choice(total, size=n, replace=False) if n < total \
        else np.arange(total)
    bits = (index[:, None] >> np.arange(dim)[None, :]) & 1
    return (1.0 - 2.0 * bits) / np.sqrt(dim)


# ----------------------------------------------------------------------------------------- targets
def sine_target(k: int = 1) -> Callable:
    """sin(k t) of the angle t on the circle."""
    k = check_finite_number(k, "k")
    return lambda x: np.sin(k * _angles(_points(x)))


def fourier_target(modes) -> Callable:
    """Σ_k a_k cos(k t) + b_k sin(k t) of the angle t; ``modes`` maps k → (a_k, b_k)."""
    if not hasattr(modes, "items"):
        raise TypeError(f"modes must be a mapping k → (a_k, b_k), got {type(modes).__name__}")
    try:
        items = [(float(k), float(a), float(b)) for k, (a, b) in modes.items()]
    except (TypeError, ValueError) as error:
        raise ValueError(f"modes must map numbers k to pairs of numbers (a_k, b_k): {error}"[:300]) from None
    if not items:
        raise ValueError("modes must contain at least one k → (a_k, b_k)")
    if not np.all(np.isfinite(items)):
        raise ValueError("modes must hold finite numbers k, a_k, b_k")

    def target(x):
        t = _angles(_points(x))
        return sum(a * np.cos(k * t) + b * np.sin(k * t) for k, a, b in items)
    return target


def step_target(axis: int = -1, threshold: float = 0.0) -> Callable:
    """+1 where x[:, axis] ≥ threshold, −1 elsewhere (on the circle with axis −1: +1 for t ∈ [0, π])."""
    if isinstance(axis, (bool, np.bool_)) or not isinstance(axis, (int, np.integer)):
        raise TypeError(f"axis must be an integer column index, got {type(axis).__name__}")
    threshold = check_finite_number(threshold, "threshold")
    return lambda x: np.where(_points(x)[:, axis] >= threshold, 1.0, -1.0)


def walsh_target(subset) -> Callable:
    """Walsh monomial χ_S(x) = Π_{i∈S} sign(x_i) (1-based coordinates); on the hypercube
    {−1,1}^d/sqrt(d) this is Π_{i∈S} sqrt(d)·x_i, a parity of |S| bits."""
    if isinstance(subset, (str, bytes)) or not hasattr(subset, "__iter__"):
        raise TypeError(f"subset must be a collection of 1-based coordinates, got {type(subset).__name__}")
    indices = sorted({check_count("subset", i) for i in subset})  # 1-based coordinates ≥ 1

    def target(x):
        x = _points(x)
        if indices and indices[-1] > x.shape[1]:
            raise ValueError(f"subset {indices} needs {indices[-1]} coordinates, points have {x.shape[1]}")
        return np.prod(np.where(x[:, [i - 1 for i in indices]] >= 0, 1.0, -1.0), axis=1)
    return target


def random_smooth_target(seed: int = 0, *, n_features: int = 64, lengthscale: float = 0.7) -> Callable:
    """A random smooth function: a sample of a Gaussian process with squared-exponential kernel
    exp(−‖x−x'‖²/(2ℓ²)), via random Fourier features sqrt(2/m) Σ_j a_j cos(w_j·x + b_j),
    a_j ~ N(0,1), w_j ~ N(0, ℓ^{−2} I), b_j ~ U[0, 2π).  Deterministic given seed and input dimension."""
    n_features, seed = check_count("n_features", n_features), check_seed(seed)
    lengthscale = check_finite_number(lengthscale, "lengthscale", minimum=0, strict=True)

    def target(x):
        x = _points(x)
        rng = np.random.default_rng([seed, x.shape[1]])
        w = rng.standard_normal((n_features, x.shape[1])) / lengthscale
        b = rng.uniform(0.0, 2 * np.pi, size=n_features)
        a = rng.standard_normal(n_features)
        return np.sqrt(2.0 / n_features) * np.cos(x @ w.T + b) @ a
    return target


def _resolve_target(target) -> Callable:
    if isinstance(target, str):
        return parse_target(target)
    if callable(target):
        return target
    raise TypeError(f"target must be an expression string or a callable, got {type(target).__name__}")


def _evaluate_target(target: Callable, x: np.ndarray) -> np.ndarray:
    y = np.asarray(target(x), dtype=np.float64)
    if y.shape != (x.shape[0],):
        raise ValueError(f"target must return shape ({x.shape[0]},), got {y.shape}")
    if not np.all(np.isfinite(y)):
        raise ValueError("target is not finite at some inputs (e.g. log(0) or 1/0); change the expression")
    return y


# ------------------------------------------------------------------------------- splits and noise
def train_eval_split(x, y, n_train: int, *, seed: int = 0):
    """Random split of (x, y) into (x_train, y_train, x_eval, y_eval) with n_train training points."""
    n_train, seed = check_count("n_train", n_train), check_seed(seed)
    if len(y) != len(x):
        raise ValueError(f"y has {len(y)} rows but x has {len(x)}; they must be paired")
    if n_train >= len(x):
        raise ValueError(f"n_train must be < the number of points ({len(x)}), got {n_train}")
    order = np.random.default_rng(seed).permutation(len(x))
    train, evaluation = np.sort(order[:n_train]), np.sort(order[n_train:])
    return x[train], y[train], x[evaluation], y[evaluation]


def add_label_noise(y, std: float, *, seed: int = 0) -> np.ndarray:
    """y + N(0, std²) noise, independently per label."""
    std, seed = check_finite_number(std, "noise std", minimum=0), check_seed(seed)
    y = np.asarray(y, dtype=np.float64)
    return y + std * np.random.default_rng(seed).standard_normal(y.shape) if std > 0 else y.copy()


def flip_labels(y, probability: float, *, seed: int = 0) -> np.ndarray:
    """Flips the sign of each ±1 label independently with the given probability."""
    probability, seed = check_finite_number(probability, "flip probability", minimum=0), check_seed(seed)
    if probability > 1:
        raise ValueError(f"flip probability must be in [0, 1], got {probability}")
    y = np.asarray(y, dtype=np.float64)
    return np.where(np.random.default_rng(seed).random(y.shape) < probability, -y, y)


# --------------------------------------------------------------------------------------- presets
def _domain_points(domain, n_train, n_eval, dim, sampling, seed):
    if domain == "circle":
        if dim not in (None, 2):
            raise ValueError(f"the circle lives in R², dim must be 2 or None, got {dim}")
        x_train, _ = circle_points(n_train, sampling=sampling, seed=seed)
        x_eval, _ = circle_points(n_eval, sampling="grid")
        return x_train, x_eval
    if domain not in ("sphere", "hypercube"):
        raise ValueError(f"domain must be one of {DOMAINS}, got {domain!r}")
    dim = (3 if domain == "sphere" else 6) if dim is None else dim
    n = n_train + n_eval
    x = sphere_points(n, dim, seed=seed) if domain == "sphere" else hypercube_points(n, dim, seed=seed)
    return x[:n_train], x[n_train:]


def make_dataset(domain: str = "circle", *, n_train: int = 32, n_eval=256,
                 target=None, dim: Optional[int] = None, noise: float = 0.0,
                 classification: bool = False, flip: float = 0.0, sampling: str = "grid",
                 classes=None, seed: int = 0, dtype: torch.dtype = torch.float64, device=None) -> Dataset:
    """Generates a lesson data set, or splits the shipped digits.

    domain: "circle" (training angles on a grid or random, eval on a dense grid of n_eval angles),
    "sphere" (S^{dim−1}, dim 3 by default) or "hypercube" ({−1,1}^dim/sqrt(dim), dim 6 by default,
    distinct vertices).  target: an expression for :func:`parse_target` or a callable of points (default
    "sin(3*t)").  noise: std of Gaussian label noise on y_train.  classification: labels sign(target) ∈ {−1, +1}
    (sign(0) = +1; ``classes`` is then (1, −1)), each training label flipped with probability ``flip``.

    domain "digits": the 8×8 handwritten digits (``ntk_explorer.data.digits_dataset``: ``classes`` default
    (3, 8), stratified split by ``seed``, inputs of norm 1 in R^64, ±1 targets for two classes and one-hot rows
    for more; n_eval=None takes all remaining images).  The synthetic options (target, dim, noise, flip,
    sampling) do not apply to it; ``classification`` is accepted and changes nothing.
    """
    if domain == "digits":
        unused = {name: value for name, value, default in (("target", target, None), ("dim", dim, None),
                  ("noise", noise, 0.0), ("flip", flip, 0.0), ("sampling", sampling, "grid")) if value != default}
        if unused:
            raise ValueError(f"the digits come with their own inputs and labels: {sorted(unused)} apply to the "
                             f"synthetic domains {DOMAINS} only")
        return digits_dataset(n_train=n_train, n_eval=n_eval, seed=seed, dtype=dtype, device=device,
                              classes=DEFAULT_DIGIT_CLASSES if classes is None else classes)
    if domain not in DOMAINS:
        raise ValueError(f"domain must be one of {DATASETS}, got {domain!r}")
    if classes is not None:
        raise ValueError("classes chooses digits: it applies to domain='digits' only")
    n_train, n_eval = check_count("n_train", n_train), check_count("n_eval", n_eval)
    seed, dtype = check_seed(seed), check_float_dtype(dtype)
    device = None if device is None else check_device(device)
    x_train, x_eval = _domain_points(domain, n_train, n_eval, dim, sampling, seed)
    function = _resolve_target("sin(3*t)" if target is None else target)
    y_train, y_eval = _evaluate_target(function, x_train), _evaluate_target(function, x_eval)
    if classification:
        y_train, y_eval = np.where(y_train >= 0, 1.0, -1.0), np.where(y_eval >= 0, 1.0, -1.0)
        y_train = flip_labels(y_train, flip, seed=seed + 1)
    elif flip:
        raise ValueError("flip is for classification=True; use noise for regression")
    y_train = add_label_noise(y_train, noise, seed=seed + 2)

    def tensor(a):
        return torch.as_tensor(a, dtype=dtype, device=device)
    angles = (tensor(_angles(x_train)), tensor(_angles(x_eval))) if domain == "circle" else (None, None)
    labels = dict(classes=(1, -1), labels_train=y_train.astype(np.int64), labels_eval=y_eval.astype(np.int64)) \
        if classification else {}
    return Dataset(domain, tensor(x_train), tensor(y_train), tensor(x_eval), tensor(y_eval), *angles, **labels)
