"""Width sweeps: one network per (width, seed), the sup over training of the three Theorem 2.1 quantities, and
log-log slopes against width.
"""
from __future__ import annotations

import math
import warnings
from dataclasses import dataclass
from typing import NamedTuple, Optional

import numpy as np

from ..dynamics import train
from ..memory import check_training_memory
from .config import as_config, check_seeds, check_widths, config_device, interactive

__all__ = ["width_sweep", "WidthSweep", "Slope", "fit_slope", "SWEEP_METRICS"]

SWEEP_METRICS = ("discrepancy", "kernel_drift", "param_distance")


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


def fit_slope(widths: np.ndarray, values: np.ndarray) -> Slope:
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
    widths, seeds, base = check_widths(widths), check_seeds(seeds), as_config(config)
    check_training_memory(base.n_train, base.n_eval, width=int(widths[-1]), depth=base.depth, in_dim=base.in_dim,
                          out_dim=base.out_dim, device=config_device(base))  # the widest run, before allocating
    data = base.dataset()
    values = {m: np.full((len(widths), len(seeds)), math.nan) for m in SWEEP_METRICS}
    runs = [(i, j) for i in range(len(widths)) for j in range(len(seeds))]
    if interactive() if progress is None else progress:
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
    slopes = {m: fit_slope(widths, v) for m, v in values.items()}
    return WidthSweep(widths, seeds, values, mean, std, slopes)
