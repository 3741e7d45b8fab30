"""Kernel regression as a learning method: the minimum-norm interpolant, RKHS norms, ridge vs early stopping as
spectral filters, and measured learning curves (test MSE against the number of training points n).

Sources: D. J. Sutherland, "Neural Tangent Kernels, Finite and Infinite" (slides "Kernel regression", "Kernel
ridge regression", "Kernel 'ridgeless' regression"): gradient descent from w_0 on a kernel model
f(x) = ⟨φ(x), w⟩ converges to the interpolant closest to w_0, ŵ = Φᵀ K^{-1} y + (I − Φᵀ K^{-1} Φ) w_0, and the
RKHS norm of f(x) = ⟨φ(x), w⟩ is ‖w‖.  Simon et al. 2021 for the eigenbasis conventions of
``ntk_explorer.spectra`` (λ_i are eigenvalues of K/M, ⟨f, g⟩ = (1/M) Σ_x f(x) g(x)) and for the learning curves
that ``predicted_mse`` predicts.  Ali, Kolter & Tibshirani 2019 ("A continuous-time view of early stopping for
least squares regression") compare early-stopped gradient flow with ridge regression at ridge ≈ 1/time.

Conventions (as in ``eigenlearning``): kernel ridge regression f̂ = K(·, D)(K(D, D) + ridge·I)^{-1} y, the ridge
in the units of K; gradient descent on L = (1/N) Σ ½(f(x_i) − y_i)² with rate lr, so on the training set the
kernel model moves as f ← f − (lr/N) K (f − y).
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch

from ..validation import check_count, check_finite_number, check_seed
from .domains import as_kernel_matrix, check_domain
from .eigenlearning import random_train_sets

__all__ = ["min_norm_interpolant", "interpolant_norm", "rkhs_norm", "ridge_filter", "gd_filter", "LearningCurve",
           "learning_curve_draws", "kernel_learning_curve"]


def _tensor(value, name) -> torch.Tensor:
    try:
        t = torch.as_tensor(value.detach() if isinstance(value, torch.Tensor) else np.asarray(value, np.float64))
    except (TypeError, ValueError):
        raise TypeError(f"{name} must be a tensor or an array of numbers, got {type(value).__name__}") from None
    t = t.to(torch.float64)
    if not bool(torch.isfinite(t).all()):
        raise ValueError(f"{name} contains NaN or inf values")
    return t


def min_norm_interpolant(features, y) -> torch.Tensor:
    """The minimum-norm solution w* = Φ⁺ y = Φᵀ (Φ Φᵀ)⁺ y of Φ w = y (Sutherland, "Kernel regression").

    features Φ: (N, P) rows φ(x_i); y: (N,) or (N, T).  When K = Φ Φᵀ is invertible (P ≥ N, independent rows)
    w* interpolates and every other interpolant is w* + u with Φ u = 0 and ‖w* + u‖² = ‖w*‖² + ‖u‖²; otherwise
    w* is the minimum-norm least-squares solution.  Gradient descent on ‖Φ w − y‖² from w = 0 converges to it.
    Returns (P,) or (P, T) float64.
    """
    Phi, y = _tensor(features, "features"), _tensor(y, "y")
    if Phi.dim() != 2:
        raise ValueError(f"features must have shape (N, P), got {tuple(Phi.shape)}")
    if y.shape[0] != Phi.shape[0] or y.dim() not in (1, 2):
        raise ValueError(f"y must have shape ({Phi.shape[0]},) or ({Phi.shape[0]}, T), got {tuple(y.shape)}")
    y = y.to(Phi.device)
    return Phi.T @ (torch.linalg.pinv(Phi @ Phi.T, hermitian=True) @ y)


def interpolant_norm(k_train_train, y) -> float:
    """RKHS norm of the minimum-norm interpolant of y: ‖f̂‖_H = sqrt(yᵀ K^{-1} y), K = K(D, D) (N × N).

    Equals ‖w*‖ of :func:`min_norm_interpolant` for any features with Φ Φᵀ = K.  Eigen-directions of K below
    N·eps·λ_max are its null space: a y with a component there has no interpolant in the RKHS (returns inf).
    """
    K = as_kernel_matrix(k_train_train, name="k_train_train")
    y = _tensor(y, "y").to(K.device).reshape(-1)
    if y.numel() != K.shape[0]:
        raise ValueError(f"y must have N = {K.shape[0]} entries, got {y.numel()}")
    mu, U = torch.linalg.eigh(K)
    c = U.T @ y
    live = mu > K.shape[0] * torch.finfo(K.dtype).eps * mu.abs().max()
    if bool((c[~live].abs() > 1e-10 * y.norm()).any()):
        return math.inf
    return float(torch.sqrt((c[live] ** 2 / mu[live]).sum()))


def rkhs_norm(eigenvalues, coefficients) -> float:
    """RKHS norm ‖f‖_H = sqrt(Σ_i a_i²/λ_i) of f = Σ_i a_i φ_i, with (λ_i, φ_i) the Mercer eigensystem of the kernel
    (K(x, x') = Σ λ_i φ_i(x) φ_i(x'), ⟨φ_i, φ_j⟩ = δ_ij; e.g. ``EigenSystem.eigenvalues`` and
    ``EigenSystem.coefficients(f)``).  A component a_i ≠ 0 on λ_i = 0 is outside the RKHS: returns inf.
    For f = K(·, D) α this equals sqrt(αᵀ K(D, D) α) (the reproducing property)."""
    lam, a = _tensor(eigenvalues, "eigenvalues").reshape(-1), _tensor(coefficients, "coefficients").reshape(-1)
    if lam.shape != a.shape:
        raise ValueError(f"coefficients must match eigenvalues, got {tuple(a.shape)} and {tuple(lam.shape)}")
    if bool((lam < -1e-10 * lam.abs().max()).any()):
        raise ValueError("eigenvalues must be ≥ 0 (a positive semi-definite kernel)")
    live = lam > 0
    if bool((a[~live] != 0).any()):
        return math.inf
    return float(torch.sqrt((a[live] ** 2 / lam[live]).sum()))


def ridge_filter(eigenvalues, ridge) -> np.ndarray:
    """Kernel ridge regression as a filter on the eigenvalues μ of K(D, D): the fitted training values are
    Σ_k h(μ_k) ⟨u_k, y⟩ u_k with h(μ) = μ/(μ + ridge) (ridge = 0: h = 1, interpolation)."""
    mu = np.asarray(_tensor(eigenvalues, "eigenvalues"))
    ridge = check_finite_number(ridge, "ridge", minimum=0)
    with np.errstate(invalid="ignore"):
        return np.where(mu + ridge > 0, mu / (mu + ridge), 0.0)


def gd_filter(eigenvalues, lr, steps, n) -> np.ndarray:
    """Gradient descent from f = 0 as a filter on the eigenvalues μ of K(D, D): after t steps of
    f ← f − (lr/N) K (f − y) the training values are Σ_k h_t(μ_k) ⟨u_k, y⟩ u_k with h_t(μ) = 1 − (1 − lr μ/N)^t.
    Early stopping at t acts like a ridge of about N/(lr·t) (Ali, Kolter & Tibshirani 2019)."""
    mu = np.asarray(_tensor(eigenvalues, "eigenvalues"))
    lr = check_finite_number(lr, "lr", minimum=0, strict=True)
    steps, n = check_count("steps", steps, 0), check_count("n", n)
    return 1.0 - (1.0 - lr * mu / n) ** steps


@dataclass(frozen=True, eq=False)
class LearningCurve:
    """Test MSE ⟨f − f̂, f − f̂⟩ against the clean target, per training-set size: ``n`` (len(ns),), ``mean`` and
    ``stderr`` over trials, the per-trial ``samples`` (len(ns), trials) and, for trained networks, their final
    training loss (1/N) Σ ½ r² per trial (``train_loss``, None for kernel regression)."""
    n: np.ndarray
    mean: np.ndarray
    stderr: np.ndarray
    samples: np.ndarray
    train_loss: np.ndarray | None = None


def learning_curve_draws(M, n, trials, noise, seed=0):
    """Training sets and label noise of one point of a learning curve: (idx, eps) with idx (trials, n) distinct
    domain indices (``random_train_sets(M, n, trials, seed)``) and eps (trials, n) float64 tensor of i.i.d.
    N(0, noise) draws (noise is the variance ε²; numpy generator seeded with (seed, n)).  Kernels and networks
    that use the same draws can be compared trial by trial."""
    noise, seed = check_finite_number(noise, "noise (a variance)", minimum=0), check_seed(seed)
    idx = random_train_sets(M, n, trials, seed)
    eps = np.random.default_rng([seed, int(n)]).standard_normal((trials, int(n))) * math.sqrt(noise)
    return idx, torch.as_tensor(eps)


def _target_values(domain, target):
    check_domain(domain)
    f = _tensor(target(domain.x) if callable(target) else target, "target").reshape(-1)
    if f.numel() != domain.M:
        raise ValueError(f"target must have one value per domain point (M = {domain.M}), got {f.numel()}")
    return f


def kernel_learning_curve(K, domain, target, ns, *, trials=100, noise=0.0, ridge=0.0, seed=0) -> LearningCurve:
    """Measured learning curve of kernel (ridge) regression on a finite domain (the setting of Simon et al. 2021).

    For each n in ``ns`` and each of ``trials`` draws of ``learning_curve_draws``: labels y = f(D) + ε on the
    training set D, f̂ = K(·, D)(K(D, D) + ridge·I)^{-1} y on every domain point, and the test MSE
    (1/M) Σ_x (f̂(x) − f(x))² against the clean target.  ``noise`` is the label-noise variance ε², as in
    ``predicted_mse`` (whose value minus ε² is the prediction of this clean-target error).
    """
    f = _target_values(domain, target)
    K = as_kernel_matrix(K, domain.M)
    f = f.to(K.device)
    ridge = check_finite_number(ridge, "ridge", minimum=0)
    trials = check_count("trials", trials, 2)
    ns = np.asarray([check_count("ns", n) for n in np.asarray(ns).reshape(-1).tolist()])
    samples = np.empty((len(ns), trials))
    for row, n in enumerate(ns):
        idx, eps = learning_curve_draws(domain.M, int(n), trials, noise, seed)
        idx, y = idx.to(K.device), f[idx.to(K.device)] + eps.to(K.device)
        K_DD = K[idx[:, :, None], idx[:, None, :]] + ridge * torch.eye(int(n), dtype=K.dtype, device=K.device)
        alpha = torch.linalg.solve(K_DD, y[..., None])[..., 0]  # (trials, n)
        f_hat = torch.einsum("mtn,tn->tm", K[:, idx], alpha)  # K(·, D_t) α_t on every domain point
        samples[row] = ((f_hat - f) ** 2).mean(1).cpu().numpy()
    return LearningCurve(ns, samples.mean(1), samples.std(1, ddof=1) / math.sqrt(trials), samples)
