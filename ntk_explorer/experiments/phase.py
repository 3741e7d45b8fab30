"""Lazy versus rich training: a phase diagram over the width n and the output scale α.

Chizat, Oyallon & Bach 2019 ("On Lazy Training in Differentiable Programming"): training the rescaled model
h = f(·; θ_0) + α (f(·; θ) − f(·; θ_0)) by GD with rate lr/α² moves h at a speed independent of α while θ moves by
O(1/α), so a large α trains h like its linearization h^lin ("lazy"), a small α lets the features and the kernel
move ("rich").  Width plays the same role in NTK parameterization: Lee et al. 2019, Theorem 2.1 bounds
sup_t ‖f_t − f^lin_t‖, the relative parameter movement and the kernel drift by O(1/√n), and the relative drift
falls roughly like 1/(α√n).  Geiger, Spigler, Jacot & Wyart 2020 ("Disentangling feature and lazy training in deep
neural networks") locate the crossover between the two regimes at α√n of order one.  Under the maximal-update
parameterization (Yang & Hu 2021, "Feature Learning in Infinite-Width Neural Networks") the features move by
Θ(1) at every width, so the drift does not vanish as n grows: width alone no longer makes a network lazy.

:func:`lazy_rich_phase_stream` trains one network per (width, α, seed) with ``ntk_explorer.train_stream`` (rate
base lr × the parameterization's ``lr_scale``, output scale α) and yields a :class:`PhaseCell` per (width, α)
as soon as its seeds are done; :func:`lazy_rich_phase` collects them into a :class:`PhaseDiagram` of (W, A)
arrays.  The measures (``PHASE_MEASURES``) are taken at the final step T, not as a sup over t: the test
measures and the alignment are end-of-training quantities, and a phase diagram compares where training lands.
(For GD at a stable rate ‖θ_t − θ_0‖ and ‖Θ_t − Θ_0‖ grow with t almost monotonically, so the final value is close
to the sup that Theorem 2.1 bounds: on the digits, from lazy to rich cells, within 0.2% of the sup over every 10th
step; ``ntk_explorer.width_sweep`` reports sup_t over recorded steps.)
"""
from __future__ import annotations

import math
from dataclasses import fields
from typing import Iterator, Optional

import numpy as np
import torch

from ..data import Dataset
from ..dynamics import (ItemStream, StopSignal, check_stop, critical_learning_rates, kernel_matrix, stop_requested,
                        train_stream)
from ..dynamics.losses import Loss
from ..kernels import analytic_kernels, centered_alignment, empirical_ntk
from ..memory import check_training_memory
from ..models import MLP
from ..validation import check_count
from .config import ExperimentConfig, as_config, check_seeds, check_widths, config_device, interactive, progress_bar
from .phase_result import PhaseCell, PhaseDiagram, PhaseRun, PhaseSettings

__all__ = ["lazy_rich_phase", "lazy_rich_phase_stream", "PhaseStream", "check_scales", "classification_accuracy",
           "phase_learning_rate", "PHASE_DEFAULTS", "PHASE_LR_FRACTION", "PHASE_WIDTHS", "PHASE_SCALES"]

PHASE_DEFAULTS = dict(depth=1, lr=None)
PHASE_LR_FRACTION = 0.05
PHASE_WIDTHS = (16, 32, 64, 128, 256, 512)
PHASE_SCALES = (0.03, 0.1, 0.3, 1.0, 3.0, 10.0)
_GRID_KEYS = {"width": "widths", "output_scale": "scales", "parameterization": "parameterization",
              "domain": "dataset", "steps": "steps"}
_DATA_KEYS = ("n_train", "n_eval", "target", "dim", "noise", "data_seed", "classes")
_RECORDING_KEYS = ("record_every", "kernel_every")


