"""What :func:`ntk_explorer.lazy_rich_phase` returns: one :class:`PhaseRun` per network, one :class:`PhaseCell`
per (width, α) with the mean over seeds, and the :class:`PhaseDiagram` of (W, A) arrays with its settings."""
from __future__ import annotations

import math
import warnings
from dataclasses import asdict, dataclass
from typing import NamedTuple, Optional

import numpy as np

__all__ = ["PHASE_MEASURES", "PHASE_MEASURE_LABELS", "PhaseRun", "PhaseCell", "PhaseDiagram", "PhaseSettings",
           "PhaseSlopes", "fit_phase_slopes"]

# measure → (short label, definition); every measure is taken at the final step T
PHASE_MEASURE_LABELS = {
    "kernel_drift": ("kernel drift", "‖Θ_T − Θ_0‖_F / ‖Θ_0‖_F on the training set"),
    "param_movement": ("parameter movement", "‖θ_T − θ_0‖ / ‖θ_0‖"),
    "sup_discrepancy": ("sup |f − f^lin|", "max over eval points (and outputs) of |h_T − h^lin_T|"),
    "rms_discrepancy": ("RMS |f − f^lin|", "root mean square over eval points (and outputs) of h_T − h^lin_T"),
    "test_loss": ("test loss of f", "the training loss function on the eval points, network h_T"),
    "test_loss_lin": ("test loss of f^lin", "the training loss function on the eval points, linearization h^lin_T"),
    "test_accuracy": ("test accuracy of f", "sign (±1 targets) or argmax (one-hot) of h_T; NaN for regression"),
    "test_accuracy_lin": ("test accuracy of f^lin", "the same for h^lin_T"),
    "train_loss": ("training loss of f", "L(h_T) on the training set"),
    "train_loss_lin": ("training loss of f^lin", "L(h^lin_T) on the training set"),
    "alignment_initial": ("alignment of Θ_0", "centered alignment A(Θ_0, YYᵀ) on the training set"),
    "alignment_final": ("alignment of Θ_T", "centered alignment A(Θ_T, YYᵀ) on the training set"),
    "alignment_change": ("alignment change", "A(Θ_T, YYᵀ) − A(Θ_0, YYᵀ) (Cortes, Mohri & Rostamizadeh 2012)"),
    "initial_loss": ("initial training loss", "L(h_0) on the training set"),
}
PHASE_MEASURES = tuple(PHASE_MEASURE_LABELS)


@dataclass(frozen=True, eq=False)
class PhaseRun:
    """One trained network: its width, output scale α and seed, every measure of ``PHASE_MEASURES`` (floats, NaN
    when it diverged), ``diverged`` and the divergence ``message``."""
    width: int
    scale: float
    seed: int
    kernel_drift: float
    param_movement: float
    sup_discrepancy: float
    rms_discrepancy: float
    test_loss: float
    test_loss_lin: float
    test_accuracy: float
    test_accuracy_lin: float
    train_loss: float
    train_loss_lin: float
    alignment_initial: float
    alignment_final: float
    alignment_change: float
    initial_loss: float
    diverged: bool = False
    message: str = ""

    @classmethod
    def diverged_run(cls, width, scale, seed, message) -> "PhaseRun":
        return cls(width, scale, seed, **{m: math.nan for m in PHASE_MEASURES}, diverged=True, message=message)


def _mean_std(values) -> tuple:
    values = np.asarray(values, dtype=np.float64)
    values = values[np.isfinite(values)]
    if len(values) == 0:
        return math.nan, math.nan
    return float(values.mean()), (float(values.std(ddof=1)) if len(values) > 1 else math.nan)


@dataclass(frozen=True, eq=False)
class PhaseCell:
    """One (width, α) cell: ``row``/``column`` its index in the grid, ``seeds``, the ``runs`` (one
    :class:`PhaseRun` per seed), every measure of ``PHASE_MEASURES`` as the mean over the runs that did not
    diverge (NaN if all did), ``std`` (measure → sample std over those runs, NaN for fewer than two) and
    ``n_diverged``.  ``messages`` holds the divergence messages."""
    row: int
    column: int
    width: int
    scale: float
    seeds: tuple
    runs: tuple
    std: dict
    n_diverged: int
    messages: tuple
    kernel_drift: float
    param_movement: float
    sup_discrepancy: float
    rms_discrepancy: float
    test_loss: float
    test_loss_lin: float
    test_accuracy: float
    test_accuracy_lin: float
    train_loss: float
    train_loss_lin: float
    alignment_initial: float
    alignment_final: float
    alignment_change: float
    initial_loss: float

    @classmethod
    def from_runs(cls, row: int, column: int, runs: tuple) -> "PhaseCell":
        stats = {m: _mean_std([getattr(r, m) for r in runs if not r.diverged]) for m in PHASE_MEASURES}
        return cls(row=row, column=column, width=runs[0].width, scale=runs[0].scale,
                   seeds=tuple(r.seed for r in runs), runs=tuple(runs), std={m: s[1] for m, s in stats.items()},
                   n_diverged=sum(r.diverged for r in runs), messages=tuple(r.message for r in runs if r.diverged),
                   **{m: s[0] for m, s in stats.items()})

    @property
    def alpha_sqrt_width(self) -> float:
        """α√n, the lazy-training scale of Chizat, Oyallon & Bach 2019 and Geiger et al. 2020."""
        return self.scale * math.sqrt(self.width)


