"""Infinite-width NNGP and NTK of an ``MLP`` in NTK parameterization (Jacot et al. 2018).

For ``depth`` hidden layers, inputs x ∈ R^d and the layer rule h = σ_w/√fan_in · W a + σ_b · b, the kernels follow
the recursions of Jacot et al. 2018 (Proposition 1 and Theorem 1), with the σ_w², σ_b² of neural-tangents' ``Dense``:

    Σ^1(x, x')   = σ_w² xᵀx'/d + σ_b²,                         Θ^1 = Σ^1
    Σ^{l+1}      = σ_w² E_{(u,v)~N(0, Σ^l)}[φ(u) φ(v)] + σ_b²
    Θ^{l+1}      = σ_w² E_{(u,v)~N(0, Σ^l)}[φ'(u) φ'(v)] · Θ^l + Σ^{l+1}

and ``.nngp = Σ^{depth+1}``, ``.ntk = Θ^{depth+1}`` (the readout is the last Dense layer).

The 2-d Gaussian expectations, for the covariance [[a, c], [c, b]] with ρ = c/√(ab) and θ = arccos ρ:

* ReLU (arc-cosine kernel of degree 1 and 0; Cho & Saul 2009; Arora et al. 2019):
  E[φφ] = √(ab)/(2π) · (sin θ + (π − θ) cos θ),   E[φ'φ'] = (π − θ)/(2π).
* erf (Williams 1997): E[φφ] = (2/π) arcsin(2c / √((1 + 2a)(1 + 2b))),
  E[φ'φ'] = (4/π) / √((1 + 2a)(1 + 2b) − 4c²).
* identity: E[φφ] = c, E[φ'φ'] = 1.
* any other activation: tensor-product Gauss–Hermite quadrature of u = √a z₁, v = √b (ρ z₁ + √(1 − ρ²) z₂)
  with ``quadrature_points`` nodes per axis. For smooth activations and variances ≲ 1 (unit-norm inputs,
  σ_w ≈ 1), 64 nodes are accurate to ~1e-10; saturating activations at large variance (a ≈ 5 for tanh) converge
  slowly (~1e-5 at 64 nodes, ~2e-7 at 128): raise ``quadrature_points`` there.

θ is computed as 2·atan2(√(1 − ρ), √(1 + ρ)), accurate near ρ = ±1; ρ within 8 ulps of ±1 is snapped to ±1
(and the diagonal of K(x, x) has ρ = 1 exactly), so exactly parallel and antipodal inputs give finite values
correct to float64 rounding. For zero-variance inputs
(x = 0 with σ_b = 0) ReLU's E[φ'φ'] uses relu'(0) = 0, the convention of torch's autograd.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch

from ..memory import check_memory
from ..validation import as_float64_inputs
from ..models import ACTIVATIONS, activation_derivative, activation_fn, MLPConfig

__all__ = ["analytic_kernels", "AnalyticKernels", "gaussian_expectations"]

CLOSED_FORMS = ("relu", "erf", "identity")
_SNAP = 8 * torch.finfo(torch.float64).eps


@dataclass(frozen=True)
class AnalyticKernels:
    """Infinite-width kernels, float64 tensors of shape (N1, N2)."""

    nngp: torch.Tensor
    ntk: torch.Tensor


def analytic_kernels(x1, x2=None, *, depth, activation="relu", sigma_w=1.0, sigma_b=0.0, method="auto",
                     quadrature_points=64):
    """NNGP and NTK of the infinite-width ``MLP(d, ∞, depth, activation=..., parameterization="ntk", ...)``.

    ``method``: "auto" (closed form for relu/erf/identity, quadrature otherwise), "closed_form" or "quadrature"
    (``quadrature_points`` Gauss–Hermite nodes per dimension). Inputs of any norm; float64 on x1's device.
    """
    MLPConfig(in_dim=1, width=1, depth=depth, activation=activation, sigma_w=sigma_w, sigma_b=sigma_b)  # validates
    if method not in ("auto", "closed_form", "quadrature"):
        raise ValueError(f"method={method!r} is unknown; choose 'auto', 'closed_form' or 'quadrature'")
    if method == "closed_form" and activation not in CLOSED_FORMS:
        raise ValueError(f"no closed form for activation={activation!r}; closed forms exist for {CLOSED_FORMS}")
    if isinstance(quadrature_points, bool) or not isinstance(quadrature_points, int) or quadrature_points < 2:
        raise ValueError(f"quadrature_points must be an int >= 2, got {quadrature_points!r}")
    closed = method == "closed_form" or (method == "auto" and activation in CLOSED_FORMS)
    x1 = as_float64_inputs(x1, "x1")
    symmetric = x2 is None
    x2 = x1 if symmetric else as_float64_inputs(x2, "x2", device=x1.device)
    if x1.shape[1] != x2.shape[1]:
        raise ValueError(f"x1 and x2 must have the same number of columns, got {x1.shape[1]} and {x2.shape[1]}")
    # about ten N1 × N2 float64 tensors are alive at once (kernels, their update, the Gaussian expectations)
    check_memory(10 * 8 * x1.shape[0] * x2.shape[0], f"the analytic kernels of {x1.shape[0]} x {x2.shape[0]} inputs",
                 "use fewer inputs", x1.device)
    sw2, sb2, d = float(sigma_w) ** 2, float(sigma_b) ** 2, x1.shape[1]
    q11 = sw2 * (x1 * x1).sum(1) / d + sb2
    q22 = q11 if symmetric else sw2 * (x2 * x2).sum(1) / d + sb2
    q12 = sw2 * (x1 @ x2.t()) / d + sb2
    ntk = q12
    for _ in range(depth):
        if symmetric and not closed:  # quadrature on the upper triangle only: half the cost, exact symmetry
            e_phi, e_dphi = _symmetric_quadrature(q11, q12, activation, quadrature_points)
        else:
            e_phi, e_dphi = gaussian_expectations(q11[:, None], q22[None, :], q12, activation, closed=closed,
                                                  n=quadrature_points)
        ntk = sw2 * e_dphi * ntk + (sw2 * e_phi + sb2)
        q12 = sw2 * e_phi + sb2
        q11 = sw2 * _diagonal_expectation(q11, activation, closed, quadrature_points) + sb2
        q22 = q11 if symmetric else sw2 * _diagonal_expectation(q22, activation, closed, quadrature_points) + sb2
    return AnalyticKernels(nngp=q12, ntk=ntk)


def _correlation(a, b, c):
    s = torch.sqrt(a * b)
    rho = torch.where(s > 0, c / torch.where(s > 0, s, 1.0), torch.zeros_like(c)).clamp(-1.0, 1.0)
    # ρ is only known to a few ulps; within them of ±1 the inputs are parallel (antipodal): snap, because
    # arccos has an infinite slope there and 1 ulp in ρ would cost ~1e-8 in θ.
    rho = torch.where(1.0 - rho.abs() <= _SNAP, torch.sign(rho), rho)
    return s, rho


def gaussian_expectations(a, b, c, activation, *, closed=True, n=64):
    """(E[φ(u)φ(v)], E[φ'(u)φ'(v)]) for (u, v) ~ N(0, [[a, c], [c, b]]), elementwise over broadcast a, b, c."""
    s, rho = _correlation(a, b, c)
    if closed and activation == "relu":
        theta = 2.0 * torch.atan2(torch.sqrt(1.0 - rho), torch.sqrt(1.0 + rho))
        e_phi = s / (2 * math.pi) * (torch.sin(theta) + (math.pi - theta) * rho)
        e_dphi = torch.where(s > 0, (math.pi - theta) / (2 * math.pi), torch.zeros_like(theta))
        return e_phi, e_dphi
    if closed and activation == "erf":
        c = rho * s  # equals c, snapped where the inputs are parallel
        denom = (1 + 2 * a) * (1 + 2 * b)
        e_phi = (2 / math.pi) * torch.asin((2 * c / torch.sqrt(denom)).clamp(-1.0, 1.0))
        e_dphi = (4 / math.pi) / torch.sqrt(denom - 4 * c * c)
        return e_phi, e_dphi
    if closed and activation == "identity":
        return (rho * s).expand_as(rho).clone(), torch.ones_like(rho)
    return _quadrature(a, b, rho, activation, n)


def _hermite(n, dtype, device):
    z, w = np.polynomial.hermite_e.hermegauss(n)
    w = w / math.sqrt(2 * math.pi)  # probabilists' weights summing to 1
    return torch.as_tensor(z, dtype=dtype, device=device), torch.as_tensor(w, dtype=dtype, device=device)


def _quadrature(a, b, rho, activation, n):
    phi, dphi = activation_fn(activation), activation_derivative(activation)
    a, b, rho = torch.broadcast_tensors(a, b, rho)
    shape = rho.shape
    a, b, rho = a.reshape(-1), b.reshape(-1), rho.reshape(-1)
    z, w = _hermite(n, rho.dtype, rho.device)
    out_phi, out_dphi = torch.empty_like(rho), torch.empty_like(rho)
    chunk = max(1, 2**22 // (n * n))
    for i in range(0, rho.numel(), chunk):
        sa, sb, r = a[i:i + chunk].sqrt(), b[i:i + chunk].sqrt(), rho[i:i + chunk]
        u = sa[:, None] * z[None, :]  # (P, n) over z1
        v = sb[:, None, None] * (r[:, None, None] * z[None, :, None]
                                 + torch.sqrt((1 - r * r).clamp(min=0))[:, None, None] * z[None, None, :])
        for f, out in ((phi, out_phi), (dphi, out_dphi)):
            inner = f(v) @ w  # (P, n): E over z2
            out[i:i + chunk] = (f(u) * inner) @ w
    return out_phi.reshape(shape), out_dphi.reshape(shape)


def _symmetric_quadrature(q, q12, activation, n):
    i, j = torch.triu_indices(q.shape[0], q.shape[0], device=q.device)
    upper = gaussian_expectations(q[i], q[j], q12[i, j], activation, closed=False, n=n)
    out = []
    for values in upper:
        full = torch.empty_like(q12)
        full[i, j] = values
        full[j, i] = values
        out.append(full)
    return out


def _diagonal_expectation(q, activation, closed, n):
    """E[φ(u)²] for u ~ N(0, q)."""
    if closed and activation == "relu":
        return q / 2
    if closed and activation == "erf":
        return (2 / math.pi) * torch.asin(2 * q / (1 + 2 * q))
    if closed and activation == "identity":
        return q
    z, w = _hermite(n, q.dtype, q.device)
    return (ACTIVATIONS[activation](q.sqrt()[:, None] * z[None, :]) ** 2) @ w
