"""Why wide networks are linear: the gradient ∇_θ f and the Hessian H = ∇²_θ f measured against width, and the
linearization error over finite and unbounded training horizons.

Taylor-expanding f around θ_0 (G. Valle Pérez, "Notes on Neural Tangent Kernel…", §8, after Jacot et al. 2018),
f(θ_0 + Δθ) = f(θ_0) + ∇f·Δθ + ½ Δθᵀ H Δθ + …, and ‖∇f(θ) − ∇f(θ_0)‖ ≤ sup_{B(θ_0, R)} ‖H‖ · R.  Liu, Zhu & Belkin
2020 ("On the linearity of large non-linear models: when and why the tangent kernel is constant") show that in
the NTK parameterization ‖∇_θ f(x)‖ = Θ(1) (its square is Θ(x, x)) while the spectral norm of the Hessian of the
network output is Õ(1/√m) in a ball of fixed radius R, m the width: gradient descent moves θ by O(1), so the
tangent kernel changes by O(1/√m) relative to its size.  Our "ntk" MLPs are their NTK parameterization
(weights N(0, 1), each layer multiplied by σ_w/√fan_in).

Horizons: Jacot et al. 2018 (Theorem 2) prove kernel constancy in the sequential limit on every finite interval
[0, T]; Lee et al. 2019 (Theorem 2.1) bound sup over all t ≥ 0 of ‖f_t − f^lin_t‖ by O(1/√m) for the MSE loss
with λ_min(Θ) > 0 and lr below the critical rate.  :func:`horizon_sweep` measures sup_{t ≤ T} of the
discrepancy for several T.
"""
from __future__ import annotations

import math
import warnings
from dataclasses import dataclass

import numpy as np
import torch
from torch.func import functional_call, grad, jvp

from ..dynamics import train
from ..kernels.jacobian import parameter_jacobian, parameter_names
from ..models import MLP
from ..validation import as_inputs, check_count, check_finite_number, check_seed, model_dtype_device
from .config import as_config, check_seeds, check_widths
from .sweeps import Slope, fit_slope

__all__ = ["jacobian_norm", "hessian_vector_product", "hessian_spectral_norm", "LinearitySweep", "linearity_sweep",
           "HorizonSweep", "horizon_sweep"]


def jacobian_norm(model: torch.nn.Module, x) -> torch.Tensor:
    """‖∂f(x_i)/∂θ‖ for every row x_i of x: the Euclidean norm over all trained parameters (Frobenius norm over
    outputs and parameters for several outputs).  Its square is the trace of the empirical NTK block Θ(x_i, x_i).
    Returns (N,) float64."""
    J = parameter_jacobian(model, x)
    return J.reshape(J.shape[0], -1).norm(dim=1).to(torch.float64)


def _scalar_output(model, x, output):
    dtype, device = model_dtype_device(model)
    x = as_inputs(x, "x", dtype=dtype, device=device, in_dim=getattr(model, "in_dim", None))
    if x.shape[0] != 1:
        raise ValueError(f"x must hold one input (shape (1, d)) for a Hessian, got {x.shape[0]} rows")
    params = {name: p.detach() for name, p in model.named_parameters() if p.requires_grad}
    buffers = {name: b.detach() for name, b in model.named_buffers()}
    with torch.no_grad():
        n_out = model(x).reshape(-1).numel()
    if isinstance(output, bool) or not isinstance(output, (int, np.integer)) or not 0 <= output < n_out:
        raise ValueError(f"output must be an integer in [0, {n_out}), got {output!r}")

    def f(p):
        return functional_call(model, (p, buffers), (x,)).reshape(-1)[output]

    return f, params


def _flat(tree, names):
    return torch.cat([tree[name].reshape(-1) for name in names])


def _unflat(vector, params, names):
    out, start = {}, 0
    for name in names:
        size = params[name].numel()
        out[name] = vector[start:start + size].reshape(params[name].shape)
        start += size
    return out


