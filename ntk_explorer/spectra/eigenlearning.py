"""Eigenlearning: learnability of eigenmodes by kernel regression, in theory and measured (Simon et al. 2021).

Conventions (shared by every function here):
- Inner product ⟨f, g⟩ = (1/M) Σ_x f(x) g(x) over the domain (Simon et al. 2021); λ_i are eigenvalues of K/M
  (their kernel eigensystem), so that K(x, x') = Σ_i λ_i φ_i(x) φ_i(x') has the units of λ.
- Kernel (ridge) regression on a training set D of n domain points (as in Simon et al. 2021, with a ridge):
      f̂(x) = K(x, D) (K(D, D) + ridge · I_n)^{-1} f(D),
  i.e. the ridge is added to the diagonal of the n × n train kernel matrix, in the units of K, not of K/M.
- With that convention the eigenlearning constant κ solves Σ_i m_i λ_i/(λ_i + κ) + ridge/κ = n and the
  predicted mode learnability is L_i = λ_i/(λ_i + κ) (Simon et al. 2021; ridge = 0 is ridgeless kernel regression).
- D-learnability L^(D)(f) = ⟨f, f̂⟩/⟨f, f⟩ (Simon et al. 2021, definition of learnability).

Theory functions (`solve_kappa`, `learnability`, `predicted_mse`) take eigenvalue vectors (array or tensor)
and return numpy; functions of a kernel matrix compute in torch float64 on the kernel's device.
"""

from __future__ import annotations

import math

import numpy as np
import torch

from ..validation import check_finite_number, check_seed
from .domains import Domain, as_kernel_matrix, check_domain, eigensystem

__all__ = [
    "solve_kappa",
    "learnability",
    "predicted_mse",
    "kernel_regression",
    "d_learnability",
    "transfer_matrix",
    "empirical_learnability",
    "random_train_sets",
    "target_values",
]


def _spectrum(eigenvalues, multiplicities, ridge):
    lam = np.asarray(torch.as_tensor(eigenvalues).detach().cpu(), dtype=np.float64)
    if lam.ndim != 1 or lam.size == 0 or not np.isfinite(lam).all():
        raise ValueError("eigenvalues must be a non-empty 1-D array of finite numbers")
    if lam.min() < -1e-10 * max(lam.max(), 0.0):
        raise ValueError(f"eigenvalues must be ≥ 0 (a PSD kernel), got min {lam.min():.3e}")
    lam = np.clip(lam, 0.0, None)
    if multiplicities is None:
        m = np.ones_like(lam)
    else:
        m = np.asarray(torch.as_tensor(multiplicities).detach().cpu(), dtype=np.float64)
        if m.shape != lam.shape or not np.isfinite(m).all() or (m <= 0).any():
            raise ValueError("multiplicities must be positive and have the shape of eigenvalues")
    return lam, m, _check_ridge(ridge)


def _kappa_newton(lam, m, ridge, n):
    """Safeguarded Newton on u = log κ for all n at once; h(u) = Σ m λ/(λ+e^u) + ridge/e^u − n decreases in u."""
    total = float((m * lam).sum()) + ridge
    hi = np.log(total / n)  # h(hi) ≤ 0 since Σ m λ/(λ+κ) + ridge/κ ≤ total/κ
    lo = hi - 1.0
    for _ in range(2000):  # walk down until h(lo) ≥ 0; terminates as h → Σm (> n) or ∞ when κ → 0
        h_lo = (m * lam / (lam + np.exp(lo[:, None]))).sum(1) + ridge * np.exp(-lo) - n
        if (h_lo >= 0).all():
            break
        lo = np.where(h_lo >= 0, lo, lo - 2.0)
    u = 0.5 * (lo + hi)
    for _ in range(200):
        kappa = np.exp(u)
        ratio = lam / (lam + kappa[:, None])
        h = (m * ratio).sum(1) + ridge / kappa - n
        lo, hi = np.where(h > 0, u, lo), np.where(h > 0, hi, u)
        dh = -(m * ratio * (1 - ratio)).sum(1) - ridge / kappa  # dh/du < 0
        u_new = u - h / dh
        outside = ~((u_new > lo) & (u_new < hi))
        u_new = np.where(outside, 0.5 * (lo + hi), u_new)
        if np.all(np.abs(u_new - u) <= 1e-15 * np.maximum(1.0, np.abs(u))):
            return np.exp(u_new)
        u = u_new
    return np.exp(u)


