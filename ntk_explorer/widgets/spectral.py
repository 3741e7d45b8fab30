"""Learning-rate and spectral-bias panel: the training residual per NTK eigenmode, measured and predicted."""
from __future__ import annotations

import html

import ipywidgets as W
import numpy as np

from ..plots import panels as P
from .. import spectra as S
from .panel import Panel, dropdown, seed_box, slider, target_text, width_selector
from .figure import figure_widget
from .guards import conditioning_guard, divergence_status, learning_rate_guard, lr_gauge_html
from .lazy_setup import LazySetup
from .lazy import WIDTHS

__all__ = ["SpectralBiasPanel", "mode_ranks", "GROWTH_LIMIT"]

DEFAULTS = dict(width=512, depth=2, activation="relu", bias=0.1, n=16, target="sin(3*t)", seed=0, lr_ratio=0.3,
                steps=300, modes=5)
GROWTH_LIMIT = 1e6  # predicted curves are cut where they exceed this multiple of the largest initial residual
FLOOR = 1e-12  # the y axis stops at this fraction of the largest initial residual (round-off level below)

EQUATIONS = r"""
<p><b>Residual dynamics</b> (seed 001 eqs. 8–9, 14, discretised): with $r_t=f_t(\mathcal X)-\mathcal Y$ and
$L=\frac1N\sum_i\frac12 r_i^2$, the linearized network obeys $r_{t+1}=(I-\frac{\eta}{N}\hat\Theta_0)\,r_t$.
Projected on the eigenvectors $u_i$ of $\hat\Theta_0(\mathcal X,\mathcal X)$ (eigenvalues $\lambda_i$):
$u_i^Tr_t=(1-\eta\lambda_i/N)^t\,u_i^Tr_0$ (dotted: theory; solid: the real network).</p>
<p><b>Spectral bias</b>: large-eigenvalue modes decay first; a mode with small $\lambda_i$ needs
$\sim N/(\eta\lambda_i)$ steps (seed 000 footnote 2).</p>
<p><b>Critical rates</b> (seed 002): $\eta_{conv}=\frac{2N}{\lambda_{min}+\lambda_{max}}$ balances the slowest and
fastest modes; above it the top modes oscillate ($1-\eta\lambda/N<0$); above $\eta_{div}=\frac{2N}{\lambda_{max}}$
the top mode grows as $|1-\eta\lambda_{max}/N|^t$ and training diverges. The slider is in units of
$\eta_{div}$.</p>
"""


def mode_ranks(n_train: int, count: int) -> np.ndarray:
    """Indices (0 = largest eigenvalue) of ``count`` modes spread log-evenly over the spectrum."""
    count = min(count, n_train)
    ranks = np.unique(np.round(np.geomspace(1, n_train, count)).astype(int) - 1)
    extra = [i for i in range(n_train) if i not in ranks]
    return np.sort(np.concatenate([ranks, extra[:count - len(ranks)]])).astype(int)


