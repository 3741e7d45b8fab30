"""Closed-form training dynamics of the linearized model under MSE (Lee et al. 2019;
Y. Chen, "Linearized Networks", eqs. (9), (15), (19); Sutherland's NTK slides "Recap of overall theory" and "Kernel
'ridgeless' regression").

Conventions (as everywhere in ntk_explorer): loss L(θ) = (1/N) Σ_i ½‖f(x_i) − y_i‖² over N training points,
gradient descent θ ← θ − lr·∇L.  The linearized model then moves in function space exactly as

    f ← f − (lr/N) Θ_0(·, X) (f(X) − Y),

so on the training set  f_t − Y = (I − lr Θ/N)^t (f_0 − Y)  (discrete GD, t steps) and
f_t − Y = e^{−lr t Θ/N} (f_0 − Y)  (gradient flow for a time lr·t, Chen eq. (15)), and at any input
f_t(x) = f_0(x) − Θ(x, X) Θ^{−1} (I − A_t) (f_0(X) − Y)  with A_t the decay above (Chen eq. (19)).
As t → ∞ this is kernel regression k(x) K^{−1} (Y − f_0) + f_0(x) (Sutherland's slides).

Vector outputs: kernels of shape (N, N, O, O) (as returned by ``empirical_ntk``) are flattened to an
(N·O) × (N·O) matrix with the index (i, a) ↦ i·O + a (Chen eq. (4); Sutherland's slide "Vector outputs"); targets
are (N,) for one output or (N, O).  N in lr/N is always the number of points.
"""
from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np
import torch

from ..validation import check_bool

__all__ = ["CriticalLearningRates", "critical_learning_rates", "gd_mse_predictor", "kernel_matrix",
           "kernel_regression_operator", "linearized_loss_curve"]


class CriticalLearningRates(NamedTuple):
    """converge = 2N/(λ_min + λ_max): the rate that contracts the slowest and fastest modes equally (the
    optimal constant rate); it is Lee et al. 2019's η_critical = 2/(λ_min + λ_max) (Theorem 2.1), times N
    because of the 1/N in our loss.  diverge = 2N/λ_max: above it the top eigenmode of the linearized model
    grows as |1 − lr λ_max/N|^t and GD diverges (the standard stability limit of GD on a quadratic; Lee et
    al. give only 2/(λ_min + λ_max))."""
    converge: float
    diverge: float


def _as_tensor(value, name: str, dtype=torch.float64, device=None) -> torch.Tensor:
    if isinstance(value, torch.Tensor):
        return value.detach().to(dtype=dtype, device=device if device is not None else value.device)
    try:
        return torch.as_tensor(np.asarray(value, dtype=np.float64), dtype=dtype, device=device)
    except (TypeError, ValueError) as error:
        raise TypeError(f"{name} must be a tensor or array of numbers: {error}") from None


def kernel_matrix(kernel, name: str = "kernel", device=None, dtype=torch.float64) -> tuple[torch.Tensor, int, int]:
    """Flattens a kernel (N1, N2) or (N1, N2, O, O) to (N1·O, N2·O); returns (matrix, N1, O)."""
    k = _as_tensor(kernel, name, dtype=dtype, device=device)
    if k.ndim == 2:
        return k, k.shape[0], 1
    if k.ndim == 4 and k.shape[2] == k.shape[3]:
        n1, n2, o, _ = k.shape
        return k.permute(0, 2, 1, 3).reshape(n1 * o, n2 * o), n1, o
    raise ValueError(f"{name} must have shape (N1, N2) or (N1, N2, O, O), got {tuple(k.shape)}")


def _train_kernel(k_train_train) -> tuple[torch.Tensor, int, int]:
    k, n, o = kernel_matrix(k_train_train, "k_train_train")
    if k.shape[0] != k.shape[1]:
        raise ValueError(f"k_train_train must be square over the training set, got {tuple(k.shape)}")
    if not torch.isfinite(k).all():
        raise ValueError("k_train_train contains non-finite values")
    return 0.5 * (k + k.T), n, o


def critical_learning_rates(k_train_train) -> CriticalLearningRates:
    """Critical learning rates of GD on L = (1/N) Σ ½‖f − y‖² for the linearized model with NTK
    k_train_train (N × N or (N, N, O, O)); see :class:`CriticalLearningRates` (Lee et al. 2019)."""
    k, n, _ = _train_kernel(k_train_train)
    eigenvalues = torch.linalg.eigvalsh(k)
    lam_min, lam_max = float(eigenvalues[0].clamp_min(0.0)), float(eigenvalues[-1])
    if not lam_max > 0:
        raise ValueError("k_train_train has no positive eigenvalue; the kernel is zero")
    return CriticalLearningRates(converge=2 * n / (lam_min + lam_max), diverge=2 * n / lam_max)


