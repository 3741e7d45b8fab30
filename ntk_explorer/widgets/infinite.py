"""Infinite-width panel: the empirical NTK against the analytic one, and the NTK-GP against an ensemble."""
from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Optional

import ipywidgets as W
import numpy as np

from ..data import parse_target
from ..dynamics import critical_learning_rates
from ..experiments import ExperimentConfig, ensemble, gp_prediction, ntk_error
from ..kernels import analytic_kernels
from ..plots import panels as P
from .guards import conditioning_guard, learning_rate_guard
from .lazy import WIDTHS
from .panel import Panel, buttons
from .settings import Choice, FloatRange, IntRange, LogRange, Settings, Text, setting

__all__ = ["InfiniteWidthPanel", "InfiniteSettings", "InfiniteFrame"]


@dataclass(frozen=True)
class InfiniteSettings(Settings):
    """Settings of the infinite-width panel: one network of ``width`` (seed ``seed``) for the kernel slice, an
    ensemble of ``ensemble`` networks (seeds seed … seed + ensemble − 1) trained for ``steps`` GD steps."""
    width: int = setting(512, Choice("width n", WIDTHS, style="slider"))
    depth: int = setting(1, IntRange("hidden layers", 1, 3))
    activation: str = setting("erf", Choice("activation", ("erf", "relu", "tanh", "gelu", "softplus")))
    bias: float = setting(0.1, FloatRange("bias σ_b", 0.0, 1.0, step=0.05))
    ensemble: int = setting(16, IntRange("networks", 2, 64))
    steps: int = setting(200, IntRange("GD steps t", 10, 2000, step=10))
    lr: float = setting(1.0, LogRange("learning rate η", 1e-2, 10.0))
    n: int = setting(16, IntRange("training points", 2, 64))
    target: str = setting("sin(3*t)", Text("target f*(t)", validate=parse_target))
    seed: int = setting(0, IntRange("seed", 0, 1_000_000, box=True))

    def experiment(self) -> ExperimentConfig:
        """The ExperimentConfig of the ensemble (NTK parameterization, as the analytic kernels assume)."""
        return ExperimentConfig(width=self.width, depth=self.depth, activation=self.activation,
                                parameterization="ntk", sigma_b=self.bias, n_train=self.n, n_eval=128,
                                target=self.target, lr=self.lr, steps=self.steps, record_every=self.steps,
                                kernel_every=None)


@dataclass(frozen=True, eq=False)
class InfiniteFrame:
    """The kernel slices over the eval angles ``t`` and their relative error, the training data, the GP mean and
    standard deviation and the ensemble's (None until computed), and the teaching guards."""
    t: np.ndarray
    slice_hat: np.ndarray
    slice: np.ndarray
    error: float
    t_train: np.ndarray
    y_train: np.ndarray
    guards: list
    networks: int
    gp: Optional[tuple] = None
    ens: Optional[tuple] = None

    def columns(self) -> dict:
        nan = np.full(len(self.t), np.nan)
        gp, ens = self.gp or (nan, nan), self.ens or (nan, nan)
        return {"angle": self.t, "ntk_analytic_slice": self.slice, "ntk_empirical_slice": self.slice_hat,
                "gp_mean": gp[0], "gp_std": gp[1], "ensemble_mean": ens[0], "ensemble_std": ens[1]}


EQUATIONS = r"""
<p><b>Analytic NTK</b> (Jacot, Gabriel &amp; Hongler 2018, Proposition 1 and Theorem 1, there with $\sigma_w=1$):
with $\Sigma^{(1)}=\frac{\sigma_w^2}{d}x^Tx'+\sigma_b^2$, $\Theta^{(1)}=\Sigma^{(1)}$,
$\Sigma^{(l+1)}=\sigma_w^2\,\mathbb E[\phi(u)\phi(v)]+\sigma_b^2$ and
$\Theta^{(l+1)}=\Theta^{(l)}\,\sigma_w^2\,\mathbb E[\phi'(u)\phi'(v)]+\Sigma^{(l+1)}$, $(u,v)\sim
\mathcal N(0,\Sigma^{(l)})$. The empirical $\hat\Theta_0$ of a width-$n$ network converges to $\Theta$ as
$n\to\infty$ (fluctuations $O(n^{-1/2})$). Left plot: the slice $\Theta(x_0,\cdot)$ over the circle.</p>
<p><b>NTK-GP</b> (Lee et al. 2019; derivation in Y. Chen, "Linearized Networks", §4 "Corollary 1"): over random
initialisation the infinitely wide linearized network after $t$ GD steps is Gaussian with, writing
$A_t=(I-\frac{\eta}{N}\Theta)^t$ and $B_t=\Theta(x,\mathcal X)\Theta^{-1}(I-A_t)$,
mean $B_t\mathcal Y$ (Chen eq. (27)) and covariance
$\mathcal K(x,x)-B_t\mathcal K(\mathcal X,x)-\mathcal K(x,\mathcal X)B_t^T+B_t\mathcal K(\mathcal X,\mathcal X)B_t^T$
(Chen eq. (28); eqs. (29)–(30) as $t\to\infty$), $\mathcal K$ the NNGP kernel. Right plot: GP mean $\pm2\sigma$
against the mean $\pm2\sigma$ over an ensemble of trained finite networks.</p>
"""


