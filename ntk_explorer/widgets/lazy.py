"""Lazy-training panel: a network f_t and its linearization f^lin_t trained side by side, live."""
from __future__ import annotations

import ipywidgets as W
import numpy as np

from ..plots import panels as P
from .panel import Panel, dropdown, grid, log_slider, seed_box, slider, target_text, width_selector
from .figure import figure_widget
from .guards import conditioning_guard, divergence_status, input_norm_guard, learning_rate_guard, lr_gauge_html
from .lazy_setup import History, LazySetup, preview_state, recording, setup_key, snapshot_state

__all__ = ["LazyTrainingPanel", "WIDTHS", "TARGET_PRESETS"]

WIDTHS = [16, 32, 64, 128, 256, 512, 1024, 2048, 4096, 8192]
TARGET_PRESETS = [("sin(3t)", "sin(3*t)"), ("Fourier mix", "sin(t) + 0.5*cos(2*t) + 0.25*sin(5*t)"),
                  ("step", "sign(sin(t))"), ("high frequency", "sin(7*t)"), ("smooth bump", "exp(cos(t)) - 1.27")]
DEFAULTS = dict(width=256, lr=1.0, steps=400, depth=2, activation="erf", parameterization="ntk", alpha=1.0,
                seed=0, target="sin(3*t)", n=16, noise=0.0, bias=0.1, radius=1.0, live=True)

EQUATIONS = r"""
<p><b>Setup.</b> Loss $L(\theta)=\frac1N\sum_i \tfrac12 (f(x_i)-y_i)^2$, gradient descent
$\theta_{t+1}=\theta_t-\eta\nabla L$. Linearization (seed 000 eq. 1; seed 001 eq. 10):
$f^{lin}_t(x)=f_0(x)+\nabla_\theta f_0(x)\,(\theta_t-\theta_0)$, with empirical NTK
$\hat\Theta_0(x,x')=\nabla_\theta f_0(x)\,\nabla_\theta f_0(x')^T$.</p>
<p><b>f^lin in function space</b> (seed 001 eq. 14, discretised): $f^{lin}_{t+1}=f^{lin}_t-\frac{\eta}{N}
\hat\Theta_0(\cdot,\mathcal X)\,(f^{lin}_t(\mathcal X)-\mathcal Y)$; closed form (seed 001 eqs. 15, 19):
$f^{lin}_t(x)=f_0(x)-\hat\Theta_0(x,\mathcal X)\hat\Theta_0^{-1}\big(I-(I-\tfrac{\eta}{N}\hat\Theta_0)^t\big)
(f_0(\mathcal X)-\mathcal Y)$ (orange dotted curve).</p>
<p><b>Theorem 2.1</b> (Lee et al. 2019, seed 000 eqs. 2–4): for $\|x\|\le1$ and $\eta<\eta_{critical}$,
$\sup_t\|f_t-f^{lin}_t\|$, $\sup_t\|\theta_t-\theta_0\|/\sqrt n$ and $\sup_t\|\hat\Theta_t-\hat\Theta_0\|_F$ are
$O(1/\sqrt n)$ in the width $n$ (right-hand plots).</p>
<p><b>Critical rates</b> (seed 002): $\eta_{conv}=\frac{2N}{\lambda_{min}+\lambda_{max}}$ (fastest convergence),
$\eta_{div}=\frac{2N}{\lambda_{max}}$ (the top mode grows as $|1-\eta\lambda_{max}/N|^t$ above it).
The slider's rate is multiplied by MLP.lr_scale (ntk: 1, standard: 1/width, mup: width).</p>
<p><b>Output scale α</b> (Chizat &amp; Bach 2019; seed 003 §8): training $f_0+\alpha(f-f_0)$ with rate
$\eta/\alpha^2$ leaves $f^{lin}$ unchanged while $f-f^{lin}=O(1/\alpha)$: larger α is lazier.</p>
"""


