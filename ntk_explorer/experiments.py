"""Experiments over many networks: width sweeps, ensembles over random initialisation, and the Gaussian
process that the ensemble of linearized networks follows at infinite width (seed 001 §4, eqs. 27–30).

Learning rates: :class:`ExperimentConfig` holds a *base* rate ``lr``; every network is trained with
``lr × model.lr_scale`` (ntk: 1, standard: 1/width, mup: width — see ``ntk_explorer.models``), so one base
rate means the same function-space step size at every width and parameterization can be compared.
"""
from __future__ import annotations

import math
import sys
import warnings
from dataclasses import asdict, dataclass, fields
from typing import NamedTuple, Optional

import numpy as np
import torch
from torch.func import functional_call, stack_module_state, vmap

from ._losses import LOSSES
from ._validation import check_bool, check_device, check_finite_number, check_seed
from .analytic import _as_float64, analytic_kernels
from .closed_form import kernel_regression_operator
from .data import DOMAINS, Dataset, _check_count, make_dataset
from .dynamics import train
from .memory import check_ensemble_memory, check_training_memory
from .models import MLP, MLPConfig, default_device

__all__ = ["ExperimentConfig", "width_sweep", "WidthSweep", "Slope", "ensemble", "EnsembleResult",
           "gp_prediction", "GPPrediction", "SWEEP_METRICS"]

SWEEP_METRICS = ("discrepancy", "kernel_drift", "param_distance")


@dataclass(frozen=True)
class ExperimentConfig:
    """A lesson experiment: data (``ntk_explorer.data.make_dataset``), an MLP and GD with MSE.
    ``lr`` is the base learning rate (multiplied by ``model.lr_scale``)."""
    width: int = 512
    depth: int = 2
    activation: str = "relu"
    parameterization: str = "ntk"
    sigma_w: float = 1.0
    sigma_b: float = 0.0
    domain: str = "circle"
    target: str = "sin(3*t)"
    dim: Optional[int] = None
    n_train: int = 32
    n_eval: int = 128
    noise: float = 0.0
    data_seed: int = 0
    lr: float = 1.0
    steps: int = 1000
    loss: str = "mse"
    record_every: int = 10
    kernel_every: Optional[int] = 10
    output_scale: float = 1.0
    device: Optional[str] = None

    def __post_init__(self):
        if self.domain not in DOMAINS:
            raise ValueError(f"domain must be one of {DOMAINS}, got {self.domain!r}")
        if self.dim is not None:
            _check_count("dim", self.dim)
        MLPConfig(self.in_dim, self.width, self.depth, 1, self.activation, self.parameterization, self.sigma_w,
                  self.sigma_b)  # validates the network's fields
        if not (isinstance(self.target, str) or callable(self.target)):  # an expression is parsed by dataset()
            raise TypeError(f"target must be an expression string or a callable, got {type(self.target).__name__}")
        for name, minimum in (("n_train", 1), ("n_eval", 1), ("steps", 0), ("record_every", 1)):
            _check_count(name, getattr(self, name), minimum)
        if self.kernel_every is not None:
            _check_count("kernel_every", self.kernel_every)
        check_finite_number(self.lr, "lr", minimum=0, strict=True)
        check_finite_number(self.output_scale, "output_scale", minimum=0, strict=True)
        check_finite_number(self.noise, "noise", minimum=0)
        check_seed(self.data_seed, "data_seed")
        if self.loss not in LOSSES:
            raise ValueError(f"loss must be one of {LOSSES}, got {self.loss!r}")
        if self.device is not None:
            check_device(self.device)

    @property
    def in_dim(self) -> int:
        if self.domain == "circle":
            return 2
        return self.dim if self.dim is not None else (3 if self.domain == "sphere" else 6)

    def dataset(self) -> Dataset:
        return make_dataset(self.domain, n_train=self.n_train, n_eval=self.n_eval, target=self.target,
                            dim=self.dim, noise=self.noise, seed=self.data_seed, device=self.device,
                            classification=self.loss == "cross_entropy")

    def model(self, seed: int, width: Optional[int] = None) -> MLP:
        return MLP(self.in_dim, self.width if width is None else width, self.depth, activation=self.activation,
                   parameterization=self.parameterization, sigma_w=self.sigma_w, sigma_b=self.sigma_b,
                   seed=seed, device=self.device)


