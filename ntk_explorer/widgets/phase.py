"""Lazy-vs-rich panel: the phase diagram of ``ntk_explorer.lazy_rich_phase_stream`` over (width n, output scale α),
filled live cell by cell, with the predicted iso-lines α√n = c; a click on a cell opens the lazy-training tab there.
"""
from __future__ import annotations

import html
import math
import threading
from dataclasses import dataclass
from typing import Optional

import ipywidgets as W
import numpy as np
import torch

from ..data import parse_target
from ..experiments import (PHASE_MEASURE_LABELS, PHASE_MEASURES, PhaseDiagram, alpha_sqrt_width_isolines,
                           fit_phase_slopes, grid_edges, lazy_rich_phase_stream)
from ..plots import panels as P
from .lazy import LazySettings
from .lazy_setup import CLASS_PRESETS, digit_classes
from .panel import Panel, buttons
from .runner import format_status
from .settings import Choice, IntRange, Settings, Text, setting

__all__ = ["LazyRichPanel", "LazyRichSettings", "PhaseFrame", "GRID_WIDTHS", "GRID_SCALES", "CLASS_PRESETS",
           "digit_classes"]

GRID_WIDTHS = (8, 16, 32, 64, 128, 256, 512, 1024, 2048)
GRID_SCALES = (0.01, 0.03, 0.1, 0.3, 1.0, 3.0, 10.0, 30.0, 100.0)


@dataclass(frozen=True)
class LazyRichSettings(Settings):
    """Settings of the lazy-vs-rich panel.  The grid is every width of GRID_WIDTHS between ``min_width`` and
    ``max_width`` times every α of GRID_SCALES between ``min_scale`` and ``max_scale`` (either order); one
    network per cell and seed, trained on the digits ``classes`` or on the circle with ``target``.  ``measure``
    only chooses what the heat map shows (no new run)."""
    measure: str = setting("kernel_drift", Choice("show", PHASE_MEASURES))
    parameterization: str = setting("ntk", Choice("parameterization", ("ntk", "standard", "mup"), style="toggle"))
    min_width: int = setting(16, Choice("smallest width", GRID_WIDTHS, style="slider"))
    max_width: int = setting(128, Choice("largest width", GRID_WIDTHS, style="slider"))
    min_scale: float = setting(0.1, Choice("smallest α", GRID_SCALES, style="slider"))
    max_scale: float = setting(10.0, Choice("largest α", GRID_SCALES, style="slider"))
    dataset: str = setting("digits", Choice("data", ("digits", "circle"), style="toggle"))
    classes: str = setting("3,8", Choice("digits", CLASS_PRESETS))
    target: str = setting("sin(3*t)", Text("target f*(t)", validate=parse_target))
    n_train: int = setting(32, IntRange("training points", 4, 128))
    n_eval: int = setting(128, IntRange("eval points", 16, 256))
    steps: int = setting(300, IntRange("GD steps", 10, 2000, step=10))
    depth: int = setting(1, IntRange("hidden layers", 1, 3))
    activation: str = setting("relu", Choice("activation", ("relu", "erf", "tanh")))
    seeds: int = setting(1, IntRange("seeds per cell", 1, 5))

    def widths(self) -> list:
        low, high = sorted((self.min_width, self.max_width))
        return [w for w in GRID_WIDTHS if low <= w <= high]

    def scales(self) -> list:
        low, high = sorted((self.min_scale, self.max_scale))
        return [a for a in GRID_SCALES if low <= a <= high]

    def phase_arguments(self) -> dict:
        """The keyword arguments of ``ntk_explorer.lazy_rich_phase`` besides the widths and scales."""
        data = (dict(dataset="digits", classes=digit_classes(self.classes)) if self.dataset == "digits"
                else dict(dataset="circle", target=self.target))
        return dict(parameterization=self.parameterization, steps=self.steps, seeds=self.seeds, depth=self.depth,
                    activation=self.activation, n_train=self.n_train, n_eval=self.n_eval, **data)


