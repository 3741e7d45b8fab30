"""Static (non-interactive) figures for the lesson notebooks: plotly only, no widgets, no state.

Each builder takes results of the public API (a :class:`~ntk_explorer.Trajectory`, a ``WidthSweep``, a
``GPPrediction``, an ``EigenSystem``, …) and returns a ``plotly.graph_objects.Figure``; the numbers it draws are
computed in the core (the two-layer linearization gap and the empirical-to-analytic NTK error in
:mod:`ntk_explorer.experiments.measurements`, re-exported here for the lessons as ``figures.two_layer_gaps``,
``figures.ntk_errors`` and ``figures.SMOOTHNESS``; slopes by ``fit_slope``/``loglog_slope``).  Styling
(Okabe–Ito colours, layout) comes from :mod:`ntk_explorer.plots.panels`.  Like ``panels`` this module imports plotly
and is therefore never imported by ``import ntk_explorer``; it never imports ipywidgets.

Conventions as everywhere in ntk_explorer: L = (1/N) Σ_i ½(f(x_i) − y_i)², θ ← θ − lr·∇L.
"""
from __future__ import annotations

import math

import numpy as np
import plotly.graph_objects as go
import torch
from plotly.subplots import make_subplots

from . import panels as P
from ..dynamics.closed_form import critical_learning_rates, gd_mse_predictor
from ..experiments import SMOOTHNESS, fit_slope, loglog_slope, ntk_errors, two_layer_gaps
from ..spectra import learnability, mode_residuals, project_residuals, solve_kappa

__all__ = ["SMOOTHNESS", "trajectory_figure", "two_layer_gaps", "linearization_bound_figure", "width_sweep_figure",
           "sweep_comparison_figure", "ntk_errors", "ntk_convergence_figure", "gp_ensemble_figure",
           "learnability_figure", "mode_decay_figure", "gd_vs_flow_figure", "runs_figure"]

_C = P.COLORS
_SEQUENCE = [P.OKABE_ITO[k] for k in ("blue", "vermillion", "green", "orange", "purple", "sky_blue", "black")]
_DASHES = ["solid", "dash", "dot", "dashdot", "longdash", "longdashdot"]
_ANGLE_TICKS = dict(tickvals=[0, math.pi / 2, math.pi, 3 * math.pi / 2, 2 * math.pi],
                    ticktext=["0", "π/2", "π", "3π/2", "2π"])


def _np(value) -> np.ndarray:
    if isinstance(value, torch.Tensor):
        value = value.detach().cpu().numpy()
    return np.asarray(value, dtype=np.float64)


def _layout(fig, title, height):
    """Title on top, a horizontal legend below the x-axis titles."""
    fig.update_layout(title=dict(text=title, x=0.01, font=dict(size=14)), height=height, template="simple_white",
                      margin=dict(l=60, r=12, t=90, b=150), font=dict(size=12),
                      legend=dict(orientation="h", yanchor="top", y=-0.25, x=0, font=dict(size=11)))
    fig.update_xaxes(showgrid=True)
    fig.update_yaxes(showgrid=True)
    return fig


def _two_panels(title, left, right, height=460):
    return _layout(make_subplots(rows=1, cols=2, subplot_titles=(left, right), horizontal_spacing=0.1), title, height)


def _positive(x, y):
    """The points with finite y > 0 (for log axes: a recorded 0, e.g. the drift at step 0, is not drawn)."""
    x, y = _np(x), _np(y)
    keep = np.isfinite(y) & (y > 0)
    return x[keep], y[keep]


def _line(x, y, name, color, dash="solid", width=2.0, mode="lines", **extra):
    return go.Scatter(x=_np(x), y=_np(y), name=name, mode=mode, line=dict(color=color, dash=dash, width=width),
                      **extra)


