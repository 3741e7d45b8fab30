"""Learnability panel: eigenlearning theory L(λ) = λ/(λ+κ), measurements, the conservation law and zero-sum
competition (Simon et al. 2021 as reviewed in seed 000 §2.2, §4, appendix C)."""
from __future__ import annotations

import html

import ipywidgets as W
import numpy as np

from ..plots import panels as P
from .. import spectra as S
from .panel import Panel, dropdown, grid, log_slider, slider
from .figure import figure_widget

__all__ = ["LearnabilityPanel", "theory"]

DEFAULTS = dict(domain="hypercube", dim=7, points=128, depth=2, activation="relu", bias=0.0, n=32, ridge=0.0,
                mode=1, boost=1.0, measure=True, trials=50, networks=False, width=64)
MEASURED_LEVELS = 6
NETWORK_LEVELS, NETWORK_TRIALS = 4, 6  # networks: 4 levels × 6 training sets ≈ 1 s at width 64

EQUATIONS = r"""
<p><b>Setting</b> (seed 000 §2.2, app. C): a finite domain of $M$ points with the uniform measure,
$\langle f,g\rangle=\frac1M\sum_x f(x)g(x)$; eigenpairs of the operator $K/M$: $(K/M)\phi_i=\lambda_i\phi_i$
(eq. 31) — Fourier modes on the circle, Walsh monomials on the hypercube, grouped by frequency/degree with
multiplicity $m_k$.</p>
<p><b>Kernel regression</b> on $n$ random points $\mathcal D$ (eq. 5, ridge added to $K(\mathcal D,\mathcal D)$):
$\hat f=K(\cdot,\mathcal D)(K(\mathcal D,\mathcal D)+\delta I)^{-1}f(\mathcal D)$;
learnability $\mathcal L^{(\mathcal D)}(f)=\langle f,\hat f\rangle/\langle f,f\rangle$,
$\mathcal L(f)=\mathbb E_{\mathcal D}[\mathcal L^{(\mathcal D)}(f)]$ (eq. 6).</p>
<p><b>Theory</b> (Simon et al. 2021): $\mathcal L(\phi_i)\approx L_i=\frac{\lambda_i}{\lambda_i+\kappa}$ with
$\kappa$ solving $\sum_i m_i\frac{\lambda_i}{\lambda_i+\kappa}+\frac{\delta}{\kappa}=n$.</p>
<p><b>Conservation law</b> (Theorem 2.2, eq. 11): ridgeless, $\sum_i\mathcal L^{(\mathcal D)}(\phi_i)=n$ for any
complete orthogonal basis. <b>Zero-sum competition</b> (Lemma 4.1, eqs. 9–10): raising $\lambda_i$ raises
$\mathcal L(\phi_i)$ and lowers every other $\mathcal L(\phi_j)$ (the "boost" slider scales one eigenvalue).</p>
<p>Measured points: kernel regression averaged over random training sets (± standard error); trained networks:
finite MLPs trained by GD to convergence (Simon et al.: theory holds already at width ≈ 20, seed 000 §5).</p>
"""


def theory(level_eigenvalues, multiplicities, n, ridge, mode, boost) -> dict:
    """Per-level theory before and after scaling one eigenvalue of level ``mode`` by ``boost`` (the other
    m − 1 eigenvalues of that level unchanged).  All numbers come from ``learnability``/``solve_kappa``."""
    lam, m = np.asarray(level_eigenvalues, dtype=np.float64), np.asarray(multiplicities, dtype=np.float64)
    L = S.learnability(lam, n, m, ridge)
    kappa = S.solve_kappa(lam, n, m, ridge)
    lam2, m2 = np.append(lam, lam[mode] * boost), np.append(m, 1.0)
    m2[mode] -= 1
    keep = m2 > 0
    L2_all = np.zeros(len(lam2))
    L2_all[keep] = S.learnability(lam2[keep], n, m2[keep], ridge)
    per_level = m2[:-1] * L2_all[:-1]
    per_level[mode] += L2_all[-1]
    return dict(L=L, kappa=kappa, level_total=m * L, boosted_level_total=per_level, L_boosted=L2_all[-1],
                L_others_after=L2_all[:-1])