@dataclass(frozen=True, eq=False)
class PhaseFrame:
    """The diagram so far (``diagram``: a :class:`~ntk_explorer.experiments.PhaseDiagram` of the finished cells,
    NaN elsewhere), the iso-lines over its grid and the number of cells of the whole grid."""
    diagram: PhaseDiagram
    lines: tuple
    n_cells: int

    @property
    def done(self) -> np.ndarray:
        done = np.zeros((len(self.diagram.widths), len(self.diagram.scales)), dtype=bool)
        for cell in self.diagram.cells:
            done[cell.row, cell.column] = True
        return done

    def columns(self) -> dict:
        rows = self.diagram.rows()
        names = ["width", "scale", "alpha_sqrt_width", "n_diverged", *PHASE_MEASURES]
        columns = {name: np.asarray([row[name] for row in rows], dtype=np.float64) for name in names}
        for name in ("width", "n_diverged"):
            columns[name] = columns[name].astype(int)
        return columns


EQUATIONS = r"""
<p><b>Model</b> (Chizat, Oyallon &amp; Bach 2019, "On Lazy Training in Differentiable Programming"): each cell trains
$h=f_0+\alpha(f-f_0)$ of width $n$ by gradient descent on the MSE with rate $\eta/\alpha^2$ (times the
parameterization's rate factor), for the chosen number of steps, next to its linearization $h^{lin}$. Large
$\alpha$ moves the parameters by $O(1/\alpha)$: the network stays close to $h^{lin}$ (lazy); small $\alpha$ lets the
features and the kernel move (rich).</p>
<p><b>Measures</b> at the last step $T$: kernel drift $\|\Theta_T-\Theta_0\|_F/\|\Theta_0\|_F$, parameter movement
$\|\theta_T-\theta_0\|/\|\theta_0\|$, sup and RMS $|h_T-h^{lin}_T|$ on the eval points, test loss and accuracy of
$h_T$ and $h^{lin}_T$, and the change of the centered kernel–target alignment
$A(\Theta,YY^T)=\langle \bar\Theta,\overline{YY^T}\rangle_F/(\|\bar\Theta\|_F\|\overline{YY^T}\|_F)$
(Cortes, Mohri &amp; Rostamizadeh 2012; bars: centered).</p>
<p><b>Iso-lines.</b> In NTK parameterization Lee et al. 2019, Theorem 2.1 bounds the kernel drift by $O(1/\sqrt n)$,
and the output scale divides the motion by $\alpha$: the drift falls like $1/(\alpha\sqrt n)$, so its level sets are the
dashed lines $\alpha\sqrt n=c$. Geiger, Spigler, Jacot &amp; Wyart 2020 ("Disentangling feature and lazy training in
deep neural networks") put the crossover between the regimes at $\alpha\sqrt n$ of order one. Under the
maximal-update parameterization "mup" (Yang &amp; Hu 2021, "Feature Learning in Infinite-Width Neural Networks") the
features move by $\Theta(1)$ at every width: the drift no longer vanishes as $n$ grows and the lines stop being
level sets. The fitted exponents under the plot are a least-squares fit of
$\log m = c + a\log n + b\log\alpha$ over the finished cells.</p>
<p>A click on a cell opens the Lazy training tab at that width and $\alpha$, on the same data and with the same
network and rate (the nearest width of its slider; $\alpha$ clipped to its range; at most 64 training points).
There the test accuracy of $f$ and $f^{lin}$ is followed step by step.</p>
"""


