"""Ensembles over random initialisation, and the Gaussian process that the ensemble of linearized networks
follows at infinite width (Lee et al. 2019; derivation in Y. Chen, "Linearized Networks", §4, eqs. (27)–(30)).
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np
import torch
from torch.func import functional_call, stack_module_state, vmap

from ..dynamics.closed_form import kernel_regression_operator
from ..kernels.analytic import analytic_kernels
from ..memory import check_ensemble_memory
from ..validation import as_float64_inputs, check_bool
from .config import as_config, check_seeds, config_device

__all__ = ["ensemble", "EnsembleResult", "gp_prediction", "GPPrediction"]


@dataclass(frozen=True, eq=False)
class EnsembleResult:
    """``f_eval``: (S, K, M) outputs of the K networks at the recorded ``step``s on ``x_eval``;
    ``mean``/``std`` (S, M) over the networks (std with ddof = 1).  ``lr`` is the rate used."""
    step: np.ndarray
    f_eval: np.ndarray
    x_train: torch.Tensor
    y_train: torch.Tensor
    x_eval: torch.Tensor
    lr: float

    @property
    def mean(self) -> np.ndarray:
        return self.f_eval.mean(axis=1)

    @property
    def std(self) -> np.ndarray:
        return self.f_eval.std(axis=1, ddof=1)


def ensemble(config, seeds) -> EnsembleResult:
    """Trains one network per seed (MSE, full-batch GD, rate ``model.scaled_lr(config.lr)``) as a single vectorised
    model: parameters stacked with torch.func.stack_module_state, outputs by vmap(functional_call), and
    the per-network gradients from one backward pass of the summed (independent) losses.  The memory of all
    networks together is checked before any is built (``ntk_explorer.memory.estimate_ensemble_bytes``)."""
    config, seeds = as_config(config), check_seeds(seeds)
    if config.loss != "mse" or config.output_scale != 1.0 or config.out_dim != 1:
        raise ValueError("ensemble supports loss='mse', output_scale=1 and one output only")
    check_ensemble_memory(len(seeds), config.n_train, config.n_eval, width=config.width, depth=config.depth,
                          in_dim=config.in_dim, device=config_device(config))
    data = config.dataset()
    models = [config.model(seed) for seed in seeds]
    params, buffers = stack_module_state(models)
    base, lr = models[0], models[0].scaled_lr(config.lr)
    device = next(base.parameters()).device
    x, x_eval = data.x_train.to(device), data.x_eval.to(device)
    y = data.y_train.to(device).reshape(len(x), -1)

    def outputs(p, inputs):
        return vmap(lambda q, b: functional_call(base, (q, b), (inputs,)))(p, buffers)

    steps, recorded = [], []
    for step in range(config.steps + 1):
        if step % config.record_every == 0 or step == config.steps:
            with torch.no_grad():
                recorded.append(outputs(params, x_eval)[..., 0].cpu().numpy())
            steps.append(step)
        if step == config.steps:
            break
        loss = 0.5 * (outputs(params, x) - y).square().sum() / len(x)
        grads = torch.autograd.grad(loss, list(params.values()))
        params = {k: (v - lr * g).detach().requires_grad_() for (k, v), g in zip(params.items(), grads)}
    f_eval = np.stack(recorded)
    if not np.isfinite(f_eval).all():
        raise ValueError(f"the ensemble diverged with lr = {lr:.4g}; lower config.lr")
    return EnsembleResult(np.asarray(steps), f_eval, data.x_train, data.y_train, data.x_eval, lr)


# ---------------------------------------------------------------------------------- Gaussian process
class GPPrediction(NamedTuple):
    """Mean (M,), variance (M,) and covariance (M, M) of f^lin_t(x_eval) over random initialisation."""
    mean: torch.Tensor
    variance: torch.Tensor
    covariance: torch.Tensor


def gp_prediction(x_train, y_train, x_eval, *, lr: float, t=math.inf, depth: int, activation: str = "relu",
                  sigma_w: float = 1.0, sigma_b: float = 0.0, flow: bool = False) -> GPPrediction:
    """Distribution of the infinitely wide linearized network after t GD steps (Lee et al. 2019; Y. Chen,
    "Linearized Networks", §4 "Corollary 1").

    With Θ, K the analytic NTK and NNGP (``analytic_kernels``, NTK parameterization), f_0 ~ GP(0, K) and
    B_t = Θ(E, X) Θ^{−1} (I − A_t), A_t = (I − lr Θ/N)^t (flow: e^{−lr t Θ/N}; t = inf: A = 0):
        mean  = B_t Y                                                                 (Chen (27), (29))
        cov   = K(E,E) − B_t K(X,E) − K(E,X) B_tᵀ + B_t K(X,X) B_tᵀ                    (Chen (28), (30))
    ``lr`` is the rate of GD on L = (1/N) Σ ½(f − y)², as in :func:`ntk_explorer.train`.
    """
    x_train = as_float64_inputs(x_train, "x_train")
    x_eval = as_float64_inputs(x_eval, "x_eval")
    if x_eval.shape[1] != x_train.shape[1]:
        raise ValueError(f"x_eval has {x_eval.shape[1]} columns but x_train has {x_train.shape[1]}")
    flow = check_bool(flow, "flow")
    try:
        y = torch.as_tensor(np.asarray(y_train.detach().cpu() if isinstance(y_train, torch.Tensor) else y_train,
                                       dtype=np.float64), device=x_train.device).reshape(-1)
    except (TypeError, ValueError) as error:
        raise TypeError(f"y_train must be a tensor or an array of numbers: {error}"[:300]) from None
    if y.shape[0] != x_train.shape[0]:
        raise ValueError(f"y_train must have one value per training point ({x_train.shape[0]}), got {y.shape[0]}")
    if not bool(torch.isfinite(y).all()):
        raise ValueError("y_train contains NaN or inf values")
    x_all = torch.cat([x_train, x_eval.to(x_train.device)])
    kernels = analytic_kernels(x_all, x_all, depth=depth, activation=activation, sigma_w=sigma_w, sigma_b=sigma_b)
    n = x_train.shape[0]
    ntk, nngp = kernels.ntk, kernels.nngp
    b = kernel_regression_operator(ntk[:n, :n], ntk[n:, :n], lr, t, flow=flow)
    k_ex = nngp[n:, :n]
    covariance = nngp[n:, n:] - b @ k_ex.T - k_ex @ b.T + b @ nngp[:n, :n] @ b.T
    covariance = 0.5 * (covariance + covariance.T)
    return GPPrediction(b @ y, torch.diagonal(covariance).clone(), covariance)