# ------------------------------------------------------------------------------------------ lesson 01
def trajectory_figure(trajectory, data, index: int = -1) -> go.Figure:
    """Left: target, f_0, f_t and f^lin_t on the circle at recorded snapshot ``index`` (default: the last) with the
    training points; right: the three Theorem 2.1 quantities (Lee et al. 2019) against the step.
    ``trajectory`` from ``train(..., x_eval=data.x_eval)``; ``data`` a circle ``Dataset``."""
    if trajectory.f_eval is None or data.t_eval is None:
        raise ValueError("trajectory_figure needs a trajectory trained with x_eval = data.x_eval on the circle")
    t, step = _np(data.t_eval), int(trajectory.step[index])
    fig = _two_panels(f"Network and linearization after {step} GD steps", "outputs on the unit circle",
                      "distance from the linear regime")
    fig.add_trace(_line(t, data.y_eval, "target", _C["target"], dash="dot", width=1.5), 1, 1)
    fig.add_trace(_line(t, trajectory.f_eval[0], "f_0 (init)", _C["f0"], width=1.2), 1, 1)
    fig.add_trace(_line(t, trajectory.f_eval[index], f"f_t (network), t = {step}", _C["f"], width=2.5), 1, 1)
    fig.add_trace(_line(t, trajectory.flin_eval[index], f"f^lin_t (linearized), t = {step}", _C["flin"],
                        dash="dash", width=2.5), 1, 1)
    fig.add_trace(go.Scatter(x=_np(data.t_train), y=_np(data.y_train), mode="markers", name="training points",
                             marker=dict(color=_C["train"], size=8)), 1, 1)
    steps = trajectory.step
    fig.add_trace(_line(*_positive(steps, trajectory.discrepancy), "RMS(f_t − f^lin_t)", _C["discrepancy"]), 1, 2)
    fig.add_trace(_line(*_positive(steps, trajectory.kernel_drift), "‖Θ_t − Θ_0‖_F/‖Θ_0‖_F", _C["kernel_drift"],
                        dash="dash", mode="lines+markers"), 1, 2)
    fig.add_trace(_line(*_positive(steps, trajectory.param_distance), "‖θ_t − θ_0‖/‖θ_0‖", _C["param_distance"],
                        dash="dot"), 1, 2)
    fig.update_xaxes(title_text="angle t", range=[0, 2 * math.pi], row=1, col=1, **_ANGLE_TICKS)
    fig.update_xaxes(title_text="GD step", row=1, col=2)
    fig.update_yaxes(type="log", row=1, col=2)
    return fig


def linearization_bound_figure(widths=(16, 64, 256, 1024, 4096, 16384), *, radius: float = 1.0,
                               activation: str = "erf", seed: int = 0) -> go.Figure:
    """Log-log plot of :func:`two_layer_gaps`: the bound β‖w − w_0‖²/(2√m) (Sutherland's NTK slides) and the
    measured gaps."""
    g = two_layer_gaps(widths, radius=radius, activation=activation, seed=seed)
    fig = P.base_figure(f"Two-layer {activation} network at ‖w − w_0‖ = {radius:g}: |f − f^lin| against the bound",
                        "width m", "max_x |f(x; w) − f^lin(x; w)|", log_x=True, log_y=True, height=400)
    fig.add_trace(_line(g["widths"], g["bound"], "bound β‖w − w_0‖²/(2√m) (Sutherland 2023)", _C["theory"],
                        width=2.5))
    for name, color, symbol in (("aligned", _C["flin"], "diamond"), ("random", _C["f"], "circle")):
        fig.add_trace(go.Scatter(x=g["widths"], y=g[name], mode="lines+markers", line=dict(color=color, dash="dash"),
                                 marker=dict(symbol=symbol, size=9),
                                 name=f"{name} direction (slope {loglog_slope(g['widths'], g[name]).slope:.2f})"))
    return fig


# ------------------------------------------------------------------------------------------ lesson 02
def width_sweep_figure(sweep, title: str | None = None) -> go.Figure:
    """A ``WidthSweep`` on log-log axes: the three sup_t quantities with std over seeds, fitted slopes in the
    legend, reference slopes −1/2 (Theorem 2.1's bound) and −1."""
    fig = P.width_scaling_figure(sweep.widths, sweep.mean, sweep.std,
                                 {m: (s.slope, s.stderr) for m, s in sweep.slopes.items()})
    if title:
        fig.update_layout(title_text=title)
    return fig