def _config(config, **overrides) -> ExperimentConfig:
    if isinstance(config, dict):
        config = {**config, **overrides}
        unknown = set(config) - {f.name for f in fields(ExperimentConfig)}
        if unknown:
            raise TypeError(f"unknown config keys {sorted(unknown)}; see ExperimentConfig")
        return ExperimentConfig(**config)
    if not isinstance(config, ExperimentConfig):
        raise TypeError(f"config must be an ExperimentConfig or a dict, got {type(config).__name__}")
    return ExperimentConfig(**{**asdict(config), **overrides})


def _seeds(seeds) -> tuple:
    if isinstance(seeds, (int, np.integer)) and not isinstance(seeds, (bool, np.bool_)):
        seeds = tuple(range(int(seeds)))
    elif isinstance(seeds, (str, bytes, bool, np.bool_)) or not hasattr(seeds, "__iter__"):
        raise TypeError(f"seeds must be a count or a list of integers ≥ 0, got {type(seeds).__name__} {seeds!r}"[:200])
    else:
        seeds = tuple(check_seed(s, "seeds") for s in seeds)
    if not seeds:
        raise ValueError("seeds must be a positive count or a non-empty list of integers")
    return seeds


def _widths(widths) -> np.ndarray:
    if isinstance(widths, (str, bytes)) or not hasattr(widths, "__iter__"):
        raise TypeError(f"widths must be a list of positive integers, got {type(widths).__name__}")
    widths = list(widths)
    bad = [w for w in widths if isinstance(w, (bool, np.bool_)) or not isinstance(w, (int, np.integer)) or w < 1]
    if not widths or bad:
        raise ValueError(f"widths must be a non-empty list of positive integers, got {widths!r}"[:200])
    return np.asarray(sorted({int(w) for w in widths}))


def _device(config: ExperimentConfig):
    return check_device(config.device) if config.device is not None else default_device()


def _interactive() -> bool:
    return hasattr(sys, "ps1") or "ipykernel" in sys.modules or sys.stderr.isatty()


# ------------------------------------------------------------------------------------------ widths
class Slope(NamedTuple):
    """Least-squares slope of log(metric) against log(width) over all (width, seed) runs."""
    slope: float
    stderr: float


@dataclass(frozen=True, eq=False)
class WidthSweep:
    """``values[metric]``: (W, S) array of sup_t metric per width and seed (NaN for a diverged run);
    ``mean``/``std`` over seeds (W,); ``slopes[metric]``: fitted log-log :class:`Slope`.  Theorem 2.1
    (seed 000) bounds the metrics by O(width^{−1/2}); finer analyses predict width^{−1} for the
    discrepancy and the kernel drift of smooth activations.  ``str(sweep)`` prints the table."""
    widths: np.ndarray
    seeds: tuple
    values: dict
    mean: dict
    std: dict
    slopes: dict

    def rows(self) -> list:
        return [{"width": int(w), **{f"{m}_{s}": float(getattr(self, s)[m][i]) for m in SWEEP_METRICS
                                     for s in ("mean", "std")}} for i, w in enumerate(self.widths)]

    def __str__(self) -> str:
        head = f"{'width':>7}" + "".join(f"{m + ' mean':>22}{'std':>11}" for m in SWEEP_METRICS)
        lines = [head] + [f"{w:>7d}" + "".join(f"{self.mean[m][i]:>22.4g}{self.std[m][i]:>11.2g}"
                                               for m in SWEEP_METRICS) for i, w in enumerate(self.widths)]
        lines.append("slope  " + "".join(f"{self.slopes[m].slope:>22.3f}{'±':>3}{self.slopes[m].stderr:<8.3f}"
                                         for m in SWEEP_METRICS))
        return "\n".join(lines)


def _fit_slope(widths: np.ndarray, values: np.ndarray) -> Slope:
    x = np.repeat(np.log(widths), values.shape[1])
    y = values.reshape(-1)
    keep = np.isfinite(y) & (y > 0)
    x, y = x[keep], np.log(y[keep])
    if len(np.unique(x)) < 2:
        return Slope(math.nan, math.nan)
    xc = x - x.mean()
    slope = float(xc @ (y - y.mean()) / (xc @ xc))
    residual = y - y.mean() - slope * xc
    stderr = math.sqrt(residual @ residual / (len(x) - 2) / (xc @ xc)) if len(x) > 2 else math.nan
    return Slope(slope, stderr)