def solve_kappa(eigenvalues, n, multiplicities=None, ridge=0.0):
    """κ solving Σ_i m_i λ_i/(λ_i + κ) + ridge/κ = n (Simon et al. 2021, eigenlearning equations).

    eigenvalues: λ_i ≥ 0 of K/M (Simon et al. 2021); multiplicities m_i (default 1); ridge ≥ 0 is added to the
    n × n train kernel matrix, f̂ = K(x,D)(K(D,D) + ridge·I)^{-1} f(D) (see the module docstring).
    n: a number or 1-D array of training-set sizes (non-integer n is allowed for smooth curves).
    Returns a float (or array) κ ∈ (0, ∞). Exact limits: n = 0 → κ = ∞ (every L_i = 0); ridge = 0 and
    n = number of modes with λ_i > 0 (n = M for a positive-definite kernel) → κ = 0 (every L_i = 1).
    Raises ValueError for n < 0, and for n above that number when ridge = 0 (no solution exists).
    The left side is strictly decreasing in κ, so the root is unique; it is found by Newton steps on log κ
    kept inside a bisection bracket, to relative precision ~1e-15.
    """
    lam, m, ridge = _spectrum(eigenvalues, multiplicities, ridge)
    try:
        n_arr = np.asarray(n, dtype=np.float64)
    except (TypeError, ValueError):
        raise TypeError(f"n must be a number ≥ 0 or a 1-D array of them, got {type(n).__name__}") from None
    if n_arr.ndim > 1 or not np.isfinite(n_arr).all() or (n_arr < 0).any():
        raise ValueError(f"n must be a finite number ≥ 0 or a 1-D array of them, got {n!r}")
    flat = np.atleast_1d(n_arr)
    n_modes = float(m[lam > 0].sum())
    if ridge == 0 and (flat > n_modes * (1 + 1e-12)).any():
        raise ValueError(
            f"ridgeless κ needs n ≤ {n_modes:g} (the number of modes with λ > 0); got n = {flat.max():g}. "
            "Use ridge > 0 or more eigenvalues."
        )
    kappa = np.full(flat.shape, np.inf)
    if ridge == 0:
        kappa[flat >= n_modes * (1 - 1e-12)] = 0.0
    solve = (flat > 0) & ~(kappa == 0)
    if solve.any():
        positive = lam > 0  # zero modes add nothing to Σ m λ/(λ+κ)
        kappa[solve] = _kappa_newton(lam[positive], m[positive], ridge, flat[solve])
    return float(kappa[0]) if n_arr.ndim == 0 else kappa


def learnability(eigenvalues, n, multiplicities=None, ridge=0.0):
    """Predicted mode learnabilities L_i = λ_i/(λ_i + κ) ∈ [0, 1] (Simon et al. 2021).

    Arguments as in `solve_kappa`. Returns shape (len(eigenvalues),) for scalar n, (len(n), len(eigenvalues))
    for an array of n. Ridgeless, Σ_i m_i L_i = n (the conservation law of Simon et al. 2021); κ = ∞ gives 0 and
    κ = 0 gives 1 for every λ_i > 0 (0 for λ_i = 0).
    """
    lam, _, _ = _spectrum(eigenvalues, multiplicities, ridge)
    kappa = np.asarray(solve_kappa(eigenvalues, n, multiplicities, ridge))
    k = kappa[..., None]
    with np.errstate(invalid="ignore", divide="ignore"):
        L = np.where(np.isinf(k), 0.0, lam / (lam + k))
    return np.where(lam > 0, L, 0.0)


