"""Centered kernel–target alignment (Cortes, Mohri & Rostamizadeh 2012, "Algorithms for Learning Kernels Based on
Centered Alignment", JMLR 13, 2012, the centered alignment of two kernel matrices):

    A(K, Y) = ⟨K_c, (YYᵀ)_c⟩_F / (‖K_c‖_F ‖(YYᵀ)_c‖_F),      M_c = H M H,  H = I − 11ᵀ/N,

the cosine between the centered kernel matrix and the centered ideal kernel YYᵀ: 1 when the kernel sees only the
target's direction, ≈ 0 for a kernel blind to it.  A growing alignment during training is a signature of feature
learning (the "rich" regime); in the lazy regime Θ_t ≈ Θ_0 and the alignment stays put.

Vector outputs: an NTK of shape (N, N, O, O) enters through its trace over outputs Σ_o Θ[:, :, o, o] (N, N),
and targets Y of shape (N, O) (e.g. one-hot rows) through YYᵀ = Σ_o y_o y_oᵀ; for Θ ⊗ I_O this is O·Θ, and the
alignment is unchanged by that factor.
"""
from __future__ import annotations

import numpy as np
import torch

__all__ = ["centered_alignment", "output_trace"]


def _tensor(value, name) -> torch.Tensor:
    if isinstance(value, torch.Tensor):
        return value.detach().to(torch.float64)
    try:
        return torch.as_tensor(np.asarray(value, dtype=np.float64))
    except (TypeError, ValueError) as error:
        raise TypeError(f"{name} must be a tensor or an array of numbers: {error}"[:300]) from None


def output_trace(kernel) -> torch.Tensor:
    """An (N, N) kernel from one of shape (N, N) or (N, N, O, O) (the sum over the diagonal output pairs)."""
    k = _tensor(kernel, "kernel")
    if k.ndim == 4 and k.shape[0] == k.shape[1] and k.shape[2] == k.shape[3]:
        return torch.diagonal(k, dim1=2, dim2=3).sum(-1)
    if k.ndim != 2 or k.shape[0] != k.shape[1]:
        raise ValueError(f"kernel must be square with shape (N, N) or (N, N, O, O), got {tuple(k.shape)}")
    return k


def centered_alignment(kernel, targets) -> float:
    """A(K, Y) of the definition above for a kernel (N, N) or (N, N, O, O) and targets (N,) or (N, O).
    NaN when the centered kernel or the centered targets vanish (e.g. one class only)."""
    k = output_trace(kernel)
    y = _tensor(targets, "targets")
    y = y[:, None] if y.ndim == 1 else y
    if y.ndim != 2 or y.shape[0] != k.shape[0]:
        raise ValueError(f"targets must have shape ({k.shape[0]},) or ({k.shape[0]}, O), got {tuple(y.shape)}")
    if not (bool(torch.isfinite(k).all()) and bool(torch.isfinite(y).all())):
        raise ValueError("kernel and targets must be finite")
    y = y.to(k.device)
    kc = k - k.mean(0, keepdim=True) - k.mean(1, keepdim=True) + k.mean()  # H K H
    yc = y - y.mean(0, keepdim=True)  # H Y, so H YYᵀ H = (HY)(HY)ᵀ
    inner = torch.sum(yc * (kc @ yc))  # ⟨HKH, HY(HY)ᵀ⟩_F = tr((HY)ᵀ HKH HY)
    norm_y = torch.linalg.matrix_norm(yc.T @ yc)  # ‖(HY)(HY)ᵀ‖_F = ‖(HY)ᵀ(HY)‖_F
    denominator = float(torch.linalg.matrix_norm(kc) * norm_y)
    return float(inner) / denominator if denominator > 0 else float("nan")
