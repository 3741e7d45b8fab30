"""Block structure of the NTK of a network with O outputs.

The empirical NTK of f: R^d → R^O is a kernel of shape (N1, N2, O, O) with blocks Θ_{oo'}(x, x') =
∇_θ f_o(x)·∇_θ f_o'(x') (Y. Chen, "Linearized Networks", eqs. 3–4).  In the infinite-width limit it becomes
Θ_∞ ⊗ I_O (Jacot, Gabriel & Hongler 2018, Theorems 1–2): the off-diagonal blocks vanish and every diagonal block
is the same scalar kernel, so kernel regression splits into O independent regressions with one N × N kernel
(D. J. Sutherland, "Neural Tangent Kernels, Finite and Infinite": "Computing empirical NTKs").  At finite width
both statements hold up to O(1/√width) fluctuations.  The pseudo-NTK of Mohamadi, Bae & Sutherland 2023 is the
NTK of g = Σ_o f_o/√O (``empirical_ntk(..., pseudo=True)``), i.e. Θ̃ = (1/O) Σ_{o,o'} Θ_{oo'}; they show that
Θ̃ ⊗ I_O approximates the full kernel with an error O(1/√width).

Flattening convention (as in ``ntk_explorer.dynamics.kernel_matrix``): index (i, o) ↦ i·O + o, so K ⊗ I_O is
``torch.kron(K, I_O)``.
"""
from __future__ import annotations

from typing import NamedTuple

import torch

__all__ = ["OutputBlocks", "output_blocks", "kron_identity", "kronecker_error", "pseudo_from_full"]


def _vector_kernel(theta, name="theta") -> torch.Tensor:
    t = torch.as_tensor(theta).detach()
    if t.dim() != 4 or t.shape[2] != t.shape[3] or t.shape[2] < 2:
        raise ValueError(f"{name} must have shape (N1, N2, O, O) with O ≥ 2 outputs, got {tuple(t.shape)}")
    if not bool(torch.isfinite(t).all()):
        raise ValueError(f"{name} contains NaN or inf values")
    return t.to(torch.float64)


class OutputBlocks(NamedTuple):
    """``mean_diagonal`` (N1, N2): (1/O) Σ_o Θ_oo; ``off_diagonal``: ‖off-diagonal blocks‖_F / ‖diagonal blocks‖_F;
    ``diagonal_spread``: ‖Θ_oo − mean_diagonal‖_F (over all o) / ‖diagonal blocks‖_F.  Both ratios are 0 for
    Θ ⊗ I_O."""
    mean_diagonal: torch.Tensor
    off_diagonal: float
    diagonal_spread: float


def output_blocks(theta) -> OutputBlocks:
    """Splits a vector-output kernel (N1, N2, O, O) into its diagonal and off-diagonal output blocks."""
    t = _vector_kernel(theta)
    eye = torch.eye(t.shape[2], dtype=torch.bool, device=t.device)
    diagonal = torch.diagonal(t, dim1=2, dim2=3)  # (N1, N2, O)
    mean = diagonal.mean(2)
    diag_norm = torch.linalg.norm(diagonal)
    off = torch.linalg.norm(t[:, :, ~eye])
    spread = torch.linalg.norm(diagonal - mean[:, :, None])
    return OutputBlocks(mean, float(off / diag_norm), float(spread / diag_norm))


def kron_identity(kernel, out_dim: int) -> torch.Tensor:
    """K ⊗ I_O as a (N1, N2, O, O) kernel: entry [i, j, o, o'] = K(x_i, x_j) δ_oo' (flattened: torch.kron(K, I))."""
    k = torch.as_tensor(kernel).detach().to(torch.float64)
    if k.dim() != 2:
        raise ValueError(f"kernel must have shape (N1, N2), got {tuple(k.shape)}")
    if isinstance(out_dim, bool) or not isinstance(out_dim, int) or out_dim < 1:
        raise ValueError(f"out_dim must be an integer ≥ 1, got {out_dim!r}")
    return k[:, :, None, None] * torch.eye(out_dim, dtype=k.dtype, device=k.device)


def kronecker_error(theta, kernel) -> float:
    """Relative Frobenius distance ‖Θ − K ⊗ I_O‖_F / ‖Θ‖_F of a vector-output kernel Θ (N1, N2, O, O) from the
    Kronecker form of a scalar kernel K (N1, N2): e.g. K = the pseudo-NTK (Mohamadi et al. 2023, their Fig. 3
    measures this relative difference) or the analytic Θ_∞ (Jacot et al. 2018)."""
    t = _vector_kernel(theta)
    k = kron_identity(torch.as_tensor(kernel).to(t.device), t.shape[2])
    if k.shape != t.shape:
        raise ValueError(f"kernel has shape {tuple(k.shape[:2])} but theta has {tuple(t.shape[:2])}")
    return float(torch.linalg.norm(t - k) / torch.linalg.norm(t))


def pseudo_from_full(theta) -> torch.Tensor:
    """The pseudo-NTK from the full kernel: Θ̃ = (1/O) Σ_{o,o'} Θ_{oo'} (the NTK of Σ_o f_o/√O), shape (N1, N2)."""
    t = _vector_kernel(theta)
    return t.sum((2, 3)) / t.shape[2]