class LazyTrainingPanel(Panel):
    """f_t vs f^lin_t on the unit circle.  Controls (query names): width, lr, steps, depth, activation,
    parameterization, alpha, seed, target, n, noise, bias, radius, live.  Clicking the target curve adds a
    training point there; clicking a training point removes it."""

    key, title, equations, run_label = "lazy", "Lazy training", EQUATIONS, "training"

    def __init__(self, preview: bool = True):
        super().__init__()
        d = DEFAULTS
        self.controls = {
            "width": width_selector(d["width"], WIDTHS),
            "lr": log_slider("learning rate η", d["lr"], -3, 2),
            "steps": slider("GD steps", d["steps"], 10, 3000, 10),
            "depth": slider("hidden layers", d["depth"], 1, 4),
            "activation": dropdown("activation", ["erf", "relu", "tanh", "gelu", "softplus", "identity"],
                                   d["activation"]),
            "parameterization": dropdown("parameterization", ["ntk", "standard", "mup"], d["parameterization"]),
            "alpha": log_slider("output scale α", d["alpha"], -1, 2),
            "seed": seed_box(d["seed"]),
            "target": target_text(d["target"]),
            "n": slider("training points", d["n"], 2, 64),
            "noise": slider("label noise σ", d["noise"], 0.0, 0.5, 0.01, integer=False),
            "bias": slider("bias σ_b", d["bias"], 0.0, 1.0, 0.05, integer=False),
            "radius": log_slider("input radius ‖x‖", d["radius"], -1, 1, step=0.05),
            "live": W.Checkbox(value=d["live"], description="live: retrain on release", indent=False),
        }
        self.preset = W.Dropdown(options=[("preset…", "")] + TARGET_PRESETS, value="", description="target preset",
                                 style={"description_width": "118px"}, layout=W.Layout(width="310px"))
        self.train_button = W.Button(description="Train", button_style="primary", icon="play",
                                     tooltip="train f and f^lin with the current settings")
        self.stop_button = W.Button(description="Stop", icon="stop", tooltip="stop the run in flight")
        self.reset_points = W.Button(description="Reset points", icon="undo",
                                     tooltip="back to the preset grid of training points")
        self.gauge = W.HTML()
        self.figures = {"function": figure_widget(P.function_figure()), "loss": figure_widget(P.loss_figure()),
                        "drift": figure_widget(P.drift_figure()), "spectrum": figure_widget(P.spectrum_figure())}
        self.points = None  # None: the preset grid; else a list of training angles set by clicks
        self._setup_cache = None
        self._make_runner()
        self._wire()
        rows = [W.HBox([self.train_button, self.stop_button]), *self.controls.values(), self.preset,
                self.gauge, self.reset_points,
                W.HTML("<small>Click the target curve to add a training point, a point to remove it.</small>")]
        self._assemble(rows, grid(self.figures.values()))
        if preview:
            self.activate()

    def activate(self) -> None:
        """First display: draws the network at initialisation (a preview run, no training)."""
        if not self.activated:
            self.activated = True
            self.preview()

    # ------------------------------------------------------------------------------------- wiring
    def _wire(self):
        self.train_button.on_click(lambda _: self.run())
        self.stop_button.on_click(lambda _: self.stop())
        self.reset_points.on_click(lambda _: self._set_points(None))
        self.preset.observe(self._on_preset, names="value")
        self.controls["n"].observe(self._forget_points, names="value")  # registered first: runs before the run
        self._watch_controls(exclude=("live",))
        traces = P.trace_keys(self.figures["function"])
        traces["target"].on_click(self._on_target_click)
        traces["train"].on_click(self._on_point_click)

    def _on_change(self, _change=None):
        if self._hold:
            return
        if self.controls["live"].value:
            self.run()
        else:
            self.preview()

    def _on_preset(self, change):
        if change["new"]:
            self.controls["target"].value = change["new"]
            self.preset.value = ""  # so that choosing the same preset again applies it again

    def _forget_points(self, _change=None):
        self.points = None  # a new number of training points means the preset grid again

    def _set_points(self, points):
        self.points = None if points is None else sorted(points)
        self._on_change()

    def _on_target_click(self, trace, points, selector):
        if points.point_inds:
            angle = float(trace.x[points.point_inds[0]])
            current = list(self.last_state["setup"].t_train) if self.points is None and self.last_state else \
                list(self.points or [])
            self._set_points(current + [angle])

    def _on_point_click(self, trace, points, selector):
        if points.point_inds and self.last_state is not None:
            current = list(self.last_state["setup"].t_train)
            del current[points.point_inds[0]]
            self._set_points(current)

    # ------------------------------------------------------------------------------------- running
    def config(self) -> dict:
        """The controls' values, plus ``points``: the clicked training angles (None for the preset grid)."""
        cfg = {name: w.value for name, w in self.controls.items()}
        cfg["width"], cfg["steps"], cfg["n"], cfg["seed"] = (int(cfg[k]) for k in ("width", "steps", "n", "seed"))
        cfg["points"] = None if self.points is None else [float(a) for a in self.points]
        return cfg

    def preview(self) -> int:
        """Starts a run that only draws the initial network and the closed-form f^lin (no training)."""
        config = self.config()
        return self.runner.start(lambda ctx: self._job(ctx, config, train=False), label="initialising")

    def _setup(self, cfg):
        key = setup_key(cfg, cfg["points"])
        cached = self._setup_cache
        if cached is not None and cached[0] == key:
            return cached[1]
        setup = LazySetup.build(cfg, cfg["points"])
        self._setup_cache = (key, setup)
        return setup

    def _job(self, ctx, cfg, train=True):
        setup = self._setup(cfg)
        ctx.check()
        lr = cfg["lr"] * setup.model.lr_scale
        rates = setup.rates()
        flin_closed = setup.closed_form(lr, cfg["steps"])
        info = dict(guards=input_norm_guard(setup.x_train) + conditioning_guard(setup.k_train)
                    + learning_rate_guard(lr, rates.converge, rates.diverge), lr=lr, rates=rates,
                    lr_scale=setup.model.lr_scale)
        ctx.frame(lambda: dict(preview_state(setup, flin_closed, cfg), info=info), final=True, status="step 0")
        if not train:
            return "ready: the network at initialisation and the closed-form f^lin at step " \
                   f"{cfg['steps']}. Press Train to train (with live on, releasing a slider retrains)."
        history, last = History(), None
        for snapshot in setup.stream(lr, cfg["steps"], cfg["alpha"], ctx.stop):
            history.append(snapshot)
            last = snapshot
            ctx.frame(lambda: dict(snapshot_state(setup, snapshot, history, flin_closed, cfg, exact=False), info=info),
                      status=f"training, step {snapshot.step}/{cfg['steps']}")
        if last is None:
            return None
        ctx.frame(lambda: dict(snapshot_state(setup, last, history, flin_closed, cfg, exact=True), info=info),
                  final=True)
        if last.diverged:
            return "diverged", divergence_status(last.message, lr, rates.diverge, last.step)
        return f"done: {last.step} steps in {ctx.elapsed():.1f} s; final loss {last.loss:.3g} (f), " \
               f"{last.loss_lin:.3g} (f^lin)."

    # ------------------------------------------------------------------------------------- drawing
    def _draw(self, state):
        setup, h = state["setup"], state["history"]
        info = state["info"]
        self.set_guards(info["guards"])
        self.gauge.value = lr_gauge_html(info["lr"], info["rates"].converge, info["rates"].diverge, info["lr_scale"])
        closed = state["flin_closed"]
        fig = self.figures["function"]
        P.set_traces(fig, {
            "target": dict(x=setup.t_eval, y=setup.y_eval), "f0": dict(x=setup.t_eval, y=setup.f0_eval),
            "train": dict(x=setup.t_train, y=setup.y_train.numpy()),
            "f": dict(x=setup.t_eval, y=state["f"]), "flin": dict(x=setup.t_eval, y=state["flin"]),
            "flin_closed": dict(x=setup.t_eval if closed is not None else np.zeros(0),
                                y=closed if closed is not None else np.zeros(0),
                                name=f"f^lin at step {state['steps']} (closed form)"),
        })
        drift = np.isfinite(h["kernel_drift"])
        P.set_traces(self.figures["loss"], {"loss": dict(x=h["step"], y=h["loss"]),
                                            "loss_lin": dict(x=h["step"], y=h["loss_lin"])})
        P.set_traces(self.figures["drift"], {
            "discrepancy": dict(x=h["step"], y=h["discrepancy"]),
            "kernel_drift": dict(x=h["step"][drift], y=h["kernel_drift"][drift]),
            "param_distance": dict(x=h["step"], y=h["param_distance"])})
        index = np.arange(1, len(setup.spectrum0) + 1, dtype=np.float64)
        now = state["spectrum_t"]
        P.set_traces(self.figures["spectrum"], {
            "spectrum0": dict(x=index, y=setup.spectrum0),
            "spectrum_t": dict(x=index if now is not None else np.zeros(0), y=now if now is not None else np.zeros(0),
                               name=f"Θ_t at step {state['step']}")})

    # ------------------------------------------------------------------------------------- export
    def export_columns(self) -> dict:
        if self.last_state is None:
            return {}
        h = self.last_state["history"]
        return {k: (h[k].astype(int) if k == "step" else h[k]) for k in History.names}

    def snippet(self) -> str:
        c = self.config()
        record_every, kernel_every = recording(c["steps"])
        data = (f'data = make_dataset("circle", n_train={c["n"]}, n_eval=128, target={c["target"]!r}, '
                f'noise={c["noise"]!r}, seed=0)\nx_train, y_train, x_eval = data.x_train, data.y_train, data.x_eval')
        if self.points is not None:
            angles = ", ".join(f"{a:.6g}" for a in self.points)
            data += (f"\nt = np.array([{angles}])\nx_train = torch.tensor(np.stack([np.cos(t), np.sin(t)], 1))\n"
                     f"y_train = torch.tensor(add_label_noise(parse_target({c['target']!r})(x_train.numpy()), "
                     f"{c['noise']!r}, seed=2))")
        if c["radius"] != 1.0:
            data += f"\nx_train, x_eval = {c['radius']!r} * x_train, {c['radius']!r} * x_eval"
        return ("import numpy as np, torch\n"
                "from ntk_explorer import MLP, train\n"
                f"from ntk_explorer.data import add_label_noise, make_dataset, parse_target\n\n{data}\n"
                f"model = MLP(2, {c['width']}, {c['depth']}, activation={c['activation']!r}, "
                f"parameterization={c['parameterization']!r}, sigma_b={c['bias']!r}, seed={c['seed']})\n"
                f"trajectory = train(model, x_train, y_train, lr={c['lr']!r} * model.lr_scale, steps={c['steps']}, "
                f"x_eval=x_eval,\n                   record_every={record_every}, kernel_every={kernel_every}, "
                f"output_scale={c['alpha']!r})\nprint(trajectory.final)\n")