class LazyRichPanel(Panel):
    """The lazy↔rich phase diagram over (width, α) (settings: :class:`LazyRichSettings`): cells appear as
    ``lazy_rich_phase_stream`` yields them (progress bar; Stop ends the run within one cell), the heat map shows
    the chosen measure with the iso-lines α√n = c; a click on a cell (or :meth:`open_cell`) opens the
    lazy-training tab at that width and α.  Runs start with the Run button (and on first display)."""

    Settings = LazyRichSettings
    key, title, equations, run_label = "phase", "Lazy vs rich", EQUATIONS, "phase diagram"
    auto_run = False
    snippet_imports = "from ntk_explorer import lazy_rich_phase\n"
    snippet_body = """diagram = lazy_rich_phase(s.widths(), s.scales(), **s.phase_arguments())
print(diagram.table(s.measure))
"""

    def __init__(self, settings: Optional[LazyRichSettings] = None, /, **overrides):
        self._paint_lock = threading.Lock()  # frames from the worker and measure changes from the kernel
        super().__init__(settings, **overrides)

    def make_figure(self):
        return P.phase_figure()

    def view(self):
        self.run_button, self.stop_button = buttons(("Run", "play", "compute the phase diagram", True),
                                                    ("Stop", "stop", "stop after the cell in progress", False))
        self.progress = W.IntProgress(value=0, min=0, max=1, description="cells", style={"description_width": "60px"},
                                      layout=W.Layout(width="310px"))
        self.summary = W.HTML()
        self.run_button.on_click(lambda _: self.run())
        self.stop_button.on_click(lambda _: self.stop())
        measure = self.controls["measure"]
        self._syncing = True  # readable labels; the value stays the measure's name
        try:
            measure.options = [(PHASE_MEASURE_LABELS[m][0], m) for m in PHASE_MEASURES]
            measure.value = self.settings.measure
        finally:
            self._syncing = False
        P.trace_keys(self.figure)["cells"].on_click(self._on_cell_click)
        hint = W.HTML("<small>Click a cell to open the Lazy training tab at that width and α.</small>")
        return [W.HBox([self.run_button, self.stop_button]), self.progress, *self.controls.values()], \
            [self.summary, hint]

    def relevant(self, name: str) -> bool:
        if name == "classes":
            return self.settings.dataset == "digits"
        if name == "target":
            return self.settings.dataset == "circle"
        return True

    def settings_changed(self):
        """A control change starts no run (the Run button does); the heat map follows the chosen measure."""
        self.redraw()
        return None

    # ------------------------------------------------------------------------------------- running
    def job(self, ctx, settings):
        torch.set_num_threads(torch.get_num_threads())  # the main thread's setting does not reach this thread
        stream = lazy_rich_phase_stream(settings.widths(), settings.scales(), stop=ctx.stop,
                                        **settings.phase_arguments())
        lines = alpha_sqrt_width_isolines(stream.widths, stream.scales)
        total = stream.n_cells

        def frame(cells):
            diagram = PhaseDiagram.from_cells(stream.widths, stream.scales, stream.settings, tuple(cells),
                                              complete=len(cells) == total)
            return PhaseFrame(diagram, lines, total)
        cells = ctx.collect(stream, total, frame, lambda cell: f"width {cell.width}, α = {cell.scale:g}",
                            status=f"0/{total} cells (base lr {stream.settings.lr:.3g})")
        diverged = sum(cell.n_diverged for cell in cells)
        note = f"; {diverged} diverged runs (NaN)" if diverged else ""
        return f"done: {total} cells in {ctx.elapsed():.1f} s, base lr {stream.settings.lr:.3g}{note}."

    # ------------------------------------------------------------------------------------- drawing
    def draw(self, frame: PhaseFrame):
        with self._paint_lock:
            self._paint(frame)

    def redraw(self) -> None:
        """Draws the last frame again with the current measure (e.g. after the measure changed)."""
        if self.frame is None:
            return
        with self._paint_lock, self.figure.batch_update():
            self._paint(self.frame)

    def _paint(self, frame: PhaseFrame):
        diagram, measure = frame.diagram, self.settings.measure
        label = PHASE_MEASURE_LABELS[measure][0]
        edges = (grid_edges(diagram.widths), grid_edges(diagram.scales))
        traces, layout = P.phase_updates(diagram.widths, diagram.scales, edges, diagram[measure],
                                         diagram.n_diverged, frame.done, diagram.alpha_sqrt_width, measure, label,
                                         frame.lines)
        P.set_traces(self.figure, traces)
        settings = diagram.settings
        self.figure.update_layout(title_text=f"{label} ({settings.parameterization} parameterization, "
                                             f"{settings.dataset}), {len(diagram.cells)}/{frame.n_cells} cells",
                                  **layout)
        self.progress.max, self.progress.value = max(1, frame.n_cells), len(diagram.cells)
        self.summary.value = self._summary(diagram, measure, label)

    @staticmethod
    def _summary(diagram: PhaseDiagram, measure: str, label: str) -> str:
        slopes = fit_phase_slopes(diagram, measure)
        fit = ("fit over the finished cells: not enough positive cells yet" if math.isnan(slopes.width) else
               f"fit over the finished cells: {html.escape(label)} ∝ n^{slopes.width:.2f} · α^{slopes.scale:.2f}")
        expected = " (lazy-training prediction for the kernel drift in NTK parameterization: ∝ 1/(α√n))" \
            if measure == "kernel_drift" else ""
        s = diagram.settings
        return (f"<small>{fit}{expected}. Base learning rate {s.lr:.3g} (× the parameterization's factor, "
                f"÷ α²), {s.steps} steps, {s.n_train} training and {s.n_eval} eval points.</small>")

    # ------------------------------------------------------------------------------------- navigation
    def lazy_settings_for(self, width: int, scale: float) -> tuple:
        """(overrides of the lazy-training panel's settings for the cell (width, α), notes): its nearest
        width (a slider of WIDTHS), α clipped to its range, this panel's network and data (the digits' classes, or
        the circle's target; training points at most 64) and the base learning rate of the last run."""
        specs, notes = LazySettings.specs(), []
        options = specs["width"].options
        lazy_width = specs["width"].parse(str(min(max(int(width), min(options)), max(options))))[0]
        if lazy_width != int(width):
            notes.append(f"width {int(width)} → {lazy_width} (the lazy tab's nearest width)")
        low, high = specs["alpha"].low, specs["alpha"].high
        alpha = min(max(float(scale), low), high)
        if alpha != float(scale):
            notes.append(f"α = {scale:g} → {alpha:g} (the lazy tab's α lies in [{low:g}, {high:g}])")
        s = self.settings
        bias = 0.0 if self.frame is None else self.frame.diagram.settings.sigma_b  # the diagram's σ_b (default 0)
        overrides = dict(width=lazy_width, alpha=alpha, parameterization=s.parameterization, depth=s.depth,
                         activation=s.activation, steps=s.steps, points=None, bias=bias)
        n = min(s.n_train, specs["n"].high)
        if n != s.n_train:
            notes.append(f"{s.n_train} training points → {n} (the lazy tab's largest)")
        overrides.update(dataset=s.dataset, n=n)
        overrides.update(dict(classes=s.classes) if s.dataset == "digits" else dict(target=s.target))
        if self.frame is not None:
            lr = self.frame.diagram.settings.lr
            overrides["lr"] = min(max(lr, specs["lr"].low), specs["lr"].high)
        return overrides, notes

    def open_cell(self, width_index: int, scale_index: int):
        """Opens the lazy-training tab at the cell (widths[width_index], scales[scale_index]) of the last diagram
        (of the current settings before any run) and trains there; says in the status line what was snapped."""
        widths, scales = (self.frame.diagram.widths, self.frame.diagram.scales) if self.frame is not None else \
            (self.settings.widths(), self.settings.scales())
        width, scale = int(widths[width_index]), float(scales[scale_index])
        overrides, notes = self.lazy_settings_for(width, scale)
        panel = self.open_panel("lazy", run=True, **overrides)
        text = f"Opened Lazy training at width {overrides['width']}, α = {overrides['alpha']:g} (cell n = {width}, " \
               f"α = {scale:g})" + (f"; {'; '.join(notes)}" if notes else "") + "."
        if not self.running:
            self.status.value = format_status("done", text)
        return panel

    def _on_cell_click(self, trace, points, selector):
        if not points.point_inds:
            return
        index = points.point_inds[0]
        if isinstance(index, (list, tuple)) and len(index) == 2:  # a heat map reports [row (α), column (n)]
            try:
                self.open_cell(int(index[1]), int(index[0]))
            except Exception as error:  # shown, not swallowed
                self.status.value = format_status("error", f"could not open the cell: {error}")
