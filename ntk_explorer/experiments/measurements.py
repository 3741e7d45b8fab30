"""Measurements the lessons and panels plot: how far a finite network's NTK is from the infinite-width one, and how
far a two-layer network is from its linearization against the bound of Sutherland's slides.

Both are computed with the public API only (``empirical_ntk``, ``analytic_kernels``, ``linearize``) and return
plain numbers, so that a figure, a panel and an exercise print the same values.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch
from torch.func import functional_call

from ..data import circle_points
from ..kernels import analytic_kernels, empirical_ntk, linearize
from ..models import MLP, activation_derivative
from .config import check_seeds, check_widths

__all__ = ["SMOOTHNESS", "NTKError", "ntk_error", "ntk_errors", "two_layer_gaps"]

#: β = sup_z |σ''(z)| of the smooth activations (D. J. Sutherland, "Neural Tangent Kernels, Finite and Infinite",
#: slides 2023, slide "Linearization quality"): erf'' = −(4z/√π)e^{−z²} peaks at z = 1/√2; tanh'' = −2 tanh sech²
#: peaks at 4/(3√3); gelu'' = φ(z)(2 − z²) peaks at z = 0; softplus'' = s(1 − s) ≤ ¼.
SMOOTHNESS = {"erf": 4.0 / math.sqrt(2.0 * math.pi * math.e), "tanh": 4.0 / (3.0 * math.sqrt(3.0)),
              "gelu": 2.0 / math.sqrt(2.0 * math.pi), "softplus": 0.25, "identity": 0.0}


@dataclass(frozen=True, eq=False)
class NTKError:
    """``empirical``: Θ̂_0 of a network on the inputs (N, N); ``analytic``: the infinite-width Θ on the same inputs
    (float64); ``error``: ‖Θ̂_0 − Θ‖_F/‖Θ‖_F."""
    empirical: torch.Tensor
    analytic: torch.Tensor
    error: float


def ntk_error(model: MLP, x, *, analytic=None) -> NTKError:
    """The empirical NTK Θ̂_0 of ``model`` (an NTK-parameterized :class:`MLP` with one output) on the rows of
    ``x`` against the analytic NTK of the same architecture (Jacot, Gabriel & Hongler 2018, Theorem 1), to which it
    converges as width → ∞.  ``analytic``: Θ on ``x`` when already computed (e.g. shared by several seeds)."""
    if not isinstance(model, MLP):
        raise TypeError(f"model must be an ntk_explorer.MLP, got {type(model).__name__}")
    if model.parameterization != "ntk" or model.out_dim != 1:
        raise ValueError("the analytic NTK is that of the NTK parameterization with one output; got "
                         f"parameterization={model.parameterization!r}, out_dim={model.out_dim}")
    empirical = empirical_ntk(model, x).detach()
    if analytic is None:
        analytic = analytic_kernels(x, depth=model.depth, activation=model.activation, sigma_w=model.sigma_w,
                                    sigma_b=model.sigma_b).ntk
    analytic = torch.as_tensor(analytic, dtype=torch.float64).to(empirical.device)
    if analytic.shape != empirical.shape:
        raise ValueError(f"analytic has shape {tuple(analytic.shape)}, expected {tuple(empirical.shape)}")
    difference = torch.linalg.matrix_norm(empirical.to(torch.float64) - analytic)
    return NTKError(empirical, analytic, float(difference / torch.linalg.matrix_norm(analytic)))


def ntk_errors(widths, seeds=3, *, depth: int = 1, activation: str = "erf", sigma_b: float = 0.1,
               n_points: int = 64) -> dict:
    """:func:`ntk_error` of NTK-parameterized MLPs on n_points of the circle, per width and seed.  Returns widths
    (W,), errors (W, S), x (the points), the analytic ``ntk`` and the empirical kernels of the first seed
    (``empirical``, a list over widths, on the CPU)."""
    widths, seeds = check_widths(widths), check_seeds(seeds)
    x = torch.as_tensor(circle_points(n_points)[0])
    theta = analytic_kernels(x, depth=depth, activation=activation, sigma_b=sigma_b).ntk
    errors, first = np.zeros((len(widths), len(seeds))), []
    for i, width in enumerate(widths):
        for j, seed in enumerate(seeds):
            model = MLP(2, int(width), depth, activation=activation, sigma_b=sigma_b, seed=seed)
            measured = ntk_error(model, x.to(model.device), analytic=theta)
            errors[i, j] = measured.error
            if j == 0:
                first.append(measured.empirical.cpu())
    return {"widths": widths, "errors": errors, "x": x, "ntk": theta, "empirical": first}


def _two_layer_model(width: int, activation: str, seed: int) -> MLP:
    """The f(x; w) = (1/√m) Σ_j a_j σ(w_j·x) of Sutherland's slides ("A wide, shallow network"): our depth-1 MLP
    on R² (σ_b = 0, so biases are inert) with the readout weights replaced by their signs a_j = ±1 (kept fixed);
    the hidden weights are w_j = W_j/√2 (the 1/√fan_in multiplier)."""
    model = MLP(2, width, 1, activation=activation, sigma_w=1.0, sigma_b=0.0, seed=seed)
    with torch.no_grad():
        model.weights[1].copy_(torch.sign(model.weights[1]))
    return model


def two_layer_gaps(widths, *, radius: float = 1.0, activation: str = "erf", n_points: int = 64, seed: int = 0):
    """The linearization gap max_x |f(x; w) − f^lin(x; w)| over n_points unit vectors of the circle for the
    two-layer network of Sutherland's slides (slide "Linearization quality"), at ‖w − w_0‖_F = radius, against
    the bound β/(2√m)·‖w − w_0‖² (β = sup|σ''|, :data:`SMOOTHNESS`).  Two directions w − w_0: "random"
    (Gaussian) and "aligned" (Δw_j = c·x_* on the neurons with a_j σ''(w_0j·x_*) > 0, 0 on the others, at the
    input x_* of angle 0: every second-order term a_j σ''(w_0j·x_*)(Δw_j·x_*)²/2 is ≥ 0, so they add up instead
    of cancelling).  Returns a dict of (W,) arrays: widths, random, aligned, bound."""
    if activation not in SMOOTHNESS:
        raise ValueError(f"activation={activation!r} has no bounded second derivative (β = ∞); choose one of "
                         f"{sorted(SMOOTHNESS)}")
    x = torch.as_tensor(circle_points(n_points)[0])
    widths = check_widths(widths)
    out = {"widths": widths, "random": [], "aligned": [], "bound": []}
    for m in widths:
        model = _two_layer_model(int(m), activation, seed)
        f_lin, x = linearize(model), x.to(model.device)
        for name, direction in _directions(model, x[0], activation, seed).items():
            out[name].append(_gap(model, f_lin, x, direction, radius))
        out["bound"].append(SMOOTHNESS[activation] * radius ** 2 / (2.0 * math.sqrt(m)))
    return {k: np.asarray(v, dtype=np.float64) for k, v in out.items()}


def _directions(model: MLP, x_star: torch.Tensor, activation: str, seed: int) -> dict:
    """The "random" and "aligned" directions Δw of :func:`two_layer_gaps` (not normalised)."""
    W0, a = model.weights[0].detach(), model.weights[1].detach()[0]
    gen = torch.Generator().manual_seed(seed + 1)
    random_dir = torch.randn(W0.shape, generator=gen, dtype=W0.dtype).to(W0.device)
    z = W0 @ x_star / math.sqrt(2.0)  # pre-activations w_0j·x_*
    h = z.clone().requires_grad_(True)
    slope = activation_derivative(activation)(h)  # σ'(h); σ'' by autograd (0 for a linear σ)
    second = torch.autograd.grad(slope.sum(), h)[0] if slope.requires_grad else torch.zeros_like(h)
    aligned_dir = (a * second > 0).to(W0.dtype)[:, None] * x_star[None, :]
    return {"random": random_dir, "aligned": aligned_dir}


def _gap(model: MLP, f_lin, x: torch.Tensor, direction: torch.Tensor, radius: float) -> float:
    """max_x |f(x; w_0 + Δw) − f^lin(x; w_0 + Δw)| with Δw along ``direction``, scaled so that the hidden weights
    w_j = W_j/√2 move by ‖w − w_0‖_F = radius."""
    W0 = model.weights[0].detach()
    norm = torch.linalg.norm(direction)  # 0 for "aligned" when σ'' ≡ 0: no term to align, the gap is 0
    delta = direction * (radius * math.sqrt(2.0) / norm) if norm > 0 else direction
    params = {**dict(model.named_parameters()), "weights.0": W0 + delta}
    with torch.no_grad():
        gap = functional_call(model, params, (x,)) - f_lin(x, {"weights.0": W0 + delta})
    return float(gap.abs().max())