def _hvp_function(model, x, output):
    f, params = _scalar_output(model, x, output)
    names, gradient = parameter_names(model), grad(f)

    def hvp(v):
        return _flat(jvp(gradient, (params,), (_unflat(v, params, names),))[1], names)

    return hvp, sum(p.numel() for p in params.values()), next(iter(params.values()))


def hessian_vector_product(model: torch.nn.Module, x, v, output: int = 0) -> torch.Tensor:
    """H v with H = ∂²f_output(x)/∂θ² at the model's parameters, for one input x (shape (1, d)) and a flat vector v
    over the trained parameters (order of ``parameter_names``).  Forward-over-reverse: torch.func.jvp of
    torch.func.grad, never forming H."""
    hvp, P, ref = _hvp_function(model, x, output)
    v = torch.as_tensor(v, dtype=ref.dtype, device=ref.device).reshape(-1)
    if v.numel() != P:
        raise ValueError(f"v must have P = {P} entries (one per trained parameter), got {v.numel()}")
    return hvp(v)


def hessian_spectral_norm(model: torch.nn.Module, x, output: int = 0, *, rtol: float = 1e-6, max_iter: int = 1000,
                          seed: int = 0) -> float:
    """Spectral norm ‖H‖ = max |eigenvalue| of H = ∂²f_output(x)/∂θ² by power iteration on Hessian-vector products.

    v_{k+1} = H v_k/‖H v_k‖ from a Gaussian v_0 (``seed``); the estimate ‖H v_k‖ (v_k unit) is a lower bound on
    ‖H‖ that never decreases (for symmetric H), and it converges to ‖H‖ even when ±‖H‖ are both eigenvalues.
    Stops when it grows by less than ``rtol`` relative; a RuntimeWarning says so when ``max_iter`` is reached first.
    Liu, Zhu & Belkin 2020: Õ(1/√width) in the NTK parameterization.
    """
    rtol = check_finite_number(rtol, "rtol", minimum=0, strict=True)
    max_iter = check_count("max_iter", max_iter)
    hvp, P, ref = _hvp_function(model, x, output)
    generator = torch.Generator().manual_seed(check_seed(seed))
    v = torch.randn(P, generator=generator, dtype=torch.float64).to(dtype=ref.dtype, device=ref.device)
    v = v / v.norm()
    estimate = 0.0
    for _ in range(max_iter):
        hv = hvp(v)
        norm = float(hv.norm())
        if norm == 0.0 or norm - estimate <= rtol * norm:
            return norm
        estimate, v = norm, hv / norm
    warnings.warn(f"hessian_spectral_norm: power iteration did not reach rtol={rtol:g} in {max_iter} iterations "
                  f"(last estimate {estimate:.6g}, a lower bound)", RuntimeWarning, stacklevel=2)
    return estimate


@dataclass(frozen=True, eq=False)
class LinearitySweep:
    """``jacobian``/``hessian``: (W, S, N) arrays of ‖∇_θ f(x_n)‖ and ‖∇²_θ f(x_n)‖ per width, seed and input;
    ``slopes``: least-squares log-log slopes against width of each quantity (averaged over inputs) — Liu, Zhu &
    Belkin 2020 predict 0 for the gradient and −1/2 (up to logarithms) for the Hessian."""
    widths: np.ndarray
    seeds: tuple
    x: torch.Tensor
    jacobian: np.ndarray
    hessian: np.ndarray
    slopes: dict

    def __str__(self) -> str:
        rows = [f"{'width':>7}{'‖∇f‖ mean':>14}{'‖H‖ mean':>14}{'‖H‖·√width':>14}"]
        for i, w in enumerate(self.widths):
            j, h = self.jacobian[i].mean(), self.hessian[i].mean()
            rows.append(f"{w:>7d}{j:>14.4f}{h:>14.4g}{h * math.sqrt(w):>14.4f}")
        rows.append(f"slope  {self.slopes['jacobian'].slope:>14.3f}{self.slopes['hessian'].slope:>14.3f}")
        return "\n".join(rows)