def predicted_mse(eigenvalues, target_coefficients, n, multiplicities=None, ridge=0.0, noise=0.0):
    """Predicted test MSE E = E_0 (Σ_i (1 − L_i)² v_i² + ε²), E_0 = n/(n − Σ_i m_i L_i²) (Simon et al. 2021).

    target_coefficients v_i: the target's eigencoefficients ⟨φ_i, f⟩ (Simon et al. 2021); with
    multiplicities, v_i² must be the target's total power in level i (see `EigenSystem.level_power`).
    noise: the label-noise variance ε² (added to training labels). As in the paper, the ε² inside the bracket
    makes E the error against noisy test labels; the error against the clean target is E − ε².
    Returns a float (or an array for an array of n); n = 0 gives ⟨f, f⟩ + ε², and E_0 = ∞ at the ridgeless
    interpolation point Σ m L² = n gives ∞ unless the bracket is 0.
    """
    v2 = np.asarray(torch.as_tensor(target_coefficients).detach().cpu(), dtype=np.float64) ** 2
    lam, m, _ = _spectrum(eigenvalues, multiplicities, ridge)
    if v2.shape != lam.shape or not np.isfinite(v2).all():
        raise ValueError("target_coefficients must be finite and have the shape of eigenvalues")
    noise = check_finite_number(noise, "noise (a variance)", minimum=0)
    L = learnability(eigenvalues, n, multiplicities, ridge)
    n_arr = np.asarray(n, dtype=np.float64)
    bracket = ((1 - L) ** 2 * v2).sum(-1) + noise
    denominator = n_arr - (m * L**2).sum(-1)
    with np.errstate(invalid="ignore", divide="ignore"):
        e0 = np.where(denominator <= 1e-12 * np.maximum(n_arr, 1), np.inf, n_arr / denominator)
        e0 = np.where(n_arr == 0, 1.0, e0)
        mse = np.where(bracket == 0, 0.0, e0 * bracket)
    return float(mse) if n_arr.ndim == 0 else mse


def _train_index(train_idx, M, device):
    idx = torch.as_tensor(train_idx, device=device).long().reshape(-1)
    if idx.numel() == 0 or idx.min() < 0 or idx.max() >= M or torch.unique(idx).numel() != idx.numel():
        raise ValueError(f"train_idx must hold distinct indices in [0, {M}) (at least one)")
    return idx


def target_values(target, M: int, device) -> torch.Tensor:
    """A target's values on the M domain points as float64 on ``device``, shape (M,) or (M, T): finite and not
    identically zero (else ValueError)."""
    f = torch.as_tensor(target, dtype=torch.float64, device=device)
    if f.dim() not in (1, 2) or f.shape[0] != M or not torch.isfinite(f).all():
        raise ValueError(f"target must hold finite values on the M = {M} domain points, shape (M,) or (M, T)")
    if (f.reshape(M, -1).abs().sum(0) == 0).any():
        raise ValueError("target must not be identically zero (its learnability ⟨f, f̂⟩/⟨f, f⟩ is undefined)")
    return f


def _check_ridge(ridge):
    return check_finite_number(ridge, "ridge (added to K(D, D)'s diagonal)", minimum=0)


def kernel_regression(K, train_idx, y_train, ridge=0.0) -> torch.Tensor:
    """Kernel regression predictor on every domain point: f̂ = K(·, D)(K(D, D) + ridge·I)^{-1} y (Simon et al. 2021).

    K: (M, M) kernel matrix on the domain; train_idx: n distinct row indices; y_train: (n,) or (n, T).
    """
    K, ridge = as_kernel_matrix(K), _check_ridge(ridge)
    idx = _train_index(train_idx, K.shape[0], K.device)
    y = torch.as_tensor(y_train, dtype=torch.float64, device=K.device)
    if y.shape[0] != idx.numel():
        raise ValueError(f"y_train must have {idx.numel()} rows (one per training index), got {tuple(y.shape)}")
    if not bool(torch.isfinite(y).all()):
        raise ValueError("y_train contains NaN or inf values")
    K_DD = K[idx][:, idx] + ridge * torch.eye(idx.numel(), dtype=K.dtype, device=K.device)
    return K[:, idx] @ torch.linalg.solve(K_DD, y)


def d_learnability(K, target, train_idx, ridge=0.0):
    """D-learnability L^(D)(f) = ⟨f, f̂⟩/⟨f, f⟩ for one training set D (Simon et al. 2021).

    target: values of f on the domain, (M,) → float, or (M, T) → (T,) tensor.
    """
    K = as_kernel_matrix(K)
    f = target_values(target, K.shape[0], K.device)
    idx = _train_index(train_idx, K.shape[0], K.device)
    f_hat = kernel_regression(K, idx, f[idx], ridge)
    L = (f * f_hat).sum(0) / (f * f).sum(0)
    return float(L) if L.dim() == 0 else L