class LearnabilityPanel(Panel):
    """Controls: domain, dim (hypercube), points (circle M), depth, activation, bias, n, ridge, mode, boost,
    measure, trials, networks, width."""

    key, title, equations, run_label = "learnability", "Learnability", EQUATIONS, "computing the spectrum"

    def __init__(self):
        super().__init__()
        d, style, layout = DEFAULTS, {"description_width": "118px"}, W.Layout(width="310px")
        self.controls = {
            "domain": dropdown("domain", ["hypercube", "circle"], d["domain"]),
            "dim": slider("hypercube dim d", d["dim"], 3, 10),
            "points": slider("circle points M", d["points"], 32, 512, 32),
            "depth": slider("hidden layers", d["depth"], 1, 4),
            "activation": dropdown("activation", ["relu", "erf", "tanh", "gelu", "softplus"], d["activation"]),
            "bias": slider("bias σ_b", d["bias"], 0.0, 1.0, 0.05, integer=False),
            "n": slider("training points n", d["n"], 1, 512),
            "ridge": slider("ridge δ", d["ridge"], 0.0, 1.0, 0.001, integer=False),
            "mode": slider("boost level k", d["mode"], 0, 12),
            "boost": log_slider("boost factor", d["boost"], -2, 2),
            "measure": W.Checkbox(value=d["measure"], description="measure kernel regression", indent=False),
            "trials": slider("random training sets", d["trials"], 5, 200, 5),
            "networks": W.Checkbox(value=d["networks"], description="measure trained networks (slow)", indent=False),
            "width": W.SelectionSlider(options=[16, 32, 64, 128, 256, 512, 1024], value=d["width"],
                                       description="network width", style=style, layout=layout,
                                       continuous_update=False),
        }
        self.summary = W.HTML()
        self.figures = {"learnability": figure_widget(P.learnability_figure()),
                        "conservation": figure_widget(P.conservation_figure())}
        self._kernel_cache = None
        self._make_runner()
        self._watch_controls()
        for name in ("domain", "points", "dim"):
            self.controls[name].observe(lambda _: self._show_size(), names="value")
        self._show_size()
        self._assemble(list(self.controls.values()), grid(self.figures.values()), extra=[self.summary])

    def _show_size(self):
        circle = self.controls["domain"].value == "circle"
        self.controls["points"].layout.display = None if circle else "none"
        self.controls["dim"].layout.display = "none" if circle else None
        self.controls["n"].max = self.controls["points"].value if circle else 2 ** self.controls["dim"].value

    def domain_and_kernel(self, cfg):
        key = tuple(cfg[k] for k in ("domain", "dim", "points", "depth", "activation", "bias"))
        if self._kernel_cache is None or self._kernel_cache[0] != key:
            domain = S.hypercube(cfg["dim"]) if cfg["domain"] == "hypercube" else S.circle(cfg["points"])
            K = domain.analytic_kernel(depth=cfg["depth"], activation=cfg["activation"], sigma_b=cfg["bias"])
            self._kernel_cache = (key, (domain, K, S.eigensystem(K, domain)))
        return self._kernel_cache[1]

    def _job(self, ctx, cfg):
        domain, K, es = self.domain_and_kernel(cfg)
        lam, m = es.level_eigenvalues.cpu().numpy(), es.multiplicities.cpu().numpy()
        lam = np.where(lam > 1e-14 * lam.max(), lam, 0.0)  # round-off of the Rayleigh quotients
        n, guards, modes = min(cfg["n"], domain.M), [], int(m[lam > 0].sum())
        if n < cfg["n"]:
            guards.append(f"n = {cfg['n']} exceeds the domain's M = {domain.M} points; using n = {n}.")
        if cfg["ridge"] == 0 and n > modes:
            guards.append(f"Only {modes} eigenvalues are numerically non-zero (> 1e-14 λ_max): ridgeless regression "
                          f"cannot use more points, so n = {modes} is shown. Add a ridge δ > 0 for larger n.")
            n = modes
        mode = min(cfg["mode"], len(lam) - 1)
        th = theory(lam, m, n, cfg["ridge"], mode, cfg["boost"])
        state = dict(levels=es.levels.cpu().numpy(), lam=lam, m=m, n=n, mode=mode, theory=th, kernel=None,
                     network=None, cfg=cfg, family=domain.family_name, guards=guards)
        ctx.frame(lambda: dict(state), final=True, status="theory done")
        measured = [k for k in range(len(lam)) if lam[k] > 0][:MEASURED_LEVELS]
        family = es.family.cpu().numpy()
        first = [int(np.flatnonzero(family == es.levels[k].item())[0]) for k in measured]
        targets = es.eigenfunctions[:, first]
        if cfg["measure"]:
            ctx.check()
            mean, se = S.empirical_learnability(K, domain, targets, n, trials=cfg["trials"], ridge=cfg["ridge"])
            state["kernel"] = (lam[measured], np.atleast_1d(mean.numpy()), np.atleast_1d(se.numpy()))
            ctx.frame(lambda: dict(state), final=True, status="kernel regression measured; networks…")
        if cfg["networks"]:
            ctx.check()
            few = measured[:NETWORK_LEVELS]
            result = S.network_learnability(domain, targets[:, :len(few)], n, width=cfg["width"], depth=cfg["depth"],
                                            activation=cfg["activation"], sigma_b=cfg["bias"], trials=NETWORK_TRIALS,
                                            max_steps=4000)
            state["network"] = (lam[few], result.mean.numpy(), result.stderr.numpy())
            ctx.frame(lambda: dict(state), final=True)
        return f"done in {ctx.elapsed():.1f} s: κ = {th['kappa']:.4g}, Σ m_k L_k = {th['level_total'].sum():.6g}."

    def _draw(self, state):
        self.set_guards(state["guards"])
        th, lam, empty = state["theory"], state["lam"], np.zeros(0)
        live = lam > 0
        grid_lam = np.logspace(np.log10(lam[live].min()) - 0.5, np.log10(lam.max()) + 0.5, 200)
        kappa = th["kappa"]
        curve = grid_lam / (grid_lam + kappa) if np.isfinite(kappa) else np.zeros_like(grid_lam)
        labels = [f"{state['family']} {int(k)} (×{int(mk)})" for k, mk in zip(state["levels"], state["m"])]
        updates = {"theory": dict(x=grid_lam, y=curve), "modes": dict(x=lam[live], y=th["L"][live],
                                                                      text=np.array(labels, dtype=object)[live])}
        for name in ("kernel", "network"):
            value = state[name]
            updates[name] = dict(x=value[0], y=value[1], error_y=dict(type="data", array=2 * value[2], visible=True)) \
                if value is not None else dict(x=empty, y=empty)
        P.set_traces(self.figures["learnability"], updates)
        fig = self.figures["learnability"]
        fig.layout.title.text = f"Eigenmode learnability L(λ) = λ/(λ + κ), n = {state['n']}, κ = {kappa:.3g}"
        levels = state["levels"].astype(np.float64)
        P.set_traces(self.figures["conservation"], {"original": dict(x=levels, y=th["level_total"]),
                                                    "scaled": dict(x=levels, y=th["boosted_level_total"])})
        mode, others = state["mode"], np.delete(np.arange(len(lam)), state["mode"])
        before, after = th["L"], th["L_others_after"]
        fell = bool(np.all(after[others][lam[others] > 0] <= before[others][lam[others] > 0] + 1e-15))
        ridge, total = state["cfg"]["ridge"], th["level_total"].sum()
        law = f"n = {state['n']}" if ridge == 0 else f"n − δ/κ = {state['n'] - ridge / kappa:.6g} (ridge)"
        self.figures["conservation"].layout.title.text = (
            f"Conservation: Σ m_k L_k = {total:.6g} (scaled: {th['boosted_level_total'].sum():.6g}); {law}")
        self.summary.value = html.escape(
            f"Boosting one eigenvalue of {state['family']} {int(state['levels'][mode])} by "
            f"×{state['cfg']['boost']:.3g}: "
            f"its learnability {before[mode]:.4f} → {th['L_boosted']:.4f}; every other mode "
            f"{'fell or stayed' if fell else 'did NOT all fall'} (largest drop "
            f"{np.max(before[others] - after[others]) if len(others) else 0:.2e}).")

    def export_columns(self) -> dict:
        s = self.last_state
        if s is None:
            return {}
        th = s["theory"]
        return {"level": s["levels"], "multiplicity": s["m"], "eigenvalue": s["lam"], "learnability": th["L"],
                "level_total": th["level_total"], "level_total_boosted": th["boosted_level_total"]}

    def snippet(self) -> str:
        c = self.config()
        domain = f"hypercube({c['dim']})" if c["domain"] == "hypercube" else f"circle({c['points']})"
        return (f"from ntk_explorer.spectra import circle, eigensystem, hypercube, learnability\n\n"
                f"domain = {domain}\nK = domain.analytic_kernel(depth={c['depth']}, activation={c['activation']!r}, "
                f"sigma_b={c['bias']!r})\nes = eigensystem(K, domain)\n"
                f"L = learnability(es.level_eigenvalues, {c['n']}, es.multiplicities, ridge={c['ridge']!r})\n"
                f"print((L * es.multiplicities.numpy()).sum())  # = n (Theorem 2.2)\n")