@dataclass(frozen=True)
class PhaseSettings:
    """What every network of a diagram shares: the parameterization, GD (steps, base lr, loss), the network
    (depth, activation, sigma_w, sigma_b), the seeds, the data (``dataset`` name, ``n_train``, ``n_eval``,
    ``classes``, ``data_seed``, ``target`` for synthetic domains) and the device."""
    parameterization: str
    steps: int
    lr: float
    loss: str
    depth: int
    activation: str
    sigma_w: float
    sigma_b: float
    seeds: tuple
    dataset: str
    n_train: int
    n_eval: int
    classes: Optional[tuple]
    data_seed: int
    target: Optional[str]
    device: str

    @classmethod
    def from_config(cls, config, seeds, dataset_name, data) -> "PhaseSettings":
        synthetic = dataset_name in ("circle", "sphere", "hypercube")
        return cls(config.parameterization, config.steps, config.lr, config.loss, config.depth, config.activation,
                   config.sigma_w, config.sigma_b, tuple(seeds), dataset_name, len(data.y_train), len(data.y_eval),
                   data.classes, config.data_seed, config.target if synthetic and isinstance(config.target, str)
                   else None, str(data.x_train.device))

    def as_dict(self) -> dict:
        return asdict(self)


class PhaseSlopes(NamedTuple):
    """Least-squares fit log m = intercept + width · log n + scale · log α over the cells (e.g. the kernel drift
    of the NTK parameterization: width ≈ −½ … −1, scale ≈ −1)."""
    width: float
    scale: float
    intercept: float


@dataclass(frozen=True, eq=False)
class PhaseDiagram:
    """The result of :func:`ntk_explorer.lazy_rich_phase`: the grid ``widths`` (W,) and ``scales`` (A,), the
    ``settings``, the ``cells`` in the order they finished, ``values`` (measure → (W, A) mean over seeds, NaN
    where a cell was not reached or every seed diverged), ``std`` (measure → (W, A)), ``n_diverged`` (W, A)
    and ``complete`` (False when stopped early).  ``diagram["kernel_drift"]`` is ``values["kernel_drift"]``."""
    widths: np.ndarray
    scales: np.ndarray
    settings: PhaseSettings
    cells: tuple
    values: dict
    std: dict
    n_diverged: np.ndarray
    complete: bool

    @classmethod
    def from_cells(cls, widths, scales, settings, cells, complete: bool = True) -> "PhaseDiagram":
        """Assembles a (possibly partial) diagram from cells, e.g. those a stream has yielded so far."""
        widths, scales = np.asarray(widths), np.asarray(scales, dtype=np.float64)
        shape = (len(widths), len(scales))
        values = {m: np.full(shape, math.nan) for m in PHASE_MEASURES}
        std = {m: np.full(shape, math.nan) for m in PHASE_MEASURES}
        diverged = np.zeros(shape, dtype=int)
        for cell in cells:
            for m in PHASE_MEASURES:
                values[m][cell.row, cell.column] = getattr(cell, m)
                std[m][cell.row, cell.column] = cell.std[m]
            diverged[cell.row, cell.column] = cell.n_diverged
        return cls(widths, scales, settings, tuple(cells), values, std, diverged, bool(complete))

    def __getitem__(self, measure: str) -> np.ndarray:
        if measure not in self.values:
            raise KeyError(f"unknown measure {measure!r}; choose one of {PHASE_MEASURES}")
        return self.values[measure]

    @property
    def alpha_sqrt_width(self) -> np.ndarray:
        """(W, A) array of α√n, whose level sets are the predicted iso-lines of the kernel drift."""
        return self.scales[None, :] * np.sqrt(self.widths[:, None].astype(np.float64))

    def cell(self, width: int, scale: float) -> PhaseCell:
        for cell in self.cells:
            if cell.width == width and math.isclose(cell.scale, scale):
                return cell
        raise KeyError(f"no cell at width {width}, scale {scale}")

    def rows(self) -> list:
        """One dict per finished cell: width, scale, α√n, n_diverged and every measure's mean."""
        return [{"width": c.width, "scale": c.scale, "alpha_sqrt_width": c.alpha_sqrt_width,
                 "n_diverged": c.n_diverged, **{m: getattr(c, m) for m in PHASE_MEASURES}} for c in self.cells]

    def table(self, measure: str = "kernel_drift") -> str:
        """The (W, A) grid of one measure as text, widths down and α across."""
        grid = self[measure]
        head = f"{measure} (rows: width n, columns: α)\n{'n':>7}" + "".join(f"{a:>11.4g}" for a in self.scales)
        lines = [f"{int(w):>7d}" + "".join(f"{v:>11.4g}" for v in grid[i]) for i, w in enumerate(self.widths)]
        return "\n".join([head] + lines)

    def __str__(self) -> str:
        return "\n\n".join(self.table(m) for m in ("kernel_drift", "test_accuracy", "test_accuracy_lin"))


def fit_phase_slopes(diagram: PhaseDiagram, measure: str = "kernel_drift") -> PhaseSlopes:
    """Fits log(measure) = c + a log n + b log α over every finished cell with a positive finite value."""
    grid = diagram[measure]
    log_n, log_a = np.meshgrid(np.log(diagram.widths.astype(np.float64)), np.log(diagram.scales), indexing="ij")
    keep = np.isfinite(grid) & (grid > 0)
    if keep.sum() < 3 or len(np.unique(log_n[keep])) < 2 or len(np.unique(log_a[keep])) < 2:
        return PhaseSlopes(math.nan, math.nan, math.nan)
    design = np.stack([np.ones(keep.sum()), log_n[keep], log_a[keep]], axis=1)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        coef = np.linalg.lstsq(design, np.log(grid[keep]), rcond=None)[0]
    return PhaseSlopes(float(coef[1]), float(coef[2]), float(coef[0]))