def transfer_matrix(K, domain: Domain, train_idx, ridge=0.0, eigsys=None) -> torch.Tensor:
    """Learning transfer matrix T^(D) = Λ Φ(D) (Φ(D)ᵀ Λ Φ(D) + ridge·I)^{-1} Φ(D)ᵀ (Simon et al. 2021).

    In the eigenbasis of `eigensystem(K, domain)` (same order; pass `eigsys` to reuse one), the coefficients of
    the predictor are v̂ = T v, T_ii is the D-learnability of φ_i, and ridgeless tr T = n exactly
    (the conservation law of Simon et al. 2021). Φ(D)_ij = φ_i(x_j) is M × n. Returns an (M, M) tensor.
    """
    ridge, domain = _check_ridge(ridge), check_domain(domain)
    sys = eigensystem(K, domain) if eigsys is None else eigsys
    if sys.domain.M != domain.M:
        raise ValueError(f"eigsys has {sys.domain.M} points but the domain has {domain.M}")
    idx = _train_index(train_idx, domain.M, sys.eigenfunctions.device)
    phi_D = sys.eigenfunctions[idx].T  # (M, n)
    lam_phi = sys.eigenvalues[:, None] * phi_D
    gram = phi_D.T @ lam_phi + ridge * torch.eye(idx.numel(), dtype=torch.float64, device=phi_D.device)
    return lam_phi @ torch.linalg.solve(gram, phi_D.T)


def random_train_sets(M, n, trials, seed=0) -> torch.Tensor:
    """(trials, n) long tensor: each row n distinct indices drawn uniformly from range(M) without replacement.

    Drawn with numpy.random.default_rng(seed), so equal arguments give equal training sets (kernel and network
    measurements of the same D can be compared trial by trial).
    """
    if isinstance(M, bool) or not isinstance(M, (int, np.integer)):
        raise TypeError(f"M (the number of domain points) must be an integer, got {type(M).__name__}")
    seed = check_seed(seed)
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or not 1 <= n <= M:
        raise ValueError(f"n must be an integer in [1, M = {M}], got {n!r}")
    if isinstance(trials, bool) or not isinstance(trials, (int, np.integer)) or trials < 2:
        raise ValueError(f"trials must be an integer ≥ 2 (for a standard error), got {trials!r}")
    rng = np.random.default_rng(seed)
    return torch.as_tensor(np.argsort(rng.random((trials, M)), axis=1)[:, :n])


def empirical_learnability(K, domain: Domain, target, n, trials=200, ridge=0.0, seed=0):
    """Mean and standard error of the D-learnability ⟨f, f̂⟩/⟨f, f⟩ over random training sets (Simon et al.
    2021).

    Each of `trials` training sets is n domain points drawn uniformly without replacement (numpy generator
    seeded by `seed`); f̂ is the kernel (ridge) regression predictor over the whole domain. target: values of f
    on domain.x, (M,) or (M, T), or a callable f(x) of the (M, d) points. Returns (mean, stderr) as floats, or
    (T,) tensors for T targets; stderr = sample std / sqrt(trials).
    """
    K, ridge, M = as_kernel_matrix(K, check_domain(domain).M), _check_ridge(ridge), domain.M
    if callable(target):
        target = target(domain.x.to(K.device))
    f = target_values(target, M, K.device)
    f2 = f.reshape(M, -1)
    idx = random_train_sets(M, n, trials, seed).to(K.device)
    K_DD = K[idx[:, :, None], idx[:, None, :]] + ridge * torch.eye(n, dtype=K.dtype, device=K.device)
    alpha = torch.linalg.solve(K_DD, f2[idx])  # (trials, n, T)
    Kf = K @ f2  # ⟨f, f̂⟩ ∝ fᵀ K(·, D) α = (K f)(D) · α
    samples = (Kf[idx] * alpha).sum(1) / (f2 * f2).sum(0)
    mean, stderr = samples.mean(0), samples.std(0) / math.sqrt(trials)
    if f.dim() == 1:
        return float(mean[0]), float(stderr[0])
    return mean, stderr
