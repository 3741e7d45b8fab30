"""Width-scaling panel: the three Theorem 2.1 quantities against width on log-log axes, with fitted slopes."""
from __future__ import annotations

import html
import warnings

import ipywidgets as W
import numpy as np

from ..plots import panels as P
from ..experiments import SWEEP_METRICS, fit_slope, width_sweep
from .panel import Panel, log_slider, slider, target_text
from .figure import figure_widget

__all__ = ["WidthScalingPanel", "sweep_config", "summarize"]

SWEEP_WIDTHS = [16, 32, 64, 128, 256, 512, 1024, 2048, 4096]
DEFAULTS = dict(min_width=64, max_width=1024, seeds=3, activation="erf", parameterization="ntk", depth=1, steps=200,
                lr=1.0, n=16, target="sin(3*t)", bias=0.1)

EQUATIONS = r"""
<p><b>Theorem 2.1</b> (Lee et al. 2019, seed 000 eqs. 2–4; proof seed 001 §6): for a network of width $n$ trained
by gradient descent with $\eta<\eta_{critical}$ and inputs $\|x\|\le 1$,
$\sup_t\|f_t(x)-f^{lin}_t(x)\|=O(n^{-1/2})$, $\sup_t \|\theta_t-\theta_0\|/\sqrt n=O(n^{-1/2})$ and
$\sup_t\|\hat\Theta_t-\hat\Theta_0\|_F=O(n^{-1/2})$.</p>
<p>Measured here, for each width and seed: $\sup_t \mathrm{RMS}(f_t-f^{lin}_t)$ over the eval points,
$\sup_t\|\hat\Theta_t-\hat\Theta_0\|_F/\|\hat\Theta_0\|_F$ on the training set and
$\sup_t\|\theta_t-\theta_0\|/\|\theta_0\|$. The theorem's eq. 3 says $\|\theta_t-\theta_0\|=O(1)$; since
$\|\theta_0\|$ grows like the square root of the number of parameters ($\sqrt n$ with one hidden layer, $n$ with
more), the relative distance falls like $n^{-1/2}$ for one hidden layer and like $n^{-1}$ for deeper networks.</p>
<p><b>Slopes</b>: least squares of $\log(\text{quantity})$ on $\log n$ over all (width, seed) runs, ± standard
error. The dashed line has slope $-1/2$ (the theorem's bound); the dotted line slope $-1$, what finer analyses
(Dyer &amp; Gur-Ari 2019; Huang &amp; Yau 2019) predict for the discrepancy and kernel drift of smooth
activations. ReLU is not covered by the theorem. Under "mup" (maximal update) the kernel keeps moving as width
grows: features learn, the lazy regime is left.</p>
"""