def check_scales(scales) -> np.ndarray:
    """Output scales α: a non-empty collection of positive finite numbers, returned sorted and unique."""
    if isinstance(scales, (str, bytes)) or not hasattr(scales, "__iter__"):
        raise TypeError(f"scales must be a list of positive numbers, got {type(scales).__name__}")
    scales = list(scales)
    bad = [a for a in scales if isinstance(a, (bool, np.bool_)) or not isinstance(a, (int, float, np.integer,
                                                                                      np.floating))
           or not math.isfinite(a) or a <= 0]
    if not scales or bad:
        raise ValueError(f"scales must be a non-empty list of positive finite numbers, got {scales!r}"[:200])
    return np.asarray(sorted({float(a) for a in scales}))


def classification_accuracy(outputs, targets) -> float:
    """Fraction of points classified right: sign(f) against ±1 targets (N,) (f ≥ 0 counts as +1, as the labels'
    sign(0) = +1), argmax_o f_o against the argmax of one-hot rows (N, O)."""
    f, y = torch.as_tensor(outputs), torch.as_tensor(targets)
    if y.ndim == 1:
        return float((torch.where(f.reshape(-1) >= 0, 1.0, -1.0) == y.to(torch.float64)).double().mean())
    return float((f.argmax(dim=1) == y.argmax(dim=1)).double().mean())


def _config(parameterization, dataset, steps, config) -> tuple:
    for key, argument in _GRID_KEYS.items():
        if key in config:
            raise TypeError(f"{key!r} is set by the argument {argument!r} of lazy_rich_phase, not by **config")
    for key in _RECORDING_KEYS:
        if key in config:
            raise TypeError(f"{key!r} does not apply: lazy_rich_phase records the initial and the final state only")
    if isinstance(dataset, Dataset):
        given = sorted(set(config) & set(_DATA_KEYS))
        if given:
            raise ValueError(f"{given} describe data, but dataset is a Dataset already; pass a dataset name instead")
        domain = "circle"
    elif isinstance(dataset, str):
        domain = dataset
    else:
        raise TypeError(f"dataset must be a name such as 'digits' or 'circle', or a Dataset, got "
                        f"{type(dataset).__name__}")
    unknown = set(config) - {f.name for f in fields(ExperimentConfig)}
    if unknown:
        raise TypeError(f"unknown config keys {sorted(unknown)}; see ExperimentConfig")
    steps = check_count("steps", steps)
    config = {**PHASE_DEFAULTS, **config}
    lr = config.pop("lr")
    base = ExperimentConfig(**{**config, "parameterization": parameterization, "steps": steps, "domain": domain,
                               "kernel_every": None})
    return base, lr


def phase_learning_rate(data: Dataset, config: ExperimentConfig) -> float:
    """The default base rate: ``PHASE_LR_FRACTION`` × 2N/λ_max(Θ_∞), with Θ_∞ the analytic NTK (infinite width,
    NTK parameterization) of the training inputs, 2N/λ_max the rate above which GD on the linearized MSE model
    diverges (its top eigenmode grows as |1 − lr λ_max/N|^t; ``ntk_explorer.critical_learning_rates``).  The
    same base rate is used in every cell (times ``lr_scale``).  A fixed fraction rather than a fixed number
    because Θ scales with the inputs: unit-norm digits in R^64 have a kernel ~64 times smaller than points on
    the circle.  The fraction is small because at small α the network
    is far from linear and GD diverges well below the linear model's critical rate (a diverged cell is NaN)."""
    kernel = analytic_kernels(data.x_train.to(torch.float64), depth=config.depth, activation=config.activation,
                              sigma_w=config.sigma_w, sigma_b=config.sigma_b).ntk
    return PHASE_LR_FRACTION * critical_learning_rates(kernel).diverge


def _on_device(data: Dataset, device) -> Dataset:
    moved = {name: getattr(data, name).to(device) for name in ("x_train", "y_train", "x_eval", "y_eval")}
    return Dataset(**{**{f.name: getattr(data, f.name) for f in fields(Dataset)}, **moved})