def sweep_comparison_figure(sweeps: dict, metric: str = "kernel_drift") -> go.Figure:
    """One metric of several ``WidthSweep`` results (label → sweep) against width, log-log, with fitted slopes."""
    labels = {"discrepancy": "sup_t RMS(f_t − f^lin_t)", "kernel_drift": "sup_t ‖Θ_t − Θ_0‖_F/‖Θ_0‖_F",
              "param_distance": "sup_t ‖θ_t − θ_0‖/‖θ_0‖"}
    if metric not in labels:
        raise ValueError(f"metric must be one of {sorted(labels)}, got {metric!r}")
    fig = P.base_figure(f"{labels[metric]} against width", "width n", labels[metric], log_x=True, log_y=True,
                        height=380)
    for i, (label, sweep) in enumerate(sweeps.items()):
        slope = sweep.slopes[metric]
        fig.add_trace(go.Scatter(x=_np(sweep.widths), y=sweep.mean[metric], mode="lines+markers",
                                 name=f"{label} (slope {slope.slope:.2f} ± {slope.stderr:.2f})",
                                 line=dict(color=_SEQUENCE[i % 7], dash=_DASHES[i % 6]),
                                 error_y=dict(type="data", array=np.nan_to_num(sweep.std[metric]), visible=True)))
    return fig


# ------------------------------------------------------------------------------------------ lesson 03
def ntk_convergence_figure(widths=(16, 64, 256, 1024, 4096), seeds=3, *, depth: int = 1, activation: str = "erf",
                           sigma_b: float = 0.1) -> go.Figure:
    """Left: the slice Θ(x_0, ·) of the analytic NTK and of the empirical NTK at the smallest and largest width;
    right: :func:`ntk_errors` against width (mean ± std over seeds) with its fitted slope and a −1/2 reference."""
    e = ntk_errors(widths, seeds, depth=depth, activation=activation, sigma_b=sigma_b)
    angle = np.arange(len(e["x"])) * 2 * math.pi / len(e["x"])
    fig = _two_panels(f"Empirical NTK → analytic NTK ({activation}, {depth} hidden layer(s))",
                      "slice Θ(x_0, x), x_0 at angle 0", "relative error ‖Θ̂_0 − Θ‖_F/‖Θ‖_F")
    fig.add_trace(_line(angle, e["ntk"][0], "analytic Θ (width → ∞)", _C["analytic"], width=3), 1, 1)
    for k, dash in ((0, "dot"), (-1, "dash")):
        fig.add_trace(_line(angle, e["empirical"][k][0], f"empirical Θ̂_0, width {e['widths'][k]}", _C["empirical"],
                            dash=dash), 1, 1)
    mean, std = e["errors"].mean(1), e["errors"].std(1)
    slope = fit_slope(e["widths"], e["errors"]).slope
    fig.add_trace(go.Scatter(x=e["widths"], y=mean, mode="lines+markers", line=dict(color=_C["empirical"]),
                             error_y=dict(type="data", array=std, visible=True), name=f"measured (slope {slope:.2f})"),
                  1, 2)
    fig.add_trace(_line(e["widths"], P.reference_line(e["widths"], -0.5, e["widths"][0], mean[0]), "slope −1/2",
                        P.OKABE_ITO["grey"], dash="dash", width=1.5), 1, 2)
    fig.update_xaxes(title_text="angle t of x", row=1, col=1, **_ANGLE_TICKS)
    fig.update_xaxes(title_text="width n", type="log", row=1, col=2)
    fig.update_yaxes(type="log", row=1, col=2)
    return fig


def gp_ensemble_figure(gp, result, data) -> go.Figure:
    """The NTK-GP of Lee et al. 2019 (``gp_prediction``: mean ± 2σ) against the mean ± 2σ of an ensemble of
    trained networks (``ensemble``, last recorded step), on the circle ``data``."""
    t = _np(data.t_eval)
    mean, sd = _np(gp.mean), np.sqrt(np.clip(_np(gp.variance), 0.0, None))
    e_mean, e_sd = result.mean[-1], result.std[-1]
    ratio = float(np.median(e_sd ** 2 / np.maximum(sd ** 2, 1e-300)))
    fig = P.base_figure(f"NTK-GP (width → ∞) vs {result.f_eval.shape[1]} trained networks after "
                        f"{int(result.step[-1])} steps; median variance ratio ensemble/GP = {ratio:.2f}",
                        "angle t on the unit circle", "output", height=400)
    fig.add_trace(go.Scatter(x=np.concatenate([t, t[::-1]]), y=np.concatenate([mean + 2 * sd, (mean - 2 * sd)[::-1]]),
                             fill="toself", fillcolor="rgba(230,159,0,0.25)", line=dict(width=0), hoverinfo="skip",
                             name="GP mean ± 2σ (Lee et al. 2019)"))
    fig.add_trace(_line(t, mean, "GP mean", _C["closed"], width=3))
    fig.add_trace(_line(t, e_mean, "ensemble mean", _C["empirical"], dash="dash", width=2.5))
    band = np.concatenate([e_mean + 2 * e_sd, [np.nan], e_mean - 2 * e_sd])  # two curves, one legend entry
    fig.add_trace(_line(np.concatenate([t, [np.nan], t]), band, "ensemble mean ± 2σ", _C["empirical"], dash="dot",
                        width=1.2))
    fig.add_trace(go.Scatter(x=_np(data.t_train), y=_np(data.y_train), mode="markers", name="training points",
                             marker=dict(color=_C["train"], size=8)))
    fig.update_xaxes(range=[0, 2 * math.pi], **_ANGLE_TICKS)
    return fig