def linearity_sweep(widths, seeds, x, *, depth: int = 1, activation: str = "erf", parameterization: str = "ntk",
                    sigma_w: float = 1.0, sigma_b: float = 0.1, rtol: float = 1e-6) -> LinearitySweep:
    """‖∇_θ f(x)‖ and the Hessian spectral norm ‖∇²_θ f(x)‖ (:func:`hessian_spectral_norm`) of MLPs with one output
    (NTK parameterization by default) at every width, seed and input row of x (in_dim = x.shape[1]); slopes by
    ``fit_slope``."""
    widths, seeds = check_widths(widths), check_seeds(seeds)
    x = as_inputs(x, "x", dtype=torch.float64, device="cpu")
    jac = np.empty((len(widths), len(seeds), x.shape[0]))
    hess = np.empty_like(jac)
    for i, width in enumerate(widths):
        for j, seed in enumerate(seeds):
            model = MLP(x.shape[1], int(width), depth, activation=activation, parameterization=parameterization,
                        sigma_w=sigma_w, sigma_b=sigma_b, seed=seed, device="cpu")
            jac[i, j] = jacobian_norm(model, x).numpy()
            hess[i, j] = [hessian_spectral_norm(model, x[k:k + 1], rtol=rtol) for k in range(x.shape[0])]
    slopes = {"jacobian": fit_slope(widths, jac.mean(2)), "hessian": fit_slope(widths, hess.mean(2))}
    return LinearitySweep(widths, seeds, x, jac, hess, slopes)


@dataclass(frozen=True, eq=False)
class HorizonSweep:
    """``discrepancy[w, s, h]`` = sup_{t ≤ T_h} RMS(f_t − f^lin_t) over the eval points and ``param_distance``
    the same sup of ‖θ_t − θ_0‖/‖θ_0‖, for width w, seed s and horizon T_h (``horizons``); ``final_loss``
    (W, S) the training loss at the longest horizon; ``loss`` the loss function ("mse" or "cross_entropy")."""
    widths: np.ndarray
    seeds: tuple
    horizons: np.ndarray
    loss: str
    discrepancy: np.ndarray
    param_distance: np.ndarray
    final_loss: np.ndarray

    def slope(self, h: int) -> Slope:
        """Log-log slope against width of the sup over the horizon ``horizons[h]``."""
        return fit_slope(self.widths, self.discrepancy[:, :, h])


def horizon_sweep(widths, seeds, horizons, **config) -> HorizonSweep:
    """Trains ``config`` (fields of ``ExperimentConfig``; ``steps`` is set to max(horizons)) once per width and seed
    and returns sup_{t ≤ T} of the discrepancy and of the parameter movement for every horizon T (a multiple of
    ``record_every``), i.e. the quantity of Jacot et al.'s finite-horizon limit for each T at once."""
    widths, seeds = check_widths(widths), check_seeds(seeds)
    horizons = np.asarray(sorted({check_count("horizons", h) for h in np.asarray(horizons).reshape(-1).tolist()}))
    base = as_config(config, steps=int(horizons[-1]))
    if any(h % base.record_every for h in horizons):
        raise ValueError(f"every horizon must be a multiple of record_every = {base.record_every}")
    data = base.dataset()
    shape = (len(widths), len(seeds), len(horizons))
    disc, dist, final = np.full(shape, np.nan), np.full(shape, np.nan), np.full(shape[:2], np.nan)
    for i, width in enumerate(widths):
        for j, seed in enumerate(seeds):
            model = base.model(seed, int(width))
            run = train(model, data.x_train, data.y_train, lr=model.scaled_lr(base.lr), steps=base.steps,
                        x_eval=data.x_eval, loss=base.loss, record_every=base.record_every)
            if run.diverged.any():
                raise ValueError(f"training diverged at width {width}, seed {seed}: {run.message[-1]}")
            for h, T in enumerate(horizons):
                upto = run.step <= T
                disc[i, j, h], dist[i, j, h] = run.discrepancy[upto].max(), run.param_distance[upto].max()
            final[i, j] = run.loss[-1]
    return HorizonSweep(widths, seeds, horizons, base.loss, disc, dist, final)