class PhaseStream(ItemStream):
    """The iterator :func:`lazy_rich_phase_stream` returns: yields :class:`PhaseCell` s, widths ascending and
    within a width α ascending.  Before the first cell it already holds the grid (``widths`` (W,), ``scales``
    (A,)), ``seeds``, ``settings`` (a :class:`PhaseSettings`), ``dataset`` (the data every network trains on)
    and ``n_cells``; ``stopped`` turns True when ``stop`` ended the stream early."""

    def __init__(self, widths, scales, seeds, config: ExperimentConfig, data: Dataset, dataset_name: str, stop):
        self.widths, self.scales, self.seeds, self.stop = widths, scales, seeds, stop
        self.config, self.device = config, config_device(config)
        self.dataset = _on_device(data, self.device)
        self.settings = PhaseSettings.from_config(config, seeds, dataset_name, self.dataset)
        self.n_cells = len(widths) * len(scales)
        self.stopped = False
        self._loss = Loss(config.loss, self.dataset.out_dim)
        self._y_eval = self._loss.targets(self.dataset.y_eval, len(self.dataset.y_eval))
        super().__init__(self._generate())

    def _generate(self) -> Iterator[PhaseCell]:
        for i, width in enumerate(self.widths):
            for j, scale in enumerate(self.scales):
                runs = []
                for seed in self.seeds:
                    run = None if stop_requested(self.stop) else self.train_one(int(width), float(scale), seed)
                    if run is None:
                        self.stopped = True
                        return
                    runs.append(run)
                yield PhaseCell.from_runs(i, j, tuple(runs))

    def model(self, width: int, seed: int) -> MLP:
        """The network of one run at initialisation (its parameters are θ_0)."""
        c, data = self.config, self.dataset
        return MLP(data.in_dim, width, c.depth, out_dim=data.out_dim, activation=c.activation,
                   parameterization=c.parameterization, sigma_w=c.sigma_w, sigma_b=c.sigma_b, seed=seed,
                   dtype=data.x_train.dtype, device=self.device)

    def train_one(self, width: int, scale: float, seed: int) -> Optional[PhaseRun]:
        """Trains one network and measures it; None when ``stop`` ended its training."""
        data, model = self.dataset, self.model(width, seed)
        stream = train_stream(model, data.x_train, data.y_train, lr=model.scaled_lr(self.config.lr),
                              steps=self.config.steps, x_eval=data.x_eval, loss=self.config.loss,
                              record_every=self.config.steps, output_scale=scale, stop=self.stop)
        snapshots = list(stream)
        last = snapshots[-1]
        if last.diverged:
            return PhaseRun.diverged_run(width, scale, seed, last.message)
        if last.step < self.config.steps:
            return None
        return self.measure(width, scale, seed, stream, snapshots[0], last)

    def measure(self, width, scale, seed, stream, first, last) -> PhaseRun:
        """Every measure of a finished run from its exhausted ``stream`` (Θ_0, the trained network) and its first
        and last snapshots (losses, h and h^lin on the eval points)."""
        data, n, out = self.dataset, len(self.dataset.y_train), self.dataset.out_dim
        theta_0 = stream.initial_ntk
        theta_t = kernel_matrix(empirical_ntk(stream.network, data.x_train), dtype=theta_0.dtype)[0]
        drift = float(torch.linalg.matrix_norm(theta_t - theta_0) / torch.linalg.matrix_norm(theta_0))
        blocks = [k.reshape(n, out, n, out).permute(0, 2, 1, 3) for k in (theta_0, theta_t)]
        alignment = [centered_alignment(k, data.y_train) for k in blocks]
        gap = np.abs(last.f_eval - last.flin_eval)
        f, f_lin = (torch.as_tensor(a, dtype=data.x_eval.dtype, device=self.device).reshape(len(a), out)
                    for a in (last.f_eval, last.flin_eval))
        accuracy = [classification_accuracy(g.reshape(data.y_eval.shape), data.y_eval) if data.is_classification
                    else math.nan for g in (f, f_lin)]
        return PhaseRun(
            width=width, scale=scale, seed=seed, kernel_drift=drift, param_movement=last.param_distance,
            sup_discrepancy=float(gap.max()), rms_discrepancy=float(np.sqrt(np.mean(gap ** 2))),
            test_loss=float(self._loss.value(f, self._y_eval)),
            test_loss_lin=float(self._loss.value(f_lin, self._y_eval)),
            test_accuracy=accuracy[0], test_accuracy_lin=accuracy[1], train_loss=last.loss,
            train_loss_lin=last.loss_lin, alignment_initial=alignment[0], alignment_final=alignment[1],
            alignment_change=alignment[1] - alignment[0], initial_loss=first.loss)


