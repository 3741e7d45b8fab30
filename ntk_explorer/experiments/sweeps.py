"""Width sweeps: one network per (width, seed), the sup over training of the three Theorem 2.1 quantities, and
log-log slopes against width.

:func:`width_sweep_stream` yields the runs one at a time (a panel draws the partial sweep as they arrive, and can
stop it); :func:`summarize_sweep` tabulates any (W, S) table of values, partial ones included (NaN where a run
diverged or has not run); :func:`width_sweep` is the stream followed by the summary.
"""
from __future__ import annotations

import math
import warnings
from dataclasses import dataclass
from typing import Iterator, NamedTuple, Optional

import numpy as np

from ..dynamics import ItemStream, StopSignal, check_stop, stop_requested, train
from ..memory import check_training_memory
from .config import ExperimentConfig, as_config, check_seeds, check_widths, config_device, interactive, progress_bar

__all__ = ["width_sweep", "width_sweep_stream", "SweepRun", "SweepStream", "summarize_sweep", "summarize_runs",
           "WidthSweep", "Slope", "fit_slope", "loglog_slope", "SWEEP_METRICS"]

SWEEP_METRICS = ("discrepancy", "kernel_drift", "param_distance")


class Slope(NamedTuple):
    """Least-squares slope of log(metric) against log(width) over all (width, seed) runs."""
    slope: float
    stderr: float


@dataclass(frozen=True, eq=False)
class WidthSweep:
    """``values[metric]``: (W, S) array of sup_t metric per width and seed (NaN for a diverged run);
    ``mean``/``std`` over seeds (W,); ``slopes[metric]``: fitted log-log :class:`Slope`.  Theorem 2.1 of
    Lee et al. (2019) bounds the metrics by O(width^{−1/2}); finer analyses predict width^{−1} for the
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


def loglog_slope(x, y) -> Slope:
    """Least-squares slope of log y on log x over the pairs with finite y > 0 (a diverged run's NaN, a recorded
    0, are left out), with its standard error (NaN with fewer than three pairs).  NaN slope when fewer than two
    distinct x remain."""
    x, y = np.asarray(x, dtype=np.float64).reshape(-1), np.asarray(y, dtype=np.float64).reshape(-1)
    if x.shape != y.shape:
        raise ValueError(f"x and y must have the same number of entries, got {x.size} and {y.size}")
    keep = np.isfinite(y) & (y > 0)
    if not (np.isfinite(x[keep]).all() and (x[keep] > 0).all()):
        raise ValueError("x must be finite and positive where y is (log-log axes)")
    x, y = np.log(x[keep]), np.log(y[keep])
    if len(np.unique(x)) < 2:
        return Slope(math.nan, math.nan)
    xc = x - x.mean()
    slope = float(xc @ (y - y.mean()) / (xc @ xc))
    residual = y - y.mean() - slope * xc
    stderr = math.sqrt(residual @ residual / (len(x) - 2) / (xc @ xc)) if len(x) > 2 else math.nan
    return Slope(slope, stderr)


def fit_slope(widths, values) -> Slope:
    """:func:`loglog_slope` of ``values`` ((W, S): one row per width) against ``widths`` (W,) over all runs."""
    values = np.asarray(values, dtype=np.float64)
    if values.ndim != 2 or values.shape[0] != len(widths):
        raise ValueError(f"values must have shape (len(widths), seeds) = ({len(widths)}, S), got {values.shape}")
    return loglog_slope(np.repeat(np.asarray(widths, dtype=np.float64), values.shape[1]), values)


@dataclass(frozen=True, eq=False)
class SweepRun:
    """One finished (width, seed) run of a width sweep.  ``values[metric]``: sup over training of each of
    :data:`SWEEP_METRICS` (NaN for all of them when the run diverged; the kernel drift is NaN without
    kernel_every); ``diverged`` and ``message`` (the divergence message, else ""); ``width_index`` and
    ``seed_index``: its row and column in the sweep's (W, S) tables."""
    width: int
    seed: int
    width_index: int
    seed_index: int
    values: dict
    diverged: bool = False
    message: str = ""


class SweepStream(ItemStream):
    """The iterator :func:`width_sweep_stream` returns: yields :class:`SweepRun` s in width-major order.
    ``widths`` (sorted, distinct), ``seeds`` and ``config`` (the :class:`ExperimentConfig` of every run, width
    excepted) are known before the first run; ``len(stream)`` is the number of (width, seed) runs."""

    def __init__(self, widths: np.ndarray, seeds: tuple, config: ExperimentConfig, stop: StopSignal):
        self.widths, self.seeds, self.config = widths, seeds, config
        super().__init__(_sweep_runs(widths, seeds, config, stop))

    def __len__(self) -> int:
        return len(self.widths) * len(self.seeds)


def width_sweep_stream(widths, seeds, *, stop: StopSignal = None, **config) -> SweepStream:
    """Trains ``config`` (keyword fields of :class:`ExperimentConfig`, width excepted) at every width and seed,
    smallest width first, and yields a :class:`SweepRun` as each run finishes.  ``stop`` (a threading.Event or
    a callable returning True to stop, as in :func:`ntk_explorer.train_stream`) is checked before each run and
    passed into its training: once set, the run in progress ends within one GD step and is not yielded, and the
    stream ends.  Arguments are checked, and the widest run's memory (``ntk_explorer.memory``) and the data set
    made, when this is called, before any run."""
    widths, seeds, base = check_widths(widths), check_seeds(seeds), as_config(config)
    check_stop(stop)
    check_training_memory(base.n_train, base.n_eval, width=int(widths[-1]), depth=base.depth, in_dim=base.in_dim,
                          out_dim=base.out_dim, device=config_device(base))  # the widest run, before allocating
    return SweepStream(widths, seeds, base, stop)