def check_learning_rate(lr) -> float:
    if isinstance(lr, bool) or not isinstance(lr, (int, float, np.number)) or not math.isfinite(lr) or lr <= 0:
        raise ValueError(f"lr must be a positive finite number, got {lr!r}")
    return float(lr)


def _check_time(t, flow: bool) -> float:
    if isinstance(t, (str, bytes)):
        raise TypeError(f"t must be a number of steps (or math.inf), got {type(t).__name__}")
    t = float(t)
    if math.isnan(t) or t < 0:
        raise ValueError(f"t must be ≥ 0 (or math.inf), got {t}")
    if not flow and math.isfinite(t) and not t.is_integer():
        raise ValueError(f"t counts GD steps and must be an integer for flow=False, got {t}")
    return t


def _mode_factors(eigenvalues, lr: float, n: int, t: float, flow: bool, cutoff: float):
    """Per eigenmode λ: decay A_t(λ) and g_t(λ) = (1 − A_t(λ))/λ = (lr/N) Σ_{s<t} (1 − lr λ/N)^s
    (or its flow version), computed without cancellation for small λ."""
    rate = lr / n
    z = rate * eigenvalues
    if math.isinf(t):
        if not flow and bool((z >= 2).any()):
            raise ValueError(f"GD diverges as t → ∞: lr = {lr:.6g} ≥ 2N/λ_max = "
                             f"{2 * n / float(eigenvalues.max()):.6g}; lower lr")
        live = eigenvalues > cutoff
        decay = torch.where(live, torch.zeros_like(z), torch.ones_like(z))
        return decay, torch.where(live, 1.0 / eigenvalues.where(live, torch.ones_like(z)), 0.0 * z)
    if flow:
        log_decay = -z * t
    else:
        small = z < 1
        log_decay = torch.where(small, t * torch.log1p(-z.where(small, torch.zeros_like(z))), 0.0 * z)
    decay = torch.exp(log_decay)
    one_minus = -torch.expm1(log_decay)
    if not flow:
        big = z >= 1
        decay = torch.where(big, (1 - z) ** int(t), decay)
        one_minus = torch.where(big, 1 - decay, one_minus)
    nonzero = eigenvalues != 0
    g = torch.where(nonzero, one_minus / eigenvalues.where(nonzero, torch.ones_like(z)), rate * t)
    return decay, g


def _flatten_targets(values, name: str, n: int, o: int, device) -> torch.Tensor:
    v = _as_tensor(values, name, device=device)
    if tuple(v.shape) not in ({(n,), (n, 1)} if o == 1 else {(n, o)}):
        raise ValueError(f"{name} must have shape ({n},) or ({n}, {o}), got {tuple(v.shape)}")
    if not bool(torch.isfinite(v).all()):
        raise ValueError(f"{name} contains NaN or inf values")
    return v.reshape(-1)


def gd_mse_predictor(k_train_train, y_train, lr: float, *, flow: bool = False):
    """Closed-form f^lin_t under MSE for any t (Lee et al. 2019; Chen eqs. (9), (15), (19)).

    Returns ``predict(t, f0_train, f0_eval=None, k_eval_train=None) -> (f_train_t, f_eval_t)``:
    discrete GD after t steps, f_t − Y = (I − lr Θ/N)^t (f_0 − Y), or gradient flow (flow=True) for a
    time lr·t, f_t − Y = e^{−lr t Θ/N} (f_0 − Y); t = math.inf gives the converged kernel regression
    f_∞(x) = f_0(x) + Θ(x, X) Θ^{−1} (Y − f_0(X)) (eigenmodes below N·O·eps·λ_max are treated as the
    null space, i.e. a pseudo-inverse).  ``f_eval_t`` is None unless f0_eval and k_eval_train (shape
    (M, N) or (M, N, O, O)) are given.  Θ = k_train_train is diagonalised once; each call costs O((N·O)²).
    Outputs are float64 tensors shaped like y_train ((N,) or (N, O)), numpy arrays if f0_train is one.
    """
    k, n, o = _train_kernel(k_train_train)
    lr = check_learning_rate(lr)
    flow = check_bool(flow, "flow")
    y = _flatten_targets(y_train, "y_train", n, o, k.device)
    eigenvalues, vectors = torch.linalg.eigh(k)
    cutoff = k.shape[0] * torch.finfo(k.dtype).eps * float(eigenvalues.abs().max())
    y_shape = tuple(_as_tensor(y_train, "y_train").shape)

    def predict(t, f0_train, f0_eval=None, k_eval_train=None):
        decay, g = _mode_factors(eigenvalues, float(lr), n, _check_time(t, flow), flow, cutoff)
        residual = vectors.T @ (_flatten_targets(f0_train, "f0_train", n, o, k.device) - y)
        f_train = (y + vectors @ (decay * residual)).reshape(y_shape)
        f_eval = None
        if (f0_eval is None) != (k_eval_train is None):
            raise ValueError("give both f0_eval and k_eval_train, or neither")
        if f0_eval is not None:
            k_eval, m, o_eval = kernel_matrix(k_eval_train, "k_eval_train", device=k.device)
            if o_eval != o or k_eval.shape[1] != n * o:
                raise ValueError(f"k_eval_train must have shape (M, {n}) or (M, {n}, {o}, {o}), "
                                 f"got {tuple(_as_tensor(k_eval_train, 'k_eval_train').shape)}")
            f0 = _flatten_targets(f0_eval, "f0_eval", m, o, k.device)
            f_eval = (f0 - k_eval @ (vectors @ (g * residual))).reshape((m,) if len(y_shape) == 1 else (m, o))
        if isinstance(f0_train, np.ndarray):
            return f_train.cpu().numpy(), None if f_eval is None else f_eval.cpu().numpy()
        return f_train, f_eval

    predict.eigenvalues = eigenvalues
    return predict


