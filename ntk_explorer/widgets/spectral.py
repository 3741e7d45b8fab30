"""Learning-rate and spectral-bias panel: the training residual per NTK eigenmode, measured and predicted."""
from __future__ import annotations

import html
from dataclasses import dataclass
from typing import Optional

import ipywidgets as W
import numpy as np

from .. import spectra as S
from ..data import parse_target
from ..plots import panels as P
from .guards import conditioning_guard, divergence_status, learning_rate_guard, lr_gauge_html
from .lazy import WIDTHS
from .lazy_setup import LazySetup, Problem
from .panel import Panel
from .settings import Choice, FloatRange, IntRange, Settings, Text, setting
from .state import LastResult

__all__ = ["SpectralBiasPanel", "SpectralSettings", "SpectralFrame", "mode_ranks", "GROWTH_LIMIT"]

GROWTH_LIMIT = 1e6  # predicted curves are cut where they exceed this multiple of the largest initial residual
FLOOR = 1e-12  # the y axis stops at this fraction of the largest initial residual (round-off level below)
MAX_MODES = 8


@dataclass(frozen=True)
class SpectralSettings(Settings):
    """Settings of the spectral-bias panel: the rate as a fraction ``lr_ratio`` of η_div = 2N/λ_max, the
    number of GD steps and of modes shown, and the network and data (NTK parameterization, no label noise)."""
    lr_ratio: float = setting(0.3, FloatRange("η / η_div", 0.02, 1.5, step=0.01))
    steps: int = setting(300, IntRange("GD steps", 10, 3000, step=10))
    modes: int = setting(5, IntRange("modes shown", 1, MAX_MODES))
    width: int = setting(512, Choice("width n", WIDTHS, style="slider"))
    depth: int = setting(2, IntRange("hidden layers", 1, 4))
    activation: str = setting("relu", Choice("activation", ("relu", "erf", "tanh", "gelu", "softplus")))
    bias: float = setting(0.1, FloatRange("bias σ_b", 0.0, 1.0, step=0.05))
    n: int = setting(16, IntRange("training points", 2, 64))
    target: str = setting("sin(3*t)", Text("target f*(t)", validate=parse_target))
    seed: int = setting(0, IntRange("seed", 0, 1_000_000, box=True))

    def problem(self) -> Problem:
        return Problem(self.width, self.depth, self.activation, "ntk", self.bias, self.seed, self.target, self.n)


@dataclass(frozen=True, eq=False)
class SpectralFrame:
    """The modes shown (``ranks``, 0 = largest eigenvalue), the eigenvalues of Θ_0, the predicted |u_iᵀr_t| at
    ``theory_steps`` and the measured ones at ``steps``, the rate and critical rates, guards, and the divergence
    message ("" when training did not diverge)."""
    ranks: np.ndarray
    eigenvalues: np.ndarray
    theory_steps: np.ndarray
    theory: np.ndarray
    lr: float
    rates: object
    guards: list
    steps: np.ndarray
    measured: np.ndarray
    diverged: str = ""

    def columns(self) -> dict:
        columns = {"step": self.steps}
        for i in self.ranks:
            columns[f"mode{i + 1}_measured"] = self.measured[:, i]
        return columns


EQUATIONS = r"""
<p><b>Residual dynamics</b> (Lee et al. 2019; Y. Chen, "Linearized Networks", eqs. (8)–(9), (14), discretised):
with $r_t=f_t(\mathcal X)-\mathcal Y$ and $L=\frac1N\sum_i\frac12 r_i^2$, the linearized network obeys
$r_{t+1}=(I-\frac{\eta}{N}\hat\Theta_0)\,r_t$.
Projected on the eigenvectors $u_i$ of $\hat\Theta_0(\mathcal X,\mathcal X)$ (eigenvalues $\lambda_i$):
$u_i^Tr_t=(1-\eta\lambda_i/N)^t\,u_i^Tr_0$ (dotted: theory; solid: the real network).</p>
<p><b>Spectral bias</b>: large-eigenvalue modes decay first; a mode with small $\lambda_i$ needs
$\sim N/(\eta\lambda_i)$ steps (Jacot, Gabriel &amp; Hongler 2018, least-squares regression; Bordelon, Canatar &amp;
Pehlevan 2020).</p>
<p><b>Critical rates.</b> $\eta_{conv}=\frac{2N}{\lambda_{min}+\lambda_{max}}$ (Lee et al. 2019's
$\eta_{critical}=\frac{2}{\lambda_{min}+\lambda_{max}}$ times $N$, our loss being a mean) balances the slowest and
fastest modes; above it the top modes oscillate ($1-\eta\lambda/N<0$); above $\eta_{div}=\frac{2N}{\lambda_{max}}$
(the stability limit of gradient descent on a quadratic) the top mode grows as $|1-\eta\lambda_{max}/N|^t$ and
training diverges. The slider is in units of $\eta_{div}$.</p>
"""

def mode_ranks(n_train: int, count: int) -> np.ndarray:
    """Indices (0 = largest eigenvalue) of ``count`` modes spread log-evenly over the spectrum."""
    count = min(count, n_train)
    ranks = np.unique(np.round(np.geomspace(1, n_train, count)).astype(int) - 1)
    extra = [i for i in range(n_train) if i not in ranks]
    return np.sort(np.concatenate([ranks, extra[:count - len(ranks)]])).astype(int)