def _sweep_runs(widths, seeds, base: ExperimentConfig, stop: StopSignal) -> Iterator[SweepRun]:
    data = base.dataset()
    for i, width in enumerate(widths):
        for j, seed in enumerate(seeds):
            if stop_requested(stop):
                return
            model = base.model(seed, int(width))
            trajectory = train(model, data.x_train, data.y_train, lr=model.scaled_lr(base.lr), steps=base.steps,
                               x_eval=data.x_eval, loss=base.loss, record_every=base.record_every,
                               kernel_every=base.kernel_every, output_scale=base.output_scale, stop=stop)
            diverged = bool(trajectory.diverged.any())
            if not diverged and int(trajectory.step[-1]) < base.steps:
                return  # stopped during training: an unfinished run has no sup over training
            values = {m: math.nan if diverged else _sup(getattr(trajectory, m)) for m in SWEEP_METRICS}
            yield SweepRun(int(width), seed, i, j, values, diverged, str(trajectory.final.message))


def _sup(values: np.ndarray) -> float:
    recorded = values[~np.isnan(values)]  # the kernel drift is NaN at steps where it was not computed
    return float(recorded.max()) if recorded.size else math.nan


def summarize_sweep(widths, seeds, values) -> WidthSweep:
    """The :class:`WidthSweep` of ``values[metric]`` ((W, S) arrays for every metric of :data:`SWEEP_METRICS`,
    NaN where a run diverged or has not run yet): per width the mean and the std (ddof=1) over the finite
    values (NaN with none, std NaN with fewer than two), and per metric the log-log :func:`fit_slope` over all
    finite positive values.  ``widths``: increasing, distinct; ``seeds``: a count or the list of seeds."""
    checked, seeds = check_widths(widths), check_seeds(seeds)
    if [int(w) for w in widths] != checked.tolist():
        raise ValueError(f"widths must be increasing and distinct, got {list(widths)!r}"[:200])
    if not isinstance(values, dict) or set(values) != set(SWEEP_METRICS):
        raise ValueError(f"values must be a dict with the keys {SWEEP_METRICS}")
    values = {m: np.array(values[m], dtype=np.float64) for m in SWEEP_METRICS}  # copies: the caller keeps filling
    for m, v in values.items():
        if v.shape != (len(checked), len(seeds)):
            raise ValueError(f"values[{m!r}] has shape {v.shape}, expected (widths, seeds) = "
                             f"{(len(checked), len(seeds))}")
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN rows (diverged or not yet run), one seed
        mean = {m: np.nanmean(v, axis=1) for m, v in values.items()}
        std = {m: np.nanstd(v, axis=1, ddof=1) for m, v in values.items()}
    slopes = {m: fit_slope(checked, v) for m, v in values.items()}
    return WidthSweep(checked, seeds, values, mean, std, slopes)


def summarize_runs(widths, seeds, runs) -> WidthSweep:
    """:func:`summarize_sweep` of the :class:`SweepRun` s received so far from
    ``width_sweep_stream(widths, seeds, ...)`` (the stream's ``widths`` and ``seeds``); runs not received count
    as NaN."""
    checked, seeds = check_widths(widths), check_seeds(seeds)
    values = {m: np.full((len(checked), len(seeds)), math.nan) for m in SWEEP_METRICS}
    for run in runs:
        if not isinstance(run, SweepRun):
            raise TypeError(f"runs must be SweepRun objects, got {type(run).__name__}")
        if run.width_index >= len(checked) or checked[run.width_index] != run.width \
                or run.seed_index >= len(seeds) or seeds[run.seed_index] != run.seed:
            raise ValueError(f"run (width {run.width}, seed {run.seed}) is not part of a sweep over widths "
                             f"{checked.tolist()} and seeds {list(seeds)}"[:300])
        for m in SWEEP_METRICS:
            values[m][run.width_index, run.seed_index] = run.values[m]
    return summarize_sweep(checked, seeds, values)


def width_sweep(widths, seeds, *, progress: Optional[bool] = None, **config) -> WidthSweep:
    """Trains ``config`` (keyword fields of :class:`ExperimentConfig`, width excepted) at every width and
    seed and tabulates sup_t discrepancy, sup_t kernel drift (needs kernel_every) and sup_t parameter
    distance: :func:`width_sweep_stream` followed by :func:`summarize_runs`.  ``progress``: tqdm bar (default:
    when interactive).  The widest run's memory is checked before anything is allocated (``ntk_explorer.memory``;
    MemoryBudgetError says which setting to lower)."""
    stream = width_sweep_stream(widths, seeds, **config)
    runs = progress_bar(stream, total=len(stream), desc="width sweep") \
        if (interactive() if progress is None else progress) else stream
    return summarize_runs(stream.widths, stream.seeds, list(runs))