def kernel_regression_operator(k_train_train, k_eval_train, lr: float, t, *, flow: bool = False):
    """The matrix B_t = Θ(E, X) Θ^{−1} (I − A_t) ((M·O) × (N·O)) with f^lin_t(E) = f_0(E) + B_t (Y − f_0(X)),
    A_t = (I − lr Θ/N)^t (GD) or e^{−lr t Θ/N} (flow); t = math.inf gives Θ(E, X) Θ^{−1} (Chen eq. (19))."""
    k, n, o = _train_kernel(k_train_train)
    flow = check_bool(flow, "flow")
    k_eval, _, o_eval = kernel_matrix(k_eval_train, "k_eval_train", device=k.device)
    if o_eval != o or k_eval.shape[1] != n * o:
        raise ValueError(f"k_eval_train must have shape (M, {n}) or (M, {n}, {o}, {o}), got {tuple(k_eval.shape)}")
    eigenvalues, vectors = torch.linalg.eigh(k)
    cutoff = k.shape[0] * torch.finfo(k.dtype).eps * float(eigenvalues.abs().max())
    _, g = _mode_factors(eigenvalues, check_learning_rate(lr), n, _check_time(t, flow), flow, cutoff)
    return (k_eval @ vectors) * g @ vectors.T


def linearized_loss_curve(k_train_train, f0_train, y_train, lr: float, steps: int, *, flow: bool = False) -> np.ndarray:
    """Training loss L_t = (1/N) Σ_i ½‖f^lin_t(x_i) − y_i‖² of the linearized model for t = 0, 1, …, steps.

    In the eigenbasis Θ = Σ_i λ_i u_i u_iᵀ of k_train_train the residual decouples (Y. Chen, "Linearized
    Networks", eqs. (9), (15); module docstring): L_t = (1/2N) Σ_i A_t(λ_i)² (u_iᵀ(f_0 − Y))² with
    A_t(λ) = (1 − lr λ/N)^t for discrete GD and e^{−lr λ t/N} for gradient flow over the time lr·t (flow=True).
    Returns a float64 array of shape (steps + 1,); with lr above 2N/λ_max the GD curve grows (no error is raised).
    """
    k, n, o = _train_kernel(k_train_train)
    lr, flow = check_learning_rate(lr), check_bool(flow, "flow")
    if isinstance(steps, bool) or not isinstance(steps, (int, np.integer)) or steps < 0:
        raise ValueError(f"steps must be an integer ≥ 0, got {steps!r}")
    y = _flatten_targets(y_train, "y_train", n, o, k.device)
    residual = _flatten_targets(f0_train, "f0_train", n, o, k.device) - y
    eigenvalues, vectors = torch.linalg.eigh(k)
    power = (vectors.T @ residual) ** 2  # (u_iᵀ r_0)²
    t = torch.arange(int(steps) + 1, dtype=k.dtype, device=k.device)[:, None]
    z = lr * eigenvalues / n
    decay = torch.exp(-z * t) if flow else (1 - z) ** t
    return ((decay**2 * power).sum(1) / (2 * n)).cpu().numpy()