# ------------------------------------------------------------------------------------------ lesson 04
def learnability_figure(eigsys, n: int, measured: dict | None = None, ridge: float = 0.0) -> go.Figure:
    """Left: eigenlearning theory L(λ) = λ/(λ + κ) (κ from ``solve_kappa``) with the levels of ``eigsys`` and
    measured learnabilities (``measured``: label → (eigenvalues, mean, stderr), plotted ± 2 stderr);
    right: m_k·L_k per level, which sum to n (the conservation law of Simon et al. 2021)."""
    lam, m = _np(eigsys.level_eigenvalues), _np(eigsys.multiplicities)
    lam = np.where(lam > 1e-14 * lam.max(), lam, 0.0)
    live = lam > 0
    kappa = solve_kappa(lam[live], n, m[live], ridge)
    L = np.zeros_like(lam)
    L[live] = learnability(lam[live], n, m[live], ridge)
    grid = np.logspace(np.log10(lam[live].min()) - 0.5, np.log10(lam.max()) + 0.5, 200)
    fig = _two_panels(f"Eigenmode learnability, n = {n}, κ = {kappa:.3g}", "L(λ) = λ/(λ + κ)",
                      f"conservation: Σ_k m_k L_k = {float((m * L).sum()):.6g}")
    fig.add_trace(_line(grid, grid / (grid + kappa), "theory λ/(λ + κ)", _C["theory"]), 1, 1)
    fig.add_trace(go.Scatter(x=lam[live], y=L[live], mode="markers", name="levels (theory)",
                             text=[f"{eigsys.domain.family_name} {int(k)} (×{int(mk)})"
                                   for k, mk in zip(_np(eigsys.levels)[live], m[live])],
                             marker=dict(symbol="circle-open", size=10, color=P.OKABE_ITO["grey"])), 1, 1)
    colors = [_C["kernel"], _C["network"], P.OKABE_ITO["blue"], P.OKABE_ITO["green"]]
    for i, (label, (x, mean, se)) in enumerate((measured or {}).items()):
        offset = 1.07 ** (i - (len(measured) - 1) / 2)  # side by side, so the error bars do not hide each other
        fig.add_trace(go.Scatter(x=_np(x) * offset, y=_np(mean), mode="markers", name=label,
                                 error_y=dict(type="data", array=2 * _np(se), visible=True),
                                 marker=dict(size=9, color=colors[i % 4],
                                             symbol=["diamond", "square", "x", "triangle-up"][i % 4])), 1, 1)
    fig.add_trace(go.Bar(x=_np(eigsys.levels), y=m * L, name="m_k L_k", marker_color=P.OKABE_ITO["sky_blue"]), 1, 2)
    fig.update_xaxes(title_text="eigenvalue λ of K/M", type="log", row=1, col=1)
    fig.update_yaxes(title_text="learnability", range=[-0.05, 1.1], row=1, col=1)
    fig.update_xaxes(title_text=f"level ({eigsys.domain.family_name})", row=1, col=2)
    return fig