def record_steps(steps: int) -> np.ndarray:
    """The steps at which the theory is evaluated: about 150 of them, the last step included."""
    record = max(1, steps // 150)
    points = np.arange(0, steps + 1, record)
    return points if points[-1] == steps else np.append(points, steps)


class SpectralBiasPanel(Panel):
    """The residual per eigenmode of Θ_0, measured on the trained network and predicted (settings:
    :class:`SpectralSettings`)."""

    Settings = SpectralSettings
    key, title, equations, run_label = "spectral", "Learning rate & spectral bias", EQUATIONS, "training"
    snippet_imports = ("from ntk_explorer import MLP, critical_learning_rates, empirical_ntk\n"
                       "from ntk_explorer.data import make_dataset\nfrom ntk_explorer.spectra import mode_residuals\n")
    snippet_body = """data = make_dataset("circle", n_train=s.n, n_eval=128, target=s.target)
model = MLP(2, s.width, s.depth, activation=s.activation, sigma_b=s.bias, seed=s.seed)
K = empirical_ntk(model, data.x_train)
lr = s.lr_ratio * critical_learning_rates(K).diverge
modes = mode_residuals(K, model(data.x_train)[:, 0].detach(), data.y_train, lr, s.steps)
print(modes.eigenvalues, modes.decay[-1])
"""

    def __init__(self, settings: Optional[SpectralSettings] = None, /, **overrides):
        self._setups = LastResult(LazySetup.build)  # the network and kernels of the last Problem
        super().__init__(settings, **overrides)

    def make_figure(self):
        return P.mode_residual_figure(MAX_MODES)

    def view(self):
        self.gauge, self.message = W.HTML(), W.HTML()
        return [*self.controls.values(), self.gauge], [self.message]

    def job(self, ctx, settings):
        setup = self._setups(settings.problem())
        ctx.check()
        rates = setup.rates()
        lr = settings.lr_ratio * rates.diverge
        steps = record_steps(settings.steps)
        theory = S.mode_residuals(setup.k_train, setup.f0_train, setup.y_train, lr, steps.tolist())
        guards = conditioning_guard(setup.k_train, "per-mode predictions for tiny eigenvalues") + \
            learning_rate_guard(lr, rates.converge, rates.diverge)
        n_train = len(setup.t_train)
        measured_steps, residuals, diverged = [], [], ""

        def frame():
            measured = np.abs(S.project_residuals(setup.k_train, np.stack(residuals)).numpy()) if residuals \
                else np.zeros((0, n_train))
            return SpectralFrame(mode_ranks(n_train, settings.modes), theory.eigenvalues.numpy(), steps,
                                 np.abs(theory.projections.numpy()), lr, rates, guards,
                                 np.asarray(measured_steps, dtype=np.float64), measured, diverged)
        ctx.frame(frame, final=True, status="step 0")
        y, last = setup.y_train.numpy(), None
        for last in setup.stream(lr, settings.steps, 1.0, ctx.stop):
            measured_steps.append(last.step)
            residuals.append(last.f_train - y)
            ctx.frame(frame, status=f"training, step {last.step}/{settings.steps}")
        if last is not None and last.diverged:
            diverged = divergence_status(last.message, lr, rates.diverge, last.step)
        ctx.frame(frame, final=True)
        if diverged:
            return "diverged", diverged
        return f"done in {ctx.elapsed():.1f} s (η = {settings.lr_ratio:.3g} × η_div = {lr:.4g})."

    def draw(self, frame: SpectralFrame):
        ranks, initial = frame.ranks, frame.theory[0].max()
        updates = {}
        for slot in range(MAX_MODES):
            if slot < len(ranks):
                i = ranks[slot]
                theory = frame.theory[:, i]
                keep = theory <= GROWTH_LIMIT * initial  # never draw astronomically large or overflowing values
                updates[f"measured{slot}"] = dict(P.series(frame.steps, frame.measured[:, i]), visible=True,
                                                  name=f"mode {i + 1}: λ = {frame.eigenvalues[i]:.3g}")
                updates[f"theory{slot}"] = dict(P.series(frame.theory_steps[keep], theory[keep]), visible=True)
            else:
                empty = np.zeros(0)
                updates[f"measured{slot}"] = dict(P.series(empty, empty), visible=False)
                updates[f"theory{slot}"] = dict(P.series(empty, empty), visible=False)
        P.set_traces(self.figure, updates)
        self.figure.layout.yaxis.range = [np.log10(FLOOR * initial), np.log10(initial) + 0.5] if initial > 0 \
            else None
        self.gauge.value = lr_gauge_html(frame.lr, frame.rates.converge, frame.rates.diverge)
        self.set_guards(frame.guards)
        diverged = html.escape(frame.diverged)
        self.message.value = ("" if not diverged else
                              f'<div role="alert" style="background:#FDE7E9;border-left:4px solid #D55E00;'
                              f'padding:6px 8px;font-weight:600">Training diverged — {diverged}</div>')
