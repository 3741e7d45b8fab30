"""Width-scaling panel: the three Theorem 2.1 quantities against width on log-log axes, with fitted slopes."""
from __future__ import annotations

import html
from dataclasses import dataclass

import ipywidgets as W
import numpy as np

from ..data import parse_target
from ..experiments import SWEEP_METRICS, WidthSweep, summarize_runs, width_sweep_stream
from ..plots import panels as P
from .lazy_setup import CLASS_PRESETS, digit_classes
from .panel import Panel, buttons
from .settings import Choice, FloatRange, IntRange, LogRange, Settings, Text, setting

__all__ = ["WidthScalingPanel", "WidthSettings", "SweepFrame", "SWEEP_WIDTHS"]

SWEEP_WIDTHS = (16, 32, 64, 128, 256, 512, 1024, 2048, 4096)
DATASET_LR = {"circle": 1.0, "digits": 10.0}  # the base rate a data set starts at (the digits' NTK is smaller)


@dataclass(frozen=True)
class WidthSettings(Settings):
    """Settings of the width-scaling panel: the sweep runs every width of SWEEP_WIDTHS between ``min_width`` and
    ``max_width`` (either order) with ``seeds`` seeds each; ``lr`` is the base rate (scaled per
    parameterization by the core).  ``dataset``: ``n`` points of the unit circle with ``target``, or ``n`` training
    images of the digits ``classes`` (one output for two classes, one-hot outputs for more)."""
    min_width: int = setting(64, Choice("smallest width", SWEEP_WIDTHS, style="slider"))
    max_width: int = setting(1024, Choice("largest width", SWEEP_WIDTHS, style="slider"))
    seeds: int = setting(3, IntRange("seeds per width", 1, 10))
    activation: str = setting("erf", Choice("activation", ("erf", "relu"), style="toggle"))
    parameterization: str = setting("ntk", Choice("parameterization", ("ntk", "mup"), style="toggle"))
    depth: int = setting(1, IntRange("hidden layers", 1, 3))
    steps: int = setting(200, IntRange("GD steps", 10, 2000, step=10))
    lr: float = setting(1.0, LogRange("base rate η", 1e-2, 10.0))
    n: int = setting(16, IntRange("training points", 2, 64))
    dataset: str = setting("circle", Choice("data", ("circle", "digits"), style="toggle"))
    classes: str = setting("3,8", Choice("digits", CLASS_PRESETS))
    target: str = setting("sin(3*t)", Text("target f*(t)", validate=parse_target))
    bias: float = setting(0.1, FloatRange("bias σ_b", 0.0, 1.0, step=0.05))

    def widths(self) -> list:
        low, high = sorted((self.min_width, self.max_width))
        return [w for w in SWEEP_WIDTHS if low <= w <= high]

    def sweep_config(self) -> dict:
        """The keyword arguments of ``ntk_explorer.width_sweep`` (fields of an ExperimentConfig)."""
        record_every = max(1, self.steps // 100)
        return dict(depth=self.depth, activation=self.activation, parameterization=self.parameterization,
                    sigma_b=self.bias, n_train=self.n, n_eval=128, lr=self.lr, steps=self.steps,
                    record_every=record_every, kernel_every=record_every * 5, **self.data_config())

    def data_config(self) -> dict:
        """The data fields of the sweep's ExperimentConfig: the circle's target, or the digits' classes."""
        if self.dataset == "digits":
            return dict(domain="digits", classes=digit_classes(self.classes))
        return dict(target=self.target)


@dataclass(frozen=True, eq=False)
class SweepFrame:
    """The sweep so far: ``sweep`` summarises the finished runs (NaN where not run yet), ``widths_done`` how many
    widths (smallest first) have at least one finished run, ``runs`` of ``total``."""
    sweep: WidthSweep
    widths_done: int
    runs: int
    total: int

    def columns(self) -> dict:
        done = self.widths_done
        columns = {"width": np.asarray(self.sweep.widths[:done]).astype(int)}
        for m in SWEEP_METRICS:
            columns[f"{m}_mean"], columns[f"{m}_std"] = self.sweep.mean[m][:done], self.sweep.std[m][:done]
        return columns


EQUATIONS = r"""
<p><b>Theorem 2.1</b> (Lee et al. 2019; its proof followed step by step in Y. Chen, "Linearized Networks", §6): for
a network of width $n$ trained by gradient descent with $\eta<\eta_{critical}$ and inputs $\|x\|\le 1$,
$\sup_t\|f_t(x)-f^{lin}_t(x)\|=O(n^{-1/2})$, $\sup_t \|\theta_t-\theta_0\|/\sqrt n=O(n^{-1/2})$ and
$\sup_t\|\hat\Theta_t-\hat\Theta_0\|_F=O(n^{-1/2})$.</p>
<p>Measured here, for each width and seed: $\sup_t \mathrm{RMS}(f_t-f^{lin}_t)$ over the eval points,
$\sup_t\|\hat\Theta_t-\hat\Theta_0\|_F/\|\hat\Theta_0\|_F$ on the training set and
$\sup_t\|\theta_t-\theta_0\|/\|\theta_0\|$. The theorem bounds $\|\theta_t-\theta_0\|$ by $O(1)$; since
$\|\theta_0\|$ grows like the square root of the number of parameters ($\sqrt n$ with one hidden layer, $n$ with
more), the relative distance falls like $n^{-1/2}$ for one hidden layer and like $n^{-1}$ for deeper networks.</p>
<p><b>Slopes</b>: least squares of $\log(\text{quantity})$ on $\log n$ over all (width, seed) runs, ± standard
error. The dashed line has slope $-1/2$ (the theorem's bound); the dotted line slope $-1$, what finer analyses
(Dyer &amp; Gur-Ari 2019; Huang &amp; Yau 2019) predict for the discrepancy and kernel drift of smooth
activations. ReLU is not covered by the theorem. Under "mup" (maximal update, Yang &amp; Hu 2021) the kernel keeps
moving as width grows: features learn, the lazy regime is left.</p>
<p><b>Data</b>: the unit circle with a target, or the shipped 8×8 digits ("data" → digits: images centred and of
norm 1, ±1 labels for two classes, one-hot rows and as many outputs for more; the discrepancy is then the RMS over
test images and outputs).</p>
"""


class WidthScalingPanel(Panel):
    """Runs ``ntk_explorer.width_sweep_stream`` (one (width, seed) at a time: progress bar, Stop ends it within
    one run) and plots the three quantities with fitted slopes (settings: :class:`WidthSettings`).  Runs start
    with the Run button only."""

    Settings = WidthSettings
    key, title, equations, run_label = "width", "Width scaling", EQUATIONS, "width sweep"
    auto_run = False
    snippet_imports = "from ntk_explorer import width_sweep\n"
    snippet_body = """record_every = max(1, s.steps // 100)
sweep = width_sweep({widths}, s.seeds, depth=s.depth, activation=s.activation, parameterization=s.parameterization,
                    sigma_b=s.bias, n_train=s.n, n_eval=128, lr=s.lr, steps=s.steps,
                    record_every=record_every, kernel_every=5 * record_every, **s.data_config())
print(sweep)
"""

    def make_figure(self):
        return P.width_scaling_figure()

    def view(self):
        self.run_button, self.stop_button = buttons(("Run sweep", "play", "run the width sweep", True),
                                                    ("Stop", "stop", "stop after the run in progress", False))
        self.progress = W.IntProgress(value=0, min=0, max=1, description="progress",
                                      style={"description_width": "60px"}, layout=W.Layout(width="310px"))
        self.table = W.HTML()
        self.run_button.on_click(lambda _: self.run())
        self.stop_button.on_click(lambda _: self.stop())
        return [W.HBox([self.run_button, self.stop_button]), self.progress, *self.controls.values()], [self.table]

    def first_display(self) -> None:
        pass  # a sweep is started by the Run button only

    def relevant(self, name: str) -> bool:
        if name == "target":
            return self.settings.dataset == "circle"
        if name == "classes":
            return self.settings.dataset == "digits"
        return True

    def adjust(self, settings, changed):
        """Another data set starts at its own base rate (DATASET_LR)."""
        return settings.replace(lr=DATASET_LR[settings.dataset]) if changed == "dataset" else settings

    def snippet_values(self) -> dict:
        return {"widths": self.settings.widths()}

    def job(self, ctx, settings):
        stream = width_sweep_stream(settings.widths(), settings.seeds, stop=ctx.stop, **settings.sweep_config())
        total = len(stream)

        def frame(runs):
            done = 1 + max((r.width_index for r in runs), default=-1)
            return SweepFrame(summarize_runs(stream.widths, stream.seeds, runs), done, len(runs), total)
        runs = ctx.collect(stream, total, frame, lambda run: f"width {run.width}, seed {run.seed}",
                           status=f"0/{total} runs")
        diverged = sum(run.diverged for run in runs)
        note = f" ({diverged} diverged runs left out: lower lr)" if diverged else ""
        return f"done: {total} runs in {ctx.elapsed():.1f} s{note}."

    def draw(self, frame: SweepFrame):
        sweep, done = frame.sweep, frame.widths_done
        self.progress.max, self.progress.value = max(1, frame.total), frame.runs
        P.fill_width_scaling(self.figure, sweep.widths[:done], {m: v[:done] for m, v in sweep.mean.items()},
                             {m: v[:done] for m, v in sweep.std.items()},
                             {m: tuple(s) for m, s in sweep.slopes.items()})
        head = "".join(f"<th>{html.escape(m)} mean</th><th>std</th>" for m in SWEEP_METRICS)
        rows = "".join(f"<tr><td>{int(w)}</td>" + "".join(f"<td>{sweep.mean[m][i]:.4g}</td>"
                                                     f"<td>{sweep.std[m][i]:.2g}</td>" for m in SWEEP_METRICS)
                       + "</tr>" for i, w in enumerate(sweep.widths[:done]))
        slope = "".join(f"<td colspan=2>{sweep.slopes[m].slope:.3f} ± {sweep.slopes[m].stderr:.3f}</td>"
                        for m in SWEEP_METRICS)
        self.table.value = (f'<table class="ntk-table" style="font-size:12px"><tr><th>width</th>{head}</tr>{rows}'
                            f"<tr><td><b>slope</b></td>{slope}</tr></table>")