# ------------------------------------------------------------------------------------------ lesson 05
def mode_decay_figure(k_train, trajectory, y_train, lr: float, ranks=None) -> go.Figure:
    """|u_iᵀ(f_t(X) − Y)| along eigenvectors u_i of Θ_0(X, X) (descending λ_i) for the trained network (solid,
    from ``trajectory.f_train``) and the linearized theory (1 − lr λ_i/N)^t |u_iᵀ r_0| (dotted, ``mode_residuals``).
    ranks: mode indices (0 = largest λ); default five spread over the spectrum."""
    y = _np(y_train)
    n = len(y)
    ranks = np.unique(np.round(np.geomspace(1, n, 5)).astype(int) - 1) if ranks is None else np.asarray(ranks)
    theory = mode_residuals(k_train, trajectory.f_train[0], y, float(lr), [int(s) for s in trajectory.step])
    measured = np.abs(_np(project_residuals(k_train, trajectory.f_train - y)))
    predicted = np.abs(_np(theory.projections))
    predicted[predicted < 1e-8 * measured[0].max()] = np.nan  # the theory reaches 1e-90: cut it below the plot
    lam = _np(theory.eigenvalues)
    fig = _layout(go.Figure(), f"Residual per NTK eigenmode: network (solid) and (1 − ηλ_i/N)^t theory (dotted), "
                  f"η = {lr:.3g}, η_div = 2N/λ_max = {2 * n / lam[0]:.3g}", 480)
    for k, i in enumerate(ranks):
        color = _SEQUENCE[k % 7]
        fig.add_trace(_line(*_positive(trajectory.step, measured[:, i]), f"mode {i + 1}: λ = {lam[i]:.2g}", color,
                            width=2.2, legendgroup=str(i)))
        fig.add_trace(_line(*_positive(trajectory.step, predicted[:, i]), f"mode {i + 1} theory", color, dash="dot",
                            width=1.5, legendgroup=str(i), showlegend=False))
    fig.update_xaxes(title_text="GD step")
    fig.update_yaxes(title_text="|u_iᵀ (f_t(X) − Y)|", type="log")
    return fig


def gd_vs_flow_figure(k_train, f0_train, y_train, ratios=(0.1, 0.5, 0.95, 1.02), steps: int = 100) -> go.Figure:
    """Training loss L = (1/N) Σ ½ r² of the linearized model under discrete GD, r_t = (I − ηΘ/N)^t r_0 (solid), and
    gradient flow for the same time ηt, r = e^{−ηtΘ/N} r_0 (dotted), at η = ratio × 2N/λ_max (``gd_mse_predictor``)."""
    y, f0 = _np(y_train), _np(f0_train)
    diverge = critical_learning_rates(k_train).diverge
    fig = _layout(go.Figure(), "Linearized model: discrete gradient descent (solid) vs gradient flow (dotted)", 440)
    fig.update_xaxes(title_text="GD step t")
    fig.update_yaxes(title_text="training loss", type="log")
    for k, ratio in enumerate(ratios):
        lr, color = ratio * diverge, _SEQUENCE[k % 7]
        for flow, dash in ((False, "solid"), (True, "dot")):
            predict = gd_mse_predictor(k_train, y, lr, flow=flow)
            loss = [0.5 * float(np.mean((predict(t, f0)[0] - y) ** 2)) for t in range(steps + 1)]
            fig.add_trace(_line(np.arange(steps + 1), loss, f"η = {ratio:g} η_div" + (" (flow)" if flow else ""),
                                color, dash=dash, legendgroup=str(k), showlegend=not flow))
    return fig


# ------------------------------------------------------------------------------------------ lesson 06
def runs_figure(runs: dict, metrics=("discrepancy", "kernel_drift"), title: str = "") -> go.Figure:
    """The given metrics of several trajectories (label → ``Trajectory``) against the step, one panel per metric
    (log y): e.g. an output-scale sweep, MSE vs cross-entropy, or NTK vs μP parameterization."""
    labels = {"discrepancy": "RMS(f_t − f^lin_t)", "kernel_drift": "‖Θ_t − Θ_0‖_F/‖Θ_0‖_F",
              "param_distance": "‖θ_t − θ_0‖/‖θ_0‖", "loss": "training loss of f_t", "loss_lin": "loss of f^lin_t"}
    fig = _layout(make_subplots(rows=1, cols=len(metrics), subplot_titles=[labels[m] for m in metrics]), title, 440)
    for i, (label, trajectory) in enumerate(runs.items()):
        for j, metric in enumerate(metrics):
            fig.add_trace(_line(*_positive(trajectory.step, getattr(trajectory, metric)), label, _SEQUENCE[i % 7],
                                dash=_DASHES[i % 6], legendgroup=label, showlegend=j == 0), 1, j + 1)
    fig.update_xaxes(title_text="GD step")
    fig.update_yaxes(type="log")
    return fig


