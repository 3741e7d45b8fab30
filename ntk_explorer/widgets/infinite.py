"""Infinite-width panel: the empirical NTK against the analytic one, and the NTK-GP against an ensemble."""
from __future__ import annotations

import ipywidgets as W
import numpy as np
import torch

from ..plots import panels as P
from ..kernels import analytic_kernels
from ..dynamics import critical_learning_rates
from ..experiments import ExperimentConfig, ensemble, gp_prediction
from ..kernels import empirical_ntk
from .panel import Panel, dropdown, grid, log_slider, seed_box, slider, target_text, width_selector
from .figure import figure_widget
from .guards import conditioning_guard, learning_rate_guard
from .lazy import WIDTHS

__all__ = ["InfiniteWidthPanel", "experiment_config"]

DEFAULTS = dict(width=512, depth=1, activation="erf", bias=0.1, ensemble=16, steps=200, lr=1.0, n=16,
                target="sin(3*t)", seed=0)

EQUATIONS = r"""
<p><b>Analytic NTK</b> (Jacot et al. 2018, seed 003 Proposition 1 and Theorem 1, there with $\sigma_w=1$):
with $\Sigma^{(1)}=\frac{\sigma_w^2}{d}x^Tx'+\sigma_b^2$, $\Theta^{(1)}=\Sigma^{(1)}$,
$\Sigma^{(l+1)}=\sigma_w^2\,\mathbb E[\phi(u)\phi(v)]+\sigma_b^2$ and
$\Theta^{(l+1)}=\Theta^{(l)}\,\sigma_w^2\,\mathbb E[\phi'(u)\phi'(v)]+\Sigma^{(l+1)}$, $(u,v)\sim
\mathcal N(0,\Sigma^{(l)})$. The empirical $\hat\Theta_0$ of a width-$n$ network converges to $\Theta$ as
$n\to\infty$ (fluctuations $O(n^{-1/2})$). Left plot: the slice $\Theta(x_0,\cdot)$ over the circle.</p>
<p><b>NTK-GP</b> (Lee et al. 2019 Corollary 1, seed 001 §4): over random initialisation the infinitely wide
linearized network after $t$ GD steps is Gaussian with, writing $A_t=(I-\frac{\eta}{N}\Theta)^t$ and
$B_t=\Theta(x,\mathcal X)\Theta^{-1}(I-A_t)$,
mean $B_t\mathcal Y$ (eq. 27) and covariance
$\mathcal K(x,x)-B_t\mathcal K(\mathcal X,x)-\mathcal K(x,\mathcal X)B_t^T+B_t\mathcal K(\mathcal X,\mathcal X)B_t^T$
(eq. 28; eqs. 29–30 as $t\to\infty$), $\mathcal K$ the NNGP kernel. Right plot: GP mean $\pm2\sigma$ against the
mean $\pm2\sigma$ over an ensemble of trained finite networks.</p>
"""


def experiment_config(cfg: dict) -> ExperimentConfig:
    """The ExperimentConfig of the ensemble (NTK parameterization, as the analytic kernels assume)."""
    return ExperimentConfig(width=cfg["width"], depth=cfg["depth"], activation=cfg["activation"],
                            parameterization="ntk", sigma_b=cfg["bias"], n_train=cfg["n"], n_eval=128,
                            target=cfg["target"], lr=cfg["lr"], steps=cfg["steps"], record_every=cfg["steps"],
                            kernel_every=None)


