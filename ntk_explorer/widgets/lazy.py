"""Lazy-training panel: a network f_t and its linearization f^lin_t trained side by side, live."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

import ipywidgets as W
import numpy as np

from ..data import parse_target
from ..experiments import classification_accuracy
from ..plots import panels as P
from .guards import conditioning_guard, divergence_status, input_norm_guard, learning_rate_guard, lr_gauge_html
from .lazy_digits import digits_snippet, digits_traces
from .lazy_setup import CLASS_PRESETS, History, LazySetup, Problem, digit_classes, training_set
from .panel import LABEL_STYLE, Panel, buttons
from .runner import format_status
from .settings import Angles, Choice, Flag, FloatRange, IntRange, LogRange, Settings, Text, setting
from .state import LastResult

__all__ = ["LazyTrainingPanel", "LazySettings", "LazyFrame", "WIDTHS", "TARGET_PRESETS", "DATASET_LR"]

WIDTHS = (16, 32, 64, 128, 256, 512, 1024, 2048, 4096, 8192)
ACTIVATIONS = ("erf", "relu", "tanh", "gelu", "softplus", "identity")
TARGET_PRESETS = [("sin(3t)", "sin(3*t)"), ("Fourier mix", "sin(t) + 0.5*cos(2*t) + 0.25*sin(5*t)"),
                  ("step", "sign(sin(t))"), ("high frequency", "sin(7*t)"), ("smooth bump", "exp(cos(t)) - 1.27")]
EMPTY = np.zeros(0)
DATASET_LR = {"circle": 1.0, "digits": 10.0}  # the rate a data set starts at (the digits' NTK is ~8× smaller)


@dataclass(frozen=True)
class LazySettings(Settings):
    """Settings of the lazy-training panel.  ``lr`` is the base rate (scaled per parameterization by the core),
    ``alpha`` the output scale, ``points`` the clicked training angles (None: ``n`` evenly spread points).
    ``dataset`` "circle" trains on ``n`` points of the unit circle with ``target``; "digits" on ``n`` training
    images of the digits ``classes`` (N_EVAL_DIGITS test images; target, noise, radius and points do not apply)."""
    width: int = setting(256, Choice("width n", WIDTHS, style="slider"))
    lr: float = setting(1.0, LogRange("learning rate η", 1e-3, 1e2))
    steps: int = setting(400, IntRange("GD steps", 10, 3000, step=10))
    depth: int = setting(2, IntRange("hidden layers", 1, 4))
    activation: str = setting("erf", Choice("activation", ACTIVATIONS))
    parameterization: str = setting("ntk", Choice("parameterization", ("ntk", "standard", "mup")))
    alpha: float = setting(1.0, LogRange("output scale α", 0.1, 100.0))
    seed: int = setting(0, IntRange("seed", 0, 1_000_000, box=True))
    dataset: str = setting("circle", Choice("data", ("circle", "digits"), style="toggle"))
    classes: str = setting("3,8", Choice("digits", CLASS_PRESETS))
    target: str = setting("sin(3*t)", Text("target f*(t)", validate=parse_target))
    n: int = setting(16, IntRange("training points", 2, 64))
    noise: float = setting(0.0, FloatRange("label noise σ", 0.0, 0.5, step=0.01))
    bias: float = setting(0.1, FloatRange("bias σ_b", 0.0, 1.0, step=0.05))
    radius: float = setting(1.0, LogRange("input radius ‖x‖", 0.1, 10.0))
    live: bool = setting(True, Flag("live: retrain on release"))
    points: Optional[tuple] = setting(None, Angles("training angles"))

    def problem(self) -> Problem:
        """The data set and network of these settings (what a new network is built for)."""
        if self.dataset == "digits":
            return Problem(self.width, self.depth, self.activation, self.parameterization, self.bias, self.seed,
                           "", self.n, dataset="digits", classes=digit_classes(self.classes))
        return Problem(self.width, self.depth, self.activation, self.parameterization, self.bias, self.seed,
                       self.target, self.n, self.noise, self.radius, self.points)


@dataclass(frozen=True)
class RunInfo:
    """What a run shows besides the curves: teaching guards, the rate GD uses and the critical rates."""
    guards: list
    lr: float
    rates: object
    lr_scale: float


@dataclass(frozen=True, eq=False)
class LazyFrame:
    """One drawn state: f and f^lin on the eval grid at ``step``, the closed-form f^lin at the final step (None
    when it diverges), the recorded series, and the latest Θ_t spectrum with its step (None before training)."""
    setup: LazySetup
    step: int
    f: np.ndarray
    flin: np.ndarray
    flin_closed: Optional[np.ndarray]
    history: dict
    spectrum_t: Optional[np.ndarray]
    spectrum_step: int
    steps: int
    info: RunInfo

    def columns(self) -> dict:
        return {k: (v.astype(int) if k == "step" else v) for k, v in self.history.items()}


EQUATIONS = r"""
<p><b>Setup.</b> Loss $L(\theta)=\frac1N\sum_i \tfrac12 (f(x_i)-y_i)^2$, gradient descent
$\theta_{t+1}=\theta_t-\eta\nabla L$. Linearization (Lee et al. 2019; Y. Chen, "Linearized Networks", eq. (10)):
$f^{lin}_t(x)=f_0(x)+\nabla_\theta f_0(x)\,(\theta_t-\theta_0)$, with empirical NTK
$\hat\Theta_0(x,x')=\nabla_\theta f_0(x)\,\nabla_\theta f_0(x')^T$.</p>
<p><b>f^lin in function space</b> (Lee et al. 2019; Chen eq. (14), discretised): $f^{lin}_{t+1}=f^{lin}_t-\frac{\eta}{N}
\hat\Theta_0(\cdot,\mathcal X)\,(f^{lin}_t(\mathcal X)-\mathcal Y)$; closed form (Chen eqs. (15), (19)):
$f^{lin}_t(x)=f_0(x)-\hat\Theta_0(x,\mathcal X)\hat\Theta_0^{-1}\big(I-(I-\tfrac{\eta}{N}\hat\Theta_0)^t\big)
(f_0(\mathcal X)-\mathcal Y)$ (orange dotted curve).</p>
<p><b>Theorem 2.1</b> (Lee et al. 2019): for $\|x\|\le1$ and $\eta<\eta_{critical}$,
$\sup_t\|f_t-f^{lin}_t\|$, $\sup_t\|\theta_t-\theta_0\|/\sqrt n$ and $\sup_t\|\hat\Theta_t-\hat\Theta_0\|_F$ are
$O(1/\sqrt n)$ in the width $n$ (lower left). Lower right: the spectrum of $\hat\Theta_t$, computed by the core
with the kernel drift every few steps.</p>
<p><b>Critical rates.</b> $\eta_{conv}=\frac{2N}{\lambda_{min}+\lambda_{max}}$ is Lee et al.'s
$\eta_{critical}=\frac{2}{\lambda_{min}+\lambda_{max}}$ times $N$ (our loss is a mean): the rate that contracts
the slowest and fastest modes equally. Above $\eta_{div}=\frac{2N}{\lambda_{max}}$, the stability limit of gradient
descent on a quadratic, the top mode grows as $|1-\eta\lambda_{max}/N|^t$.
The slider's base rate is scaled per parameterization by <code>MLP.scaled_lr</code> (ntk: ×1, standard:
×1/width, mup: ×width).</p>
<p><b>Digits</b> ("data" → digits): the shipped 8×8 handwritten digits, inputs centred and of norm 1; two classes
train one output on $\pm1$ labels, $k$ classes $k$ outputs on one-hot rows (the NTK is then $(N,N,k,k)$). The first
plot shows the test accuracy of $f_t$ and $f^{lin}_t$ (sign, or argmax of the outputs) against the step, and below
the figure a few test images that $f_t$ misclassifies.</p>
<p><b>Output scale α</b> (Chizat, Oyallon &amp; Bach 2019; G. Valle Pérez, "Notes on Neural Tangent Kernel", §8):
training $f_0+\alpha(f-f_0)$ with rate $\eta/\alpha^2$ leaves $f^{lin}$ unchanged while $f-f^{lin}=O(1/\alpha)$:
larger α is lazier.</p>
"""


class LazyTrainingPanel(Panel):
    """f_t vs f^lin_t on the unit circle or on the digits (settings: :class:`LazySettings`).  On the circle,
    clicking the target curve adds a training point there, clicking a training point removes it (both change
    ``settings.points``); on the digits the first plot is the test accuracy of f_t and f^lin_t against the step and
    misclassified test images are shown below the figure."""

    Settings = LazySettings
    key, title, equations, run_label = "lazy", "Lazy training", EQUATIONS, "training"
    passive_fields = ("live",)
    snippet_imports = ("import numpy as np, torch\nfrom ntk_explorer import MLP, train\n"
                       "from ntk_explorer.data import add_label_noise, make_dataset, parse_target\n")
    snippet_body = """{data}record_every = max(1, s.steps // 150)
trajectory = train(model, x_train, y_train, lr=model.scaled_lr(s.lr), steps=s.steps, x_eval=x_eval,
                   record_every=record_every, kernel_every=5 * record_every, output_scale=s.alpha)
print(trajectory.final)
"""

    def __init__(self, settings: Optional[LazySettings] = None, /, **overrides):
        self._setups = LastResult(LazySetup.build)  # the network and kernels of the last Problem
        self._mode = "circle"  # what the first subplot shows (the figure is built for the circle)
        super().__init__(settings, **overrides)

    def snippet_values(self) -> dict:
        if self.settings.dataset == "digits":
            return {"data": digits_snippet(self.settings)}
        return {"data": """data = make_dataset("circle", n_train=s.n, n_eval=128, target=s.target, noise=s.noise, seed=0)
x_train, y_train, x_eval = data.x_train, data.y_train, data.x_eval
if s.points is not None:  # training angles set by clicking on the plot
    t = np.array(s.points)
    x_train = torch.tensor(np.stack([np.cos(t), np.sin(t)], 1))
    y_train = torch.tensor(add_label_noise(parse_target(s.target)(x_train.numpy()), s.noise, seed=2))
x_train, x_eval = s.radius * x_train, s.radius * x_eval
model = MLP(2, s.width, s.depth, activation=s.activation, parameterization=s.parameterization, sigma_b=s.bias,
            seed=s.seed)
"""}

    def make_figure(self):
        return P.lazy_figure()

    def view(self):
        self.preset = W.Dropdown(options=[("preset…", "")] + TARGET_PRESETS, value="", description="target preset",
                                 style=LABEL_STYLE, layout=W.Layout(width="310px"))
        self.train_button, self.stop_button, self.reset_button = buttons(
            ("Train", "play", "train f and f^lin with the current settings", True),
            ("Stop", "stop", "stop the run in flight", False),
            ("Reset points", "undo", "back to the preset grid of training points", False))
        self.gauge = W.HTML()
        self.train_button.on_click(lambda _: self.run())
        self.stop_button.on_click(lambda _: self.stop())
        self.reset_button.on_click(lambda _: self.set_points(None))
        self.preset.observe(self._on_preset, names="value")
        traces = P.trace_keys(self.figure)
        traces["target"].on_click(self._on_target_click)
        traces["train"].on_click(self._on_point_click)
        hint = W.HTML("<small>Click the target curve to add a training point, a point to remove it.</small>")
        self.thumbnails = W.HTML()  # misclassified test images (digits)
        self._circle_only = (self.preset, self.reset_button, hint)
        rows = [W.HBox([self.train_button, self.stop_button]), *self.controls.values(), self.preset, self.gauge,
                self.reset_button, hint]
        return rows, [self.thumbnails]

    def relevant(self, name: str) -> bool:
        if name in ("target", "noise", "radius"):
            return self.settings.dataset == "circle"
        if name == "classes":
            return self.settings.dataset == "digits"
        return True

    def show_controls(self) -> None:
        super().show_controls()
        for widget in getattr(self, "_circle_only", ()):  # the target presets, point resets and their hint
            widget.layout.display = None if self.settings.dataset == "circle" else "none"

    # ------------------------------------------------------------------------------------- settings
    def first_display(self) -> None:
        self.preview()

    def settings_changed(self):
        """A control change retrains when ``live`` is on, else redraws the network at initialisation."""
        return self.run() if self.settings.live else self.preview()

    def adjust(self, settings, changed):
        if changed == "dataset":  # another data set: its starting rate (DATASET_LR) and no clicked points
            return settings.replace(points=None, lr=DATASET_LR[settings.dataset])
        return settings.replace(points=None) if changed == "n" else settings  # a new n: the preset grid again

    def training_angles(self) -> list:
        """The current training angles (the clicked ones, or the preset grid of ``n`` points)."""
        if self.settings.points is not None:
            return list(self.settings.points)
        return list(training_set(self.settings.problem())[0])

    def set_points(self, points):
        """Trains on these angles (None: the preset grid); starts what a control change starts."""
        try:
            return self.apply(points=points)
        except ValueError as error:
            self.status.value = format_status("error", str(error))
            return None

    def add_point(self, angle: float):
        return self.set_points(self.training_angles() + [float(angle)])

    def remove_point(self, index: int):
        angles = self.training_angles()
        del angles[index]
        return self.set_points(angles)

    def _on_preset(self, change):
        if change["new"]:
            self.controls["target"].value = change["new"]
            self.preset.value = ""  # so that choosing the same preset again applies it again

    def _on_target_click(self, trace, points, selector):
        if points.point_inds:
            self.add_point(P.trace_x(trace)[points.point_inds[0]])

    def _on_point_click(self, trace, points, selector):
        if points.point_inds:
            self.remove_point(points.point_inds[0])

    # ------------------------------------------------------------------------------------- running
    def preview(self) -> int:
        """Starts a run that only draws the initial network and the closed-form f^lin (no training)."""
        self.activated = True
        settings = self.settings
        return self._runner.start(lambda ctx: self.job(ctx, settings, train=False), label="initialising")

    def job(self, ctx, settings, train=True):
        setup = self._setups(settings.problem())
        ctx.check()
        lr = setup.model.scaled_lr(settings.lr)
        rates = setup.rates()
        flin_closed = setup.closed_form(lr, settings.steps)
        info = RunInfo(input_norm_guard(setup.x_train) + conditioning_guard(setup.k_matrix)
                       + learning_rate_guard(lr, rates.converge, rates.diverge), lr, rates, setup.model.lr_scale)
        empty = History()
        ctx.frame(lambda: LazyFrame(setup, 0, setup.f0_eval, setup.f0_eval, flin_closed, empty.arrays(), None, -1,
                                    settings.steps, info), final=True, status="step 0")
        if not train:
            return "ready: the network at initialisation and the closed-form f^lin at step " \
                   f"{settings.steps}. Press Train to train (with live on, releasing a slider retrains)."
        history, last = History(), None

        def frame():
            return LazyFrame(setup, int(last.step), last.f_eval, last.flin_eval, flin_closed, history.arrays(),
                             history.spectrum, history.spectrum_step, settings.steps, info)
        for last in setup.stream(lr, settings.steps, settings.alpha, ctx.stop):
            history.append(last)
            if setup.data is not None:  # the digits: test accuracy of f and f^lin at each recorded step
                history.record("test_accuracy", classification_accuracy(last.f_eval, setup.data.y_eval))
                history.record("test_accuracy_lin", classification_accuracy(last.flin_eval, setup.data.y_eval))
            ctx.frame(frame, status=f"training, step {last.step}/{settings.steps}")
        if last is None:
            return None
        ctx.frame(frame, final=True)
        if last.diverged:
            return "diverged", divergence_status(last.message, lr, rates.diverge, last.step)
        accuracy = "" if setup.data is None else (f"; test accuracy {history.series['test_accuracy'][-1]:.3f} (f), "
                                                  f"{history.series['test_accuracy_lin'][-1]:.3f} (f^lin)")
        return f"done: {last.step} steps in {ctx.elapsed():.1f} s; final loss {last.loss:.3g} (f), " \
               f"{last.loss_lin:.3g} (f^lin){accuracy}."

    # ------------------------------------------------------------------------------------- drawing
    def draw(self, frame: LazyFrame):
        setup, h, info = frame.setup, frame.history, frame.info
        self.set_guards(info.guards)
        self.gauge.value = lr_gauge_html(info.lr, info.rates.converge, info.rates.diverge, info.lr_scale)
        now = frame.spectrum_t
        index = np.arange(1, len(setup.spectrum0) + 1, dtype=np.float64)
        drift = np.isfinite(h["kernel_drift"])
        mode = "circle" if setup.data is None else "digits"
        if mode != self._mode:
            P.lazy_axes(self.figure, mode)
            self._mode = mode
        if mode == "circle":
            first, self.thumbnails.value = self._circle_traces(frame), ""
        else:
            first, self.thumbnails.value = digits_traces(frame)
        P.set_traces(self.figure, {
            **first,
            "loss": P.series(h["step"], h["loss"]), "loss_lin": P.series(h["step"], h["loss_lin"]),
            "discrepancy": P.series(h["step"], h["discrepancy"]),
            "kernel_drift": P.series(h["step"][drift], h["kernel_drift"][drift]),
            "param_distance": P.series(h["step"], h["param_distance"]),
            "spectrum0": dict(x=index, y=setup.spectrum0),
            "spectrum_t": dict(x=index if now is not None else EMPTY, y=now if now is not None else EMPTY,
                               name="spectrum of Θ_t" + (f" at step {frame.spectrum_step}" if now is not None
                                                         else "")),
        })

    def _circle_traces(self, frame: LazyFrame) -> dict:
        setup, t, closed = frame.setup, frame.setup.t_eval, frame.flin_closed
        return {"target": dict(x=t, y=setup.y_eval), "f0": dict(x=t, y=setup.f0_eval),
                "train": dict(x=setup.t_train, y=setup.y_train.numpy()),
                "f": dict(x=t, y=frame.f), "flin": dict(x=t, y=frame.flin),
                "flin_closed": dict(x=t if closed is not None else EMPTY, y=closed if closed is not None else EMPTY,
                                    name=f"f^lin at step {frame.steps} (closed form)"),
                "accuracy": dict(x=EMPTY, y=EMPTY), "accuracy_lin": dict(x=EMPTY, y=EMPTY)}