class InfiniteWidthPanel(Panel):
    """A run computes the kernel slice (one network, ``seed``), the GP, then trains the ensemble (settings:
    :class:`InfiniteSettings`).  Runs start with the Run button (and when the panel is first shown)."""

    Settings = InfiniteSettings
    key, title, equations, run_label = "infinite", "Infinite width", EQUATIONS, "computing kernels"
    auto_run = False
    snippet_imports = "from ntk_explorer import ExperimentConfig, ensemble, gp_prediction\n"
    snippet_body = """config = ExperimentConfig(width=s.width, depth=s.depth, activation=s.activation, sigma_b=s.bias,
                          n_train=s.n, n_eval=128, target=s.target, lr=s.lr, steps=s.steps,
                          record_every=s.steps, kernel_every=None)
data = config.dataset()
gp = gp_prediction(data.x_train, data.y_train, data.x_eval, lr=s.lr, t=s.steps, depth=s.depth,
                   activation=s.activation, sigma_b=s.bias)
result = ensemble(config, range(s.seed, s.seed + s.ensemble))
print(gp.mean, result.mean[-1])
"""

    def make_figure(self):
        return P.infinite_figure()

    def view(self):
        self.run_button, self.stop_button = buttons(("Run", "play", "compute kernels, GP and ensemble", True),
                                                    ("Stop", "stop", "stop the run in flight", False))
        self.summary = W.HTML()
        self.run_button.on_click(lambda _: self.run())
        self.stop_button.on_click(lambda _: self.stop())
        return [W.HBox([self.run_button, self.stop_button]), *self.controls.values()], [self.summary]

    def job(self, ctx, settings):
        config = settings.experiment()
        data = config.dataset()
        t_eval, x_eval = data.t_eval.numpy(), data.x_eval
        model = config.model(settings.seed)
        kernels = ntk_error(model, x_eval)  # Θ̂_0 and Θ on the eval points, ‖Θ̂_0 − Θ‖_F/‖Θ‖_F
        k_train = analytic_kernels(data.x_train, depth=settings.depth, activation=settings.activation,
                                   sigma_b=settings.bias).ntk
        rates, lr = critical_learning_rates(k_train), model.scaled_lr(settings.lr)
        guards = conditioning_guard(k_train, "the GP mean and covariance (Chen eqs. (27)–(30))") + \
            learning_rate_guard(lr, rates.converge, rates.diverge)
        frame = InfiniteFrame(t_eval, kernels.empirical[0].cpu().numpy(), kernels.analytic[0].cpu().numpy(),
                              kernels.error, data.t_train.numpy(), data.y_train.numpy(), guards, settings.ensemble)
        ctx.frame(lambda: frame, final=True, status="kernels done; GP…")
        if lr >= rates.diverge:  # the GP and the networks grow without bound: say so instead of plotting it
            return "diverged", (f"lr = {lr:.4g} ≥ 2N/λ_max = {rates.diverge:.4g} (analytic NTK): gradient descent "
                                f"diverges, so the GP and the ensemble are not shown. Lower lr.")
        ctx.check()
        gp = gp_prediction(data.x_train, data.y_train, x_eval, lr=lr, t=settings.steps, depth=settings.depth,
                           activation=settings.activation, sigma_b=settings.bias)
        frame = replace(frame, gp=(gp.mean.numpy(), np.sqrt(np.clip(gp.variance.numpy(), 0.0, None))))
        ctx.frame(lambda: frame, final=True, status=f"training {settings.ensemble} networks…")
        ctx.check()
        try:
            result = ensemble(config, list(range(settings.seed, settings.seed + settings.ensemble)))
        except ValueError as error:
            if "diverged" not in str(error):
                raise
            return "diverged", f"{error} (a finite network's NTK differs from the analytic one)"
        frame = replace(frame, ens=(result.mean[-1], result.std[-1]))
        ctx.frame(lambda: frame, final=True)
        return f"done in {ctx.elapsed():.1f} s: relative NTK error {kernels.error:.3g} at width {settings.width}."

    def draw(self, frame: InfiniteFrame):
        self.set_guards(frame.guards)
        t, empty = frame.t, np.zeros(0)
        updates = {"analytic": dict(x=t, y=frame.slice), "empirical": dict(x=t, y=frame.slice_hat),
                   "train": dict(x=frame.t_train, y=frame.y_train)}
        if frame.gp is not None:
            mean, sd = frame.gp
            updates["gp_mean"] = dict(x=t, y=mean)
            updates["gp_band"] = dict(x=np.concatenate([t, t[::-1]]),
                                      y=np.concatenate([mean + 2 * sd, (mean - 2 * sd)[::-1]]))
        else:
            updates["gp_mean"] = updates["gp_band"] = dict(x=empty, y=empty)
        if frame.ens is not None:
            mean, sd = frame.ens
            updates["ens_mean"] = dict(x=t, y=mean)
            updates["ens_band"] = dict(x=np.concatenate([t, [np.nan], t]),
                                       y=np.concatenate([mean + 2 * sd, [np.nan], mean - 2 * sd]))
        else:
            updates["ens_mean"] = updates["ens_band"] = dict(x=empty, y=empty)
        P.set_traces(self.figure, updates)
        P.set_subplot_title(self.figure, 0, f"NTK slice Θ(x_0, ·); ‖Θ̂_0 − Θ‖_F/‖Θ‖_F = "
                                            f"{frame.error:.3g}")
        if frame.gp is not None and frame.ens is not None:
            ratio = np.median(frame.ens[1] ** 2 / np.maximum(frame.gp[1] ** 2, 1e-300))
            self.summary.value = (f"Median variance ratio ensemble/GP over the eval points: {ratio:.2f} "
                                  f"({frame.networks} networks; → 1 as width and ensemble grow).")