class InfiniteWidthPanel(Panel):
    """Controls: width, depth, activation, bias, ensemble (number of networks), steps, lr, n, target, seed.
    A run computes the kernel slice (one network, ``seed``), the GP, then trains the ensemble (seeds
    seed … seed + ensemble − 1)."""

    key, title, equations, run_label = "infinite", "Infinite width", EQUATIONS, "computing kernels"
    auto_run = False

    def __init__(self):
        super().__init__()
        d = DEFAULTS
        self.controls = {
            "width": width_selector(d["width"], WIDTHS),
            "depth": slider("hidden layers", d["depth"], 1, 3),
            "activation": dropdown("activation", ["erf", "relu", "tanh", "gelu", "softplus"], d["activation"]),
            "bias": slider("bias σ_b", d["bias"], 0.0, 1.0, 0.05, integer=False),
            "ensemble": slider("networks", d["ensemble"], 2, 64),
            "steps": slider("GD steps t", d["steps"], 10, 2000, 10),
            "lr": log_slider("learning rate η", d["lr"], -2, 1),
            "n": slider("training points", d["n"], 2, 64),
            "target": target_text(d["target"]),
            "seed": seed_box(d["seed"]),
        }
        self.run_button = W.Button(description="Run", button_style="primary", icon="play")
        self.stop_button = W.Button(description="Stop", icon="stop")
        self.summary = W.HTML()
        self.figures = {"kernel": figure_widget(P.kernel_slice_figure()), "gp": figure_widget(P.gp_figure())}
        self._make_runner()
        self.run_button.on_click(lambda _: self.run())
        self.stop_button.on_click(lambda _: self.stop())
        self._watch_controls()
        self._assemble([W.HBox([self.run_button, self.stop_button]), *self.controls.values()],
                       grid(self.figures.values()), extra=[self.summary])

    def _job(self, ctx, cfg):
        config = experiment_config(cfg)
        data = config.dataset()
        t_eval, x_eval = data.t_eval.numpy(), data.x_eval
        model = config.model(cfg["seed"])
        theta_hat = empirical_ntk(model, x_eval).detach()
        theta = analytic_kernels(x_eval, depth=cfg["depth"], activation=cfg["activation"], sigma_b=cfg["bias"]).ntk
        error = float(torch.linalg.matrix_norm(theta_hat - theta) / torch.linalg.matrix_norm(theta))
        state = dict(t=t_eval, slice_hat=theta_hat[0].numpy(), slice=theta[0].numpy(), error=error,
                     t_train=data.t_train.numpy(), y_train=data.y_train.numpy(), gp=None, ens=None, cfg=cfg)
        k_train = analytic_kernels(data.x_train, depth=cfg["depth"], activation=cfg["activation"],
                                   sigma_b=cfg["bias"]).ntk
        rates = critical_learning_rates(k_train)
        state["guards"] = conditioning_guard(k_train, "the GP mean and covariance (eqs. 27–30)") + \
            learning_rate_guard(cfg["lr"] * model.lr_scale, rates.converge, rates.diverge)
        ctx.frame(lambda: dict(state), final=True, status="kernels done; GP…")
        lr = cfg["lr"] * model.lr_scale
        if lr >= rates.diverge:  # the GP and the networks grow without bound: say so instead of plotting it
            return "diverged", (f"lr = {lr:.4g} ≥ 2N/λ_max = {rates.diverge:.4g} (analytic NTK): gradient descent "
                                f"diverges, so the GP and the ensemble are not shown. Lower lr.")
        ctx.check()
        gp = gp_prediction(data.x_train, data.y_train, x_eval, lr=cfg["lr"] * model.lr_scale, t=cfg["steps"],
                           depth=cfg["depth"], activation=cfg["activation"], sigma_b=cfg["bias"])
        state["gp"] = (gp.mean.numpy(), np.sqrt(np.clip(gp.variance.numpy(), 0.0, None)))
        ctx.frame(lambda: dict(state), final=True, status=f"training {cfg['ensemble']} networks…")
        ctx.check()
        seeds = list(range(cfg["seed"], cfg["seed"] + cfg["ensemble"]))
        try:
            result = ensemble(config, seeds)
        except ValueError as error:
            if "diverged" not in str(error):
                raise
            return "diverged", f"{error} (a finite network's NTK differs from the analytic one)"
        state["ens"] = (result.mean[-1], result.std[-1])
        ctx.frame(lambda: dict(state), final=True)
        return f"done in {ctx.elapsed():.1f} s: relative NTK error {error:.3g} at width {cfg['width']}."

    def _draw(self, state):
        self.set_guards(state.get("guards", []))
        t = state["t"]
        P.set_traces(self.figures["kernel"], {"analytic": dict(x=t, y=state["slice"]),
                                              "empirical": dict(x=t, y=state["slice_hat"])})
        title = f"NTK slice Θ(x_0, x), x_0 at angle 0; ‖Θ̂_0 − Θ‖_F/‖Θ‖_F = {state['error']:.3g}"
        self.figures["kernel"].layout.title.text = title
        updates = {"train": dict(x=state["t_train"], y=state["y_train"])}
        empty = np.zeros(0)
        if state["gp"] is not None:
            mean, sd = state["gp"]
            updates["gp_mean"] = dict(x=t, y=mean)
            updates["gp_band"] = dict(x=np.concatenate([t, t[::-1]]),
                                      y=np.concatenate([mean + 2 * sd, (mean - 2 * sd)[::-1]]))
        else:
            updates["gp_mean"] = updates["gp_band"] = dict(x=empty, y=empty)
        if state["ens"] is not None:
            mean, sd = state["ens"]
            updates["ens_mean"] = dict(x=t, y=mean)
            updates["ens_band"] = dict(x=np.concatenate([t, [np.nan], t]),
                                       y=np.concatenate([mean + 2 * sd, [np.nan], mean - 2 * sd]))
        else:
            updates["ens_mean"] = updates["ens_band"] = dict(x=empty, y=empty)
        P.set_traces(self.figures["gp"], updates)
        if state["gp"] is not None and state["ens"] is not None:
            ratio = np.median(state["ens"][1] ** 2 / np.maximum(state["gp"][1] ** 2, 1e-300))
            self.summary.value = (f"Median variance ratio ensemble/GP over the eval points: {ratio:.2f} "
                                  f"({state['cfg']['ensemble']} networks; → 1 as width and ensemble grow).")

    def export_columns(self) -> dict:
        s = self.last_state
        if s is None:
            return {}
        nan = np.full(len(s["t"]), np.nan)
        gp, ens = s["gp"] or (nan, nan), s["ens"] or (nan, nan)
        return {"angle": s["t"], "ntk_analytic_slice": s["slice"], "ntk_empirical_slice": s["slice_hat"],
                "gp_mean": gp[0], "gp_std": gp[1], "ensemble_mean": ens[0], "ensemble_std": ens[1]}

    def snippet(self) -> str:
        cfg = self.config()
        config = experiment_config(cfg)
        fields = ", ".join(f"{k}={getattr(config, k)!r}" for k in ("width", "depth", "activation", "sigma_b",
                                                                      "n_train", "n_eval", "target", "lr", "steps",
                                                                      "record_every", "kernel_every"))
        return (f"from ntk_explorer import ExperimentConfig, ensemble, gp_prediction\n\n"
                f"config = ExperimentConfig({fields})\ndata = config.dataset()\n"
                f"gp = gp_prediction(data.x_train, data.y_train, data.x_eval, lr={cfg['lr']!r}, t={cfg['steps']}, "
                f"depth={cfg['depth']}, activation={cfg['activation']!r}, sigma_b={cfg['bias']!r})\n"
                f"result = ensemble(config, range({cfg['seed']}, {cfg['seed'] + cfg['ensemble']}))\n"
                f"print(gp.mean, result.mean[-1])\n")
