"""Per-sample losses ℓ(f(x_i), y_i) and their output gradients for the training engine.

The training loss is always the mean L = (1/N) Σ_i ℓ(f(x_i), y_i); the engine applies the 1/N.
* "mse": ℓ = ½‖f − y‖², ∇_f ℓ = f − y (Y. Chen, "Linearized Networks", eq. (7)).
* "cross_entropy" with one output: logistic loss ℓ = log(1 + e^{−y f}) for labels y ∈ {−1, +1},
  ∇_f ℓ = −y σ(−y f).  With O ≥ 2 outputs: softmax cross-entropy ℓ = −Σ_o p_o log softmax(f)_o for
  class indices (N,) or probability rows (N, O), ∇_f ℓ = softmax(f) − p.
The linearized model follows the same ODE with Θ_0 (Sutherland's NTK slides, "Other loss functions"); there is
no closed form.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F

LOSSES = ("mse", "cross_entropy")


class Loss:
    """``value(f, targets)`` → mean loss (0-d tensor); ``gradient(f, targets)`` → ∇_f ℓ per sample (N, O)."""

    def __init__(self, name: str, out_dim: int):
        if name not in LOSSES:
            raise ValueError(f"loss must be one of {LOSSES}, got {name!r}")
        self.name, self.out_dim = name, out_dim
        self.kind = "mse" if name == "mse" else ("logistic" if out_dim == 1 else "softmax")

    def targets(self, y: torch.Tensor, n: int) -> torch.Tensor:
        """Validates y and returns the internal (N, O) target tensor."""
        o = self.out_dim
        if self.kind == "softmax" and y.shape == (n,):
            labels = y.round().long()
            if not torch.equal(labels.to(y.dtype), y) or labels.min() < 0 or labels.max() >= o:
                raise ValueError(f"y_train class indices must be integers in [0, {o}), got {y.unique()[:8].tolist()}")
            return F.one_hot(labels, o).to(y.dtype)
        if y.shape == (n,) and o == 1:
            y = y[:, None]
        if y.shape != (n, o):
            raise ValueError(f"y_train must have shape ({n},) or ({n}, {o}) for a model with out_dim={o}, "
                             f"got {tuple(y.shape)}")
        if self.kind == "logistic" and not bool(((y == 1) | (y == -1)).all()):
            raise ValueError("loss='cross_entropy' with one output needs labels y ∈ {−1, +1}")
        if self.kind == "softmax" and not (bool((y >= 0).all()) and torch.allclose(y.sum(1), torch.ones_like(y[:, 0]))):
            raise ValueError("loss='cross_entropy' needs class indices (N,) or probability rows (N, O) summing to 1")
        return y

    def value(self, f: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        if self.kind == "mse":  # ½ Σ (f − y)² / N in one fused op (called twice per training step)
            return F.mse_loss(f, y, reduction="sum") * (0.5 / f.shape[0])
        if self.kind == "logistic":
            return F.softplus(-y * f).sum() / f.shape[0]
        return -(y * torch.log_softmax(f, dim=1)).sum() / f.shape[0]

    def gradient(self, f: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        if self.kind == "mse":
            return f - y
        if self.kind == "logistic":
            return -y * torch.sigmoid(-y * f)
        return torch.softmax(f, dim=1) - y