def width_sweep(widths, seeds, *, progress: Optional[bool] = None, **config) -> WidthSweep:
    """Trains ``config`` (keyword fields of :class:`ExperimentConfig`, width excepted) at every width and
    seed and tabulates sup_t discrepancy, sup_t kernel drift (needs kernel_every) and sup_t parameter
    distance.  ``progress``: tqdm bar (default: when interactive).  The widest run's memory is checked before
    anything is allocated (``ntk_explorer.memory``; MemoryBudgetError says which setting to lower)."""
    widths, seeds, base = _widths(widths), _seeds(seeds), _config(config)
    check_training_memory(base.n_train, base.n_eval, width=int(widths[-1]), depth=base.depth, in_dim=base.in_dim,
                          device=_device(base))  # the widest run, before anything is allocated
    data = base.dataset()
    values = {m: np.full((len(widths), len(seeds)), math.nan) for m in SWEEP_METRICS}
    runs = [(i, j) for i in range(len(widths)) for j in range(len(seeds))]
    if _interactive() if progress is None else progress:
        from tqdm.auto import tqdm  # imported on demand: in a notebook it brings in ipywidgets
        runs = tqdm(runs, desc="width sweep")
    for i, j in runs:
        model = base.model(seeds[j], int(widths[i]))
        trajectory = train(model, data.x_train, data.y_train, lr=base.lr * model.lr_scale, steps=base.steps,
                           x_eval=data.x_eval, loss=base.loss, record_every=base.record_every,
                           kernel_every=base.kernel_every, output_scale=base.output_scale)
        if not trajectory.diverged.any():
            for m in SWEEP_METRICS:
                values[m][i, j] = np.nanmax(getattr(trajectory, m))
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN rows (diverged runs), one seed
        mean = {m: np.nanmean(v, axis=1) for m, v in values.items()}
        std = {m: np.nanstd(v, axis=1, ddof=1) for m, v in values.items()}  # NaN for one seed
    slopes = {m: _fit_slope(widths, v) for m, v in values.items()}
    return WidthSweep(widths, seeds, values, mean, std, slopes)


# --------------------------------------------------------------------------------------- ensembles
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
    """Trains one network per seed (MSE, full-batch GD, rate config.lr × lr_scale) as a single vectorised
    model: parameters stacked with torch.func.stack_module_state, outputs by vmap(functional_call), and
    the per-network gradients from one backward pass of the summed (independent) losses.  The memory of all
    networks together is checked before any is built (``ntk_explorer.memory.estimate_ensemble_bytes``)."""
    config, seeds = _config(config), _seeds(seeds)
    if config.loss != "mse" or config.output_scale != 1.0:
        raise ValueError("ensemble supports loss='mse' and output_scale=1 only")
    check_ensemble_memory(len(seeds), config.n_train, config.n_eval, width=config.width, depth=config.depth,
                          in_dim=config.in_dim, device=_device(config))
    data = config.dataset()
    models = [config.model(seed) for seed in seeds]
    params, buffers = stack_module_state(models)
    base, lr = models[0], config.lr * models[0].lr_scale
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
    """Distribution of the infinitely wide linearized network after t GD steps (seed 001 §4, Corollary 1).

    With Θ, K the analytic NTK and NNGP (``analytic_kernels``, NTK parameterization), f_0 ~ GP(0, K) and
    B_t = Θ(E, X) Θ^{−1} (I − A_t), A_t = (I − lr Θ/N)^t (flow: e^{−lr t Θ/N}; t = inf: A = 0):
        mean  = B_t Y                                                                 (eqs. 27, 29)
        cov   = K(E,E) − B_t K(X,E) − K(E,X) B_tᵀ + B_t K(X,X) B_tᵀ                    (eqs. 28, 30)
    ``lr`` is the rate of GD on L = (1/N) Σ ½(f − y)², as in :func:`ntk_explorer.train`.
    """
    x_train = _as_float64(x_train, "x_train")
    x_eval = _as_float64(x_eval, "x_eval")
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