# ------------------------------------------------------------------------------------------ lessons 07–09
__all__ += ["spectral_filters_figure", "learning_curve_figure", "linearity_figure", "horizon_figure",
            "output_blocks_figure", "pseudo_ntk_figure"]


# ------------------------------------------------------------------------------------------ lesson 07
def spectral_filters_figure(eigenvalues, n: int, lr: float, steps, ridge_of_steps=None) -> go.Figure:
    """Ridge vs early stopping as filters on the eigenvalues μ of K(D, D) (``ridge_filter``, ``gd_filter``): for each
    t in ``steps`` the GD filter 1 − (1 − lr μ/N)^t (solid) and the ridge filter μ/(μ + δ) with δ = N/(lr t) (dotted;
    ``ridge_of_steps`` overrides the map t → δ).  The measured eigenvalues are marked on the x axis."""
    from ..spectra import gd_filter, ridge_filter

    mu = _np(eigenvalues)
    mu = mu[mu > 0]
    grid = np.logspace(np.log10(mu.min()) - 1, np.log10(mu.max()) + 0.3, 300)
    grid = grid[lr * grid / n < 1]  # below the first oscillating GD mode
    delta = ridge_of_steps or (lambda t: n / (lr * t))
    fig = P.base_figure("Early stopping (solid) vs ridge δ = N/(ηt) (dotted): filters h(μ) on the kernel eigenvalues",
                        "eigenvalue μ of K(D, D)", "fraction h(μ) of the mode fitted", log_x=True, height=400)
    for k, t in enumerate(steps):
        color = _SEQUENCE[k % 7]
        fig.add_trace(_line(grid, gd_filter(grid, lr, int(t), n), f"GD, t = {int(t)}", color, legendgroup=str(k)))
        fig.add_trace(_line(grid, ridge_filter(grid, delta(t)), f"ridge δ = {delta(t):.3g}", color, dash="dot",
                            legendgroup=str(k)))
    fig.add_trace(go.Scatter(x=mu, y=np.zeros_like(mu), mode="markers", name="eigenvalues of K(D, D)",
                             marker=dict(symbol="line-ns-open", size=12, color=P.OKABE_ITO["grey"])))
    return fig


def learning_curve_figure(ns, predicted, curves: dict, title: str = "") -> go.Figure:
    """Test MSE against the number of training points n on log-log axes: the eigenlearning prediction (a line;
    ``predicted`` at ``ns``) and measured learning curves (``curves``: label → ``LearningCurve``, mean ± 2 stderr)."""
    fig = P.base_figure(title or "Learning curves: eigenlearning prediction vs measurements", "training points n",
                        "test MSE against the clean target", log_x=True, log_y=True, height=420)
    fig.add_trace(_line(ns, predicted, "eigenlearning prediction (Simon et al. 2021)", _C["theory"], width=2.5))
    symbols = ["diamond", "square", "circle", "triangle-up"]
    for i, (label, curve) in enumerate(curves.items()):
        offset = 1.04 ** (i - (len(curves) - 1) / 2)  # side by side, so error bars do not hide each other
        fig.add_trace(go.Scatter(x=_np(curve.n) * offset, y=curve.mean, mode="markers", name=label,
                                 error_y=dict(type="data", array=2 * curve.stderr, visible=True),
                                 marker=dict(size=9, symbol=symbols[i % 4], color=_SEQUENCE[(i + 1) % 7])))
    return fig


