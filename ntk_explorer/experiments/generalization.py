"""Learning curves of trained networks: test MSE against the number of training points n, with label noise, on
the training sets and noise draws that ``spectra.kernel_learning_curve`` uses (so both compare trial by trial).

Each network is trained *centered*: g(x; θ) = f(x; θ) − f(x; θ_0) starts at 0, as kernel regression does (Simon
et al. 2021 do the same; Chizat, Oyallon & Bach 2019 center lazy models).  Gradient descent on g has the same
parameter updates as on f with targets y + f(D; θ_0), so we train f on those and predict with f − f_0.  In the
lazy regime g_∞ = Θ(·, D) Θ(D, D)^{-1} y, kernel regression with the network's tangent kernel.
"""
from __future__ import annotations

import math
from typing import Optional

import numpy as np
import torch
from torch.func import functional_call, stack_module_state, vmap

from ..kernels import empirical_ntk
from ..models import MLP
from ..spectra import kernel_regression
from ..spectra.domains import check_domain
from ..spectra.generalization import LearningCurve, learning_curve_draws
from ..validation import check_count, check_finite_number, check_seed
from .config import interactive, progress_bar

__all__ = ["network_learning_curve"]


def _gradient_descent(base, params, buffers, x, target, lr, max_steps, tol):
    """Full-batch GD on (1/N) Σ ½ r² for the B stacked networks (inputs x (B, n, d), targets (B, n), rates (B,))
    until every network has mean r² ≤ tol · mean target² (checked every 25 steps) or max_steps.  Returns the
    trained parameters and the final training losses (B,)."""
    def outputs(p):
        return vmap(lambda q, b, xx: functional_call(base, (q, b), (xx,))[:, 0])(p, buffers, x)

    params = {k: v.detach().clone().requires_grad_(True) for k, v in params.items()}
    scale = target.square().mean(1).clamp_min(1e-300)
    for step in range(max_steps + 1):
        residual = outputs(params) - target
        loss = 0.5 * residual.square().mean(1)
        if step == max_steps or (step % 25 == 0 and bool((2 * loss <= tol * scale).all())):
            return params, loss.detach()
        grads = torch.autograd.grad(loss.sum(), list(params.values()))
        with torch.no_grad():
            for p, g in zip(params.values(), grads):
                p -= lr.reshape((-1,) + (1,) * (p.dim() - 1)) * g


def _train_centered(models, x_all, idx, y, max_steps, tol):
    """Trains the centered networks g_i = f_i − f_i(·; θ_0) on (x_all[idx[i]], y[i]) at lr = N/λ_max(Θ̂_0(D, D));
    returns g on every domain point (trials, M) and the final training losses (trials,)."""
    n = idx.shape[1]
    lam_max = torch.stack([torch.linalg.eigvalsh(empirical_ntk(m, x_all[i]))[-1] for m, i in zip(models, idx)])
    params, buffers = stack_module_state(models)

    def on_domain(p):
        return vmap(lambda q, b: functional_call(models[0], (q, b), (x_all,))[:, 0])(p, buffers)

    with torch.no_grad():
        f0 = on_domain(params)
    target = y + f0.gather(1, idx)  # g fitted to y  ⇔  f fitted to y + f_0(D)
    trained, loss = _gradient_descent(models[0], params, buffers, x_all[idx], target, n / lam_max, max_steps, tol)
    with torch.no_grad():
        return on_domain(trained) - f0, loss


def network_learning_curve(domain, target, ns, *, width: int, depth: int = 2, activation: str = "relu",
                           sigma_w: float = 1.0, sigma_b: float = 0.0, noise: float = 0.0, trials: int = 4,
                           method: str = "gd", max_steps: int = 2000, tol: float = 1e-6, seed: int = 0,
                           progress: Optional[bool] = None) -> LearningCurve:
    """Test MSE of centered MLPs (float64, CPU) trained on n noisy domain points, for n in ``ns``.

    Trial i of each n uses ``learning_curve_draws(M, n, trials, noise, seed)[i]`` (training set and label noise of
    variance ``noise`` = ε²) and a network initialised with seed + i; its rate is lr = N/λ_max(Θ̂_0(D, D)) (half the
    stability limit 2N/λ_max).  GD stops when the training loss reaches tol (relative) or after max_steps; the
    final losses are returned in ``train_loss`` so that unconverged runs are visible.  method="linearized": the
    t → ∞ limit of the linearized networks instead, kernel regression with each network's empirical NTK Θ̂_0 on the
    domain (``train_loss`` None).  The error is (1/M) Σ_x (g(x) − f(x))² over the whole domain against the clean
    target f.
    """
    if method not in ("gd", "linearized"):
        raise ValueError(f"method must be 'gd' or 'linearized', got {method!r}")
    check_domain(domain)
    f = torch.as_tensor(np.asarray(target(domain.x) if callable(target) else target, np.float64)).reshape(-1)
    if f.numel() != domain.M or not bool(torch.isfinite(f).all()):
        raise ValueError(f"target must hold finite values on the M = {domain.M} domain points")
    trials, max_steps = check_count("trials", trials, 2), check_count("max_steps", max_steps)
    tol, seed = check_finite_number(tol, "tol", minimum=0), check_seed(seed)
    ns = np.asarray([check_count("ns", n) for n in np.asarray(ns).reshape(-1).tolist()])
    x_all = domain.x.to(torch.float64)
    rows = range(len(ns))
    if interactive() if progress is None else progress:
        rows = progress_bar(rows, total=len(ns), desc="learning curve")
    samples, losses = np.empty((len(ns), trials)), np.empty((len(ns), trials))
    models = [MLP(domain.dim, width, depth, activation=activation, sigma_w=sigma_w, sigma_b=sigma_b, seed=seed + i,
                  device="cpu") for i in range(trials)]  # trial i uses the same network for every n
    kernels = [empirical_ntk(m, x_all) for m in models] if method == "linearized" else None
    for row in rows:
        n = int(ns[row])
        idx, eps = learning_curve_draws(domain.M, n, trials, noise, seed)
        if method == "linearized":
            g = torch.stack([kernel_regression(k, i, f[i] + e) for k, i, e in zip(kernels, idx, eps)])
            samples[row] = ((g - f) ** 2).mean(1).numpy()
            continue
        g, loss = _train_centered(models, x_all, idx, f[idx] + eps, max_steps, tol)
        samples[row], losses[row] = ((g - f) ** 2).mean(1).numpy(), loss.numpy()
    return LearningCurve(ns, samples.mean(1), samples.std(1, ddof=1) / math.sqrt(trials), samples,
                         losses if method == "gd" else None)