class SpectralBiasPanel(Panel):
    """Controls: width, depth, activation, bias, n, target, seed, lr_ratio (η / η_div), steps, modes."""

    key, title, equations, run_label = "spectral", "Learning rate & spectral bias", EQUATIONS, "training"

    def __init__(self):
        super().__init__()
        d = DEFAULTS
        self.controls = {
            "lr_ratio": slider("η / η_div", d["lr_ratio"], 0.02, 1.5, 0.01, integer=False),
            "steps": slider("GD steps", d["steps"], 10, 3000, 10),
            "modes": slider("modes shown", d["modes"], 1, 8),
            "width": width_selector(d["width"], WIDTHS),
            "depth": slider("hidden layers", d["depth"], 1, 4),
            "activation": dropdown("activation", ["relu", "erf", "tanh", "gelu", "softplus"], d["activation"]),
            "bias": slider("bias σ_b", d["bias"], 0.0, 1.0, 0.05, integer=False),
            "n": slider("training points", d["n"], 2, 64),
            "target": target_text(d["target"]),
            "seed": seed_box(d["seed"]),
        }
        self.gauge = W.HTML()
        self.message = W.HTML()
        self.figures = {"modes": figure_widget(P.mode_residual_figure(8), width=900)}
        self._make_runner()
        self._watch_controls()
        self._assemble([*self.controls.values(), self.gauge], self.figures["modes"], extra=[self.message])

    def _job(self, ctx, cfg):
        setup = LazySetup.build(dict(cfg, parameterization="ntk", noise=0.0, radius=1.0))
        ctx.check()
        rates = setup.rates()
        lr = cfg["lr_ratio"] * rates.diverge
        ranks = mode_ranks(len(setup.t_train), cfg["modes"])
        record = max(1, cfg["steps"] // 150)
        steps = np.arange(0, cfg["steps"] + 1, record)
        if steps[-1] != cfg["steps"]:
            steps = np.append(steps, cfg["steps"])
        theory = S.mode_residuals(setup.k_train, setup.f0_train, setup.y_train, lr, steps.tolist())
        guards = conditioning_guard(setup.k_train, "per-mode predictions for tiny eigenvalues") + \
            learning_rate_guard(lr, rates.converge, rates.diverge)
        base = dict(ranks=ranks, eigenvalues=theory.eigenvalues.numpy(), theory_steps=steps,
                    theory=np.abs(theory.projections.numpy()), lr=lr, rates=rates, guards=guards, diverged="")
        measured_steps, residuals = [], []

        def state():
            if not residuals:
                return dict(base, steps=np.zeros(0), measured=np.zeros((0, len(setup.t_train))))
            projected = S.project_residuals(setup.k_train, np.stack(residuals)).numpy()
            return dict(base, steps=np.asarray(measured_steps, dtype=np.float64), measured=np.abs(projected))

        ctx.frame(state, final=True, status="step 0")
        y = setup.y_train.numpy()
        last = None
        for snapshot in setup.stream(lr, cfg["steps"], 1.0, ctx.stop):
            last = snapshot
            measured_steps.append(snapshot.step)
            residuals.append(snapshot.f_train - y)
            ctx.frame(state, status=f"training, step {snapshot.step}/{cfg['steps']}")
        if last is not None and last.diverged:
            base["diverged"] = divergence_status(last.message, lr, rates.diverge, last.step)
        ctx.frame(state, final=True)
        if last is not None and last.diverged:
            return "diverged", base["diverged"]
        return f"done in {ctx.elapsed():.1f} s (η = {cfg['lr_ratio']:.3g} × η_div = {lr:.4g})."

    def _draw(self, state):
        fig, ranks = self.figures["modes"], state["ranks"]
        initial = state["theory"][0].max()
        updates = {}
        for slot in range(8):
            if slot < len(ranks):
                i = ranks[slot]
                label = f"mode {i + 1}: λ = {state['eigenvalues'][i]:.3g}"
                theory = state["theory"][:, i]
                keep = theory <= GROWTH_LIMIT * initial  # never draw astronomically large or overflowing values
                updates[f"measured{slot}"] = dict(x=state["steps"], y=state["measured"][:, i], name=label,
                                                  visible=True)
                updates[f"theory{slot}"] = dict(x=state["theory_steps"][keep], y=theory[keep], visible=True)
            else:
                updates[f"measured{slot}"] = dict(x=np.zeros(0), y=np.zeros(0), visible=False)
                updates[f"theory{slot}"] = dict(x=np.zeros(0), y=np.zeros(0), visible=False)
        P.set_traces(fig, updates)
        fig.layout.yaxis.range = [np.log10(FLOOR * initial), np.log10(initial) + 0.5] if initial > 0 else None
        rates = state["rates"]
        self.gauge.value = lr_gauge_html(state["lr"], rates.converge, rates.diverge)
        self.set_guards(state["guards"])
        diverged = html.escape(state["diverged"])
        self.message.value = ("" if not diverged else
                              f'<div role="alert" style="background:#FDE7E9;border-left:4px solid #D55E00;'
                              f'padding:6px 8px;font-weight:600">Training diverged — {diverged}</div>')

    def export_columns(self) -> dict:
        s = self.last_state
        if s is None:
            return {}
        columns = {"step": s["steps"]}
        for i in s["ranks"]:
            columns[f"mode{i + 1}_measured"] = s["measured"][:, i]
        return columns

    def snippet(self) -> str:
        c = self.config()
        return ("from ntk_explorer import MLP, critical_learning_rates, empirical_ntk\n"
                "from ntk_explorer.data import make_dataset\nfrom ntk_explorer.spectra import mode_residuals\n\n"
                f"data = make_dataset('circle', n_train={c['n']}, n_eval=128, target={c['target']!r})\n"
                f"model = MLP(2, {c['width']}, {c['depth']}, activation={c['activation']!r}, sigma_b={c['bias']!r}, "
                f"seed={c['seed']})\nK = empirical_ntk(model, data.x_train)\n"
                f"lr = {c['lr_ratio']!r} * critical_learning_rates(K).diverge\n"
                f"modes = mode_residuals(K, model(data.x_train)[:, 0].detach(), data.y_train, lr, {c['steps']})\n"
                "print(modes.eigenvalues, modes.decay[-1])\n")