# ------------------------------------------------------------------------------------------ lesson 08
def linearity_figure(sweep) -> go.Figure:
    """A ``LinearitySweep``: left ‖∇_θ f(x)‖, right the Hessian spectral norm ‖∇²_θ f(x)‖ against width (log-log,
    mean ± std over seeds and inputs), fitted slopes in the legend, reference slopes 0 and −1/2 (Liu, Zhu & Belkin
    2020)."""
    fig = _two_panels("Gradient and Hessian of f against width (NTK parameterization)", "‖∂f(x)/∂θ‖",
                      "spectral norm ‖∂²f(x)/∂θ²‖")
    widths = _np(sweep.widths)
    for col, (key, reference, label) in enumerate((("jacobian", 0.0, "slope 0"), ("hessian", -0.5, "slope −1/2")), 1):
        values = getattr(sweep, key).reshape(len(widths), -1)
        mean, std = values.mean(1), values.std(1)
        slope = sweep.slopes[key]
        fig.add_trace(go.Scatter(x=widths, y=mean, mode="lines+markers", line=dict(color=_SEQUENCE[col - 1]),
                                 error_y=dict(type="data", array=std, visible=True),
                                 name=f"measured {key} (slope {slope.slope:.2f} ± {slope.stderr:.2f})"), 1, col)
        fig.add_trace(_line(widths, P.reference_line(widths, reference, widths[0], mean[0]), label,
                            P.OKABE_ITO["grey"], dash="dash", width=1.5), 1, col)
        fig.update_xaxes(title_text="width m", type="log", row=1, col=col)
        fig.update_yaxes(type="log", row=1, col=col)
    return fig


def horizon_figure(sweeps: dict) -> go.Figure:
    """sup_{t ≤ T} RMS(f_t − f^lin_t) against the horizon T, one panel per ``HorizonSweep`` (label → sweep, e.g. MSE
    and cross-entropy), one line per width (mean over seeds): flat lines mean a bound uniform in t."""
    fig = _layout(make_subplots(rows=1, cols=len(sweeps), subplot_titles=list(sweeps)),
                  "Linearization error up to a horizon T: sup over t ≤ T of RMS(f_t − f^lin_t)", 440)
    for col, sweep in enumerate(sweeps.values(), 1):
        for i, width in enumerate(_np(sweep.widths)):
            fig.add_trace(_line(sweep.horizons, sweep.discrepancy[i].mean(0), f"width {int(width)}", _SEQUENCE[i % 7],
                                mode="lines+markers", legendgroup=str(i), showlegend=col == 1), 1, col)
        fig.update_xaxes(title_text="horizon T (GD steps)", type="log", row=1, col=col)
        fig.update_yaxes(type="log", row=1, col=col)
    return fig


# ------------------------------------------------------------------------------------------ lesson 09
def output_blocks_figure(kernels: dict) -> go.Figure:
    """Heat maps of vector-output kernels (label → (N, N, O, O) tensor) as (N·O) × (N·O) matrices ordered by output
    first (all points of output 1, then output 2, …), so Θ ⊗ I_O shows as O equal diagonal blocks and zeros."""
    fig = _layout(make_subplots(rows=1, cols=len(kernels), subplot_titles=list(kernels), horizontal_spacing=0.06),
                  "Output blocks of the NTK (rows and columns grouped by output)", 420)
    for col, theta in enumerate(kernels.values(), 1):
        t = _np(theta)
        n, o = t.shape[0], t.shape[2]
        matrix = t.transpose(2, 0, 3, 1).reshape(n * o, n * o)
        scale = np.abs(matrix).max()
        fig.add_trace(go.Heatmap(z=matrix / scale, colorscale="RdBu", zmid=0, zmin=-1, zmax=1,
                                 showscale=col == len(kernels)), 1, col)
        fig.update_yaxes(autorange="reversed", showticklabels=False, row=1, col=col)
        fig.update_xaxes(showticklabels=False, row=1, col=col)
    return fig


def pseudo_ntk_figure(sweep) -> go.Figure:
    """A ``PseudoNTKSweep``: its metrics against width (log-log, mean ± std over seeds) with fitted slopes and a −1/2
    reference."""
    labels = {"off_diagonal": "off-diagonal blocks / diagonal", "pseudo_error": "‖Θ̂ − Θ̃ ⊗ I‖/‖Θ̂‖ (pseudo-NTK)",
              "lambda_max_error": "λ_max: pseudo vs full", "prediction_error": "kernel regression: pseudo vs full",
              "analytic_error": "‖Θ̂ − Θ_∞ ⊗ I‖/‖Θ̂‖ (limit)"}
    widths = _np(sweep.widths)
    fig = P.base_figure(f"Vector outputs (O = {sweep.out_dim}): distance from the Kronecker form against width",
                        "width m", "relative difference", log_x=True, log_y=True, height=420)
    for i, (metric, label) in enumerate(labels.items()):
        values = sweep.values[metric]
        fig.add_trace(go.Scatter(x=widths, y=values.mean(1), mode="lines+markers",
                                 line=dict(color=_SEQUENCE[i % 7], dash=_DASHES[i % 6]),
                                 error_y=dict(type="data", array=values.std(1), visible=True),
                                 name=f"{label} (slope {sweep.slopes[metric].slope:.2f})"))
    anchor = sweep.values["pseudo_error"].mean(1)[0]
    fig.add_trace(_line(widths, P.reference_line(widths, -0.5, widths[0], anchor), "slope −1/2", P.OKABE_ITO["grey"],
                        dash="dash", width=1.5))
    return fig


