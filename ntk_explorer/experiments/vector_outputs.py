"""Vector outputs across widths: how fast the empirical NTK of an O-output MLP approaches Θ_∞ ⊗ I_O, and how
good the pseudo-NTK is (Mohamadi, Bae & Sutherland 2023; D. J. Sutherland, "Neural Tangent Kernels, Finite and
Infinite": "Pseudo-NTK" — "the kernel, its largest eigenvalue, and kernel regression outputs all converge to the
full eNTK result at rate O(1/√m)").
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch

from ..dynamics import kernel_matrix, kernel_regression_operator
from ..kernels import analytic_kernels, empirical_ntk
from ..kernels.vector_outputs import kronecker_error, output_blocks
from ..models import MLP
from ..validation import as_inputs, check_count
from .config import check_seeds, check_widths
from .sweeps import fit_slope

__all__ = ["PSEUDO_METRICS", "PseudoNTKSweep", "pseudo_ntk_sweep", "kernel_regression_predictions"]

PSEUDO_METRICS = ("off_diagonal", "pseudo_error", "lambda_max_error", "prediction_error", "analytic_error")


def kernel_regression_predictions(k_train_train, k_eval_train, y_train) -> torch.Tensor:
    """Kernel regression Θ(E, X) Θ(X, X)^{-1} Y for a scalar kernel ((N, N), (M, N); Y (N, O): one regression per
    output column, i.e. the kernel Θ ⊗ I_O) or a vector kernel ((N, N, O, O), (M, N, O, O); Y (N, O)).
    Returns (M, O).  Pseudo-inverse below N·O·eps·λ_max, as ``kernel_regression_operator`` at t = ∞."""
    y = torch.as_tensor(y_train, dtype=torch.float64)
    if y.dim() != 2:
        raise ValueError(f"y_train must have shape (N, O), got {tuple(y.shape)}")
    B = kernel_regression_operator(k_train_train, k_eval_train, 1.0, math.inf)  # (M, N) or (M·O, N·O)
    y = y.to(B.device)
    if B.shape[1] == y.shape[0]:  # scalar kernel: the same N × N regression for every output column
        return B @ y
    return (B @ y.reshape(-1)).reshape(-1, y.shape[1])


@dataclass(frozen=True, eq=False)
class PseudoNTKSweep:
    """``values[metric]``: (W, S) arrays per width and seed for the metrics of ``PSEUDO_METRICS``:
    off_diagonal = ‖off-diagonal output blocks‖_F/‖diagonal blocks‖_F of Θ̂(X, X); pseudo_error =
    ‖Θ̂ − Θ̃ ⊗ I‖_F/‖Θ̂‖_F (Θ̃ the pseudo-NTK); lambda_max_error = |λ_max(Θ̃) − λ_max(Θ̂)|/λ_max(Θ̂) (λ of the
    (N·O)² matrix and of the N² matrix); prediction_error = ‖f̂_Θ̃ − f̂_Θ̂‖_F/‖f̂_Θ̂‖_F for kernel regression of
    y_train evaluated on x_eval; analytic_error = ‖Θ̂ − Θ_∞ ⊗ I‖_F/‖Θ̂‖_F.  ``slopes[metric]``: log-log slopes."""
    widths: np.ndarray
    seeds: tuple
    out_dim: int
    values: dict
    slopes: dict

    def __str__(self) -> str:
        head = f"{'width':>7}" + "".join(f"{m:>18}" for m in PSEUDO_METRICS)
        rows = [head] + [f"{w:>7d}" + "".join(f"{np.nanmean(self.values[m][i]):>18.4g}" for m in PSEUDO_METRICS)
                         for i, w in enumerate(self.widths)]
        rows.append(f"{'slope':>7}" + "".join(f"{self.slopes[m].slope:>18.3f}" for m in PSEUDO_METRICS))
        return "\n".join(rows)


def pseudo_ntk_sweep(widths, seeds, x_train, y_train, x_eval, *, depth: int = 1, activation: str = "relu",
                     sigma_w: float = 1.0, sigma_b: float = 0.1) -> PseudoNTKSweep:
    """Measures the metrics of :class:`PseudoNTKSweep` for MLPs with O = y_train.shape[1] outputs (NTK
    parameterization, float64, CPU) at every width and seed, on the training inputs x_train (N, d) and the
    evaluation inputs x_eval (M, d)."""
    widths, seeds = check_widths(widths), check_seeds(seeds)
    x = as_inputs(x_train, "x_train", dtype=torch.float64, device="cpu")
    x_eval = as_inputs(x_eval, "x_eval", dtype=torch.float64, device="cpu", in_dim=x.shape[1])
    y = torch.as_tensor(y_train, dtype=torch.float64)
    if y.dim() != 2 or y.shape[0] != x.shape[0]:
        raise ValueError(f"y_train must have shape ({x.shape[0]}, O), got {tuple(y.shape)}")
    out_dim = check_count("the number of outputs O", y.shape[1], 2)
    analytic = analytic_kernels(x, depth=depth, activation=activation, sigma_w=sigma_w, sigma_b=sigma_b).ntk
    values = {m: np.full((len(widths), len(seeds)), np.nan) for m in PSEUDO_METRICS}
    everything = torch.cat([x, x_eval])
    n = x.shape[0]
    for i, width in enumerate(widths):
        for j, seed in enumerate(seeds):
            model = MLP(x.shape[1], int(width), depth, out_dim, activation, "ntk", sigma_w, sigma_b, seed,
                        device="cpu")
            full = empirical_ntk(model, everything, x)  # (N + M, N, O, O)
            pseudo = empirical_ntk(model, everything, x, pseudo=True)
            theta, tilde = full[:n], pseudo[:n]
            lam_full = torch.linalg.eigvalsh(kernel_matrix(theta)[0])[-1]
            lam_pseudo = torch.linalg.eigvalsh(tilde)[-1]
            f_full = kernel_regression_predictions(theta, full[n:], y)
            f_pseudo = kernel_regression_predictions(tilde, pseudo[n:], y)
            row = {"off_diagonal": output_blocks(theta).off_diagonal, "pseudo_error": kronecker_error(theta, tilde),
                   "lambda_max_error": float(abs(lam_pseudo - lam_full) / lam_full),
                   "prediction_error": float(torch.linalg.norm(f_pseudo - f_full) / torch.linalg.norm(f_full)),
                   "analytic_error": kronecker_error(theta, analytic)}
            for m in PSEUDO_METRICS:
                values[m][i, j] = row[m]
    return PseudoNTKSweep(widths, seeds, out_dim, values, {m: fit_slope(widths, v) for m, v in values.items()})