def lazy_rich_phase_stream(widths, scales, *, parameterization: str = "ntk", dataset="digits", steps: int = 300,
                           seeds=1, stop: StopSignal = None, **config) -> PhaseStream:
    """Trains one network per (width n, output scale α, seed) and yields a :class:`PhaseCell` per (n, α), seeds
    averaged, as soon as it is done (the module docstring gives the model h = f_0 + α(f − f_0), trained with rate
    lr/α², lr = base ``lr`` × the parameterization's ``lr_scale``).

    widths: positive integers; scales: positive α (both sorted, duplicates dropped).  parameterization: "ntk",
    "standard" or "mup" (``ntk_explorer.models``).  dataset: a name ("digits", or a synthetic domain "circle",
    "sphere", "hypercube" built with the data keys of ``config``: n_train, n_eval, target, classes, data_seed, …)
    or a :class:`~ntk_explorer.data.Dataset`.  steps: GD steps per network.  seeds: a count or a list of network
    seeds (the data stay fixed).  stop: threading.Event or callable; once set the stream ends within one cell
    (the unfinished cell is not yielded, ``stream.stopped`` becomes True).  config: other fields of
    :class:`~ntk_explorer.experiments.ExperimentConfig` (depth, activation, sigma_w, sigma_b, lr, loss, device;
    defaults ``PHASE_DEFAULTS``: depth 1, and lr None for :func:`phase_learning_rate`; the rate used is in
    ``stream.settings.lr``).  Arguments and the memory of the widest run are checked before
    anything is trained (MemoryBudgetError says what to lower)."""
    widths, scales, seeds = check_widths(widths), check_scales(scales), check_seeds(seeds)
    check_stop(stop)
    base, lr = _config(parameterization, dataset, steps, config)
    data = dataset if isinstance(dataset, Dataset) else base.dataset()
    base = as_config(base, lr=phase_learning_rate(data, base) if lr is None else lr)
    check_training_memory(len(data.y_train), len(data.y_eval), width=int(widths[-1]), depth=base.depth,
                          in_dim=data.in_dim, out_dim=data.out_dim, itemsize=data.x_train.element_size(),
                          device=config_device(base))
    name = dataset if isinstance(dataset, str) else f"Dataset({data.domain})"
    return PhaseStream(widths, scales, seeds, base, data, name, stop)


def lazy_rich_phase(widths, scales, *, parameterization: str = "ntk", dataset="digits", steps: int = 300,
                    seeds=1, stop: StopSignal = None, progress: Optional[bool] = None, **config) -> PhaseDiagram:
    """Runs :func:`lazy_rich_phase_stream` with the same arguments and returns the :class:`PhaseDiagram` of every
    measure as (W, A) arrays (NaN for cells not reached when ``stop`` ended it: ``diagram.complete`` is False).
    progress: a tqdm bar over cells (default: when interactive)."""
    stream = lazy_rich_phase_stream(widths, scales, parameterization=parameterization, dataset=dataset,
                                    steps=steps, seeds=seeds, stop=stop, **config)
    cells = stream
    if interactive() if progress is None else progress:
        cells = progress_bar(stream, total=stream.n_cells, desc="lazy-rich phase")
    done = tuple(cells)
    return PhaseDiagram.from_cells(stream.widths, stream.scales, stream.settings, done,
                                   complete=not stream.stopped and len(done) == stream.n_cells)