# ------------------------------------------------------------------------------------------ lesson 10
__all__ += ["phase_diagram_figure", "phase_collapse_figure"]


def phase_diagram_figure(diagram, measure: str = "kernel_drift") -> go.Figure:
    """A :class:`~ntk_explorer.experiments.PhaseDiagram` as the "Lazy vs rich" tab draws it (a static copy): the
    heat map of ``measure`` over (width n, α) with the iso-lines α√n = c of
    ``ntk_explorer.experiments.alpha_sqrt_width_isolines``."""
    from ..experiments import PHASE_MEASURE_LABELS, alpha_sqrt_width_isolines, grid_edges
    fig = P.phase_figure()
    done = np.zeros(diagram.n_diverged.shape, dtype=bool)
    for cell in diagram.cells:
        done[cell.row, cell.column] = True
    label = PHASE_MEASURE_LABELS[measure][0]
    traces, layout = P.phase_updates(diagram.widths, diagram.scales, (grid_edges(diagram.widths),
                                                                       grid_edges(diagram.scales)),
                                     diagram[measure], diagram.n_diverged, done, diagram.alpha_sqrt_width, measure,
                                     label, alpha_sqrt_width_isolines(diagram.widths, diagram.scales))
    P.set_traces(fig, traces)
    settings = diagram.settings
    fig.update_layout(title_text=f"{label} ({settings.parameterization} parameterization, {settings.dataset})",
                      width=760, **layout)
    return fig


def phase_collapse_figure(diagrams: dict, measure: str = "kernel_drift") -> go.Figure:
    """``measure`` of every finished cell of each diagram (label → PhaseDiagram, e.g. {"ntk": …, "mup": …})
    against α√n on log–log axes, with the slope −1 of the lazy-training prediction 1/(α√n) (Chizat, Oyallon &
    Bach 2019; Lee et al. 2019, Theorem 2.1 for the 1/√n) through the first diagram's points.  If α√n is the only
    variable, the cells of all widths fall on one curve."""
    from ..experiments import PHASE_MEASURE_LABELS
    label = PHASE_MEASURE_LABELS[measure][0]
    fig = P.base_figure(f"{label} against α√n: one curve if α√n is the only variable", "α√n", label, log_x=True,
                        log_y=True, height=440)
    symbols = ("circle", "diamond", "square", "triangle-up", "x")
    anchor = None
    for i, (name, diagram) in enumerate(diagrams.items()):
        x, y = diagram.alpha_sqrt_width.ravel(), diagram[measure].ravel()
        widths = np.repeat(diagram.widths, len(diagram.scales))
        scales = np.tile(diagram.scales, len(diagram.widths))
        keep = np.isfinite(y) & (y > 0)
        fig.add_trace(go.Scatter(x=x[keep], y=y[keep], mode="markers", name=str(name),
                                 marker=dict(color=_SEQUENCE[i % 7], symbol=symbols[i % 5], size=9,
                                             line=dict(width=1, color="white")),
                                 text=[f"n = {int(w)}, α = {a:g}" for w, a in zip(widths[keep], scales[keep])],
                                 hovertemplate="%{text}<br>α√n = %{x:.3g}<br>%{y:.3g}<extra></extra>"))
        if anchor is None and keep.any():
            anchor = (x[keep], y[keep])
    if anchor is not None:
        xs = np.geomspace(anchor[0].min(), anchor[0].max(), 2)
        mid_x, mid_y = math.exp(np.log(anchor[0]).mean()), math.exp(np.log(anchor[1]).mean())
        fig.add_trace(_line(xs, P.reference_line(xs, -1.0, mid_x, mid_y), "slope −1: ∝ 1/(α√n)",
                            P.OKABE_ITO["grey"], dash="dash", width=1.5))
    return fig