def sweep_config(cfg: dict) -> dict:
    """The keyword arguments of :func:`ntk_explorer.width_sweep` (an ExperimentConfig) for the panel's settings."""
    record_every = max(1, cfg["steps"] // 100)
    return dict(depth=cfg["depth"], activation=cfg["activation"], parameterization=cfg["parameterization"],
                sigma_b=cfg["bias"], n_train=cfg["n"], n_eval=128, target=cfg["target"], lr=cfg["lr"],
                steps=cfg["steps"], record_every=record_every, kernel_every=record_every * 5)


def summarize(widths, values) -> tuple:
    """(mean, std, slopes) from values[metric] of shape (W, S), exactly as ``width_sweep`` tabulates them."""
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # a width whose seeds all diverged (or not yet run)
        mean = {m: np.nanmean(v, axis=1) for m, v in values.items()}
        std = {m: np.nanstd(v, axis=1, ddof=1) for m, v in values.items()}  # NaN for a single seed
    slopes = {m: fit_slope(np.asarray(widths), v) for m, v in values.items()}
    return mean, std, slopes


class WidthScalingPanel(Panel):
    """Runs ``ntk_explorer.width_sweep`` one (width, seed) at a time (progress bar, cancellable between runs) and
    plots the three quantities with fitted slopes.  Controls: min_width, max_width, seeds, activation,
    parameterization, depth, steps, lr, n, target, bias.  Runs start with the Run button only."""

    key, title, equations, run_label = "width", "Width scaling", EQUATIONS, "width sweep"
    auto_run = False

    def __init__(self):
        super().__init__()
        d, style, layout = DEFAULTS, {"description_width": "118px"}, W.Layout(width="310px")

        def width_slider(label, value):
            return W.SelectionSlider(options=SWEEP_WIDTHS, value=value, description=label, continuous_update=False,
                                     style=style, layout=layout)
        self.controls = {
            "min_width": width_slider("smallest width", d["min_width"]),
            "max_width": width_slider("largest width", d["max_width"]),
            "seeds": slider("seeds per width", d["seeds"], 1, 10),
            "activation": W.ToggleButtons(options=["erf", "relu"], value=d["activation"], description="activation",
                                          style={"description_width": "118px", "button_width": "80px"}),
            "parameterization": W.ToggleButtons(options=["ntk", "mup"], value=d["parameterization"],
                                                description="parameterization",
                                                style={"description_width": "118px", "button_width": "80px"}),
            "depth": slider("hidden layers", d["depth"], 1, 3),
            "steps": slider("GD steps", d["steps"], 10, 2000, 10),
            "lr": log_slider("base rate η", d["lr"], -2, 1),
            "n": slider("training points", d["n"], 2, 64),
            "target": target_text(d["target"]),
            "bias": slider("bias σ_b", d["bias"], 0.0, 1.0, 0.05, integer=False),
        }
        self.run_button = W.Button(description="Run sweep", button_style="primary", icon="play")
        self.stop_button = W.Button(description="Stop", icon="stop")
        self.progress = W.IntProgress(value=0, min=0, max=1, description="progress",
                                      style={"description_width": "60px"}, layout=W.Layout(width="310px"))
        self.table = W.HTML()
        self.figures = {"scaling": figure_widget(P.width_scaling_figure(), width=900)}
        self.result = None
        self._make_runner()
        self.run_button.on_click(lambda _: self.run())
        self.stop_button.on_click(lambda _: self.stop())
        self._watch_controls()
        rows = [W.HBox([self.run_button, self.stop_button]), self.progress, *self.controls.values()]
        self._assemble(rows, self.figures["scaling"], extra=[self.table])

    def widths(self, cfg=None) -> list:
        cfg = cfg or self.config()
        low, high = sorted((cfg["min_width"], cfg["max_width"]))
        return [w for w in SWEEP_WIDTHS if low <= w <= high]

    def activate(self) -> None:
        self.activated = True  # a sweep is started by the Run button only

    def _job(self, ctx, cfg):
        widths, seeds = self.widths(cfg), list(range(cfg["seeds"]))
        kwargs = sweep_config(cfg)
        values = {m: np.full((len(widths), len(seeds)), np.nan) for m in SWEEP_METRICS}
        total, done = len(widths) * len(seeds), 0
        ctx.frame(lambda: self._state([], values, 0, seeds, total), final=True, status=f"0/{total} runs")
        for i, width in enumerate(widths):
            for j, seed in enumerate(seeds):
                ctx.check()
                with warnings.catch_warnings():  # its per-width mean/std of a single run are not used
                    warnings.simplefilter("ignore", RuntimeWarning)
                    one = width_sweep([width], [seed], progress=False, **kwargs)
                for m in SWEEP_METRICS:
                    values[m][i, j] = one.values[m][0, 0]
                done += 1
                final = done == total
                ctx.frame(lambda: self._state(widths[:i + 1], values, i + 1, seeds, total, done), final=final,
                          status=f"width {width}, seed {seed} ({done}/{total})")
        diverged = int(np.isnan(values["discrepancy"]).sum())
        note = f" ({diverged} diverged runs left out: lower lr)" if diverged else ""
        return f"done: {total} runs in {ctx.elapsed():.1f} s{note}."

    def _state(self, widths, values, rows, seeds, total, done=0):
        part = {m: v[:rows] for m, v in values.items()}
        mean, std, slopes = summarize(widths, part)
        return dict(widths=np.asarray(widths, dtype=np.float64), values=part, mean=mean, std=std, slopes=slopes,
                    seeds=seeds, runs=done, total=total)

    def _draw(self, state):
        self.result = state
        self.progress.max, self.progress.value = max(1, state["total"]), state["runs"]
        P.fill_width_scaling(self.figures["scaling"], state["widths"], state["mean"], state["std"],
                             {m: tuple(s) for m, s in state["slopes"].items()})
        head = "".join(f"<th>{html.escape(m)} mean</th><th>std</th>" for m in SWEEP_METRICS)
        rows = "".join(f"<tr><td>{int(w)}</td>" + "".join(f"<td>{state['mean'][m][i]:.4g}</td>"
                                                     f"<td>{state['std'][m][i]:.2g}</td>" for m in SWEEP_METRICS)
                       + "</tr>" for i, w in enumerate(state["widths"]))
        slope = "".join(f"<td colspan=2>{state['slopes'][m].slope:.3f} ± {state['slopes'][m].stderr:.3f}</td>"
                        for m in SWEEP_METRICS)
        self.table.value = (f'<table class="ntk-table" style="font-size:12px"><tr><th>width</th>{head}</tr>{rows}'
                            f"<tr><td><b>slope</b></td>{slope}</tr></table>")

    def export_columns(self) -> dict:
        if self.result is None:
            return {}
        columns = {"width": self.result["widths"].astype(int)}
        for m in SWEEP_METRICS:
            columns[f"{m}_mean"], columns[f"{m}_std"] = self.result["mean"][m], self.result["std"][m]
        return columns

    def snippet(self) -> str:
        cfg = self.config()
        kwargs = ", ".join(f"{k}={v!r}" for k, v in sweep_config(cfg).items())
        return (f"from ntk_explorer import width_sweep\n\n"
                f"sweep = width_sweep({self.widths(cfg)}, {cfg['seeds']}, {kwargs})\nprint(sweep)\n")

