"""Pure plotly figure builders for the dashboard and the command line (no widgets, no state).

Every builder returns a ``plotly.graph_objects.Figure`` whose traces are *named*; the interactive panels wrap it
in a ``FigureWidget`` and later replace trace data by name with :func:`set_traces` inside ``batch_update()``.
Colours follow the Okabe–Ito palette (safe for the common colour-vision deficiencies) and every pair of curves
that must be told apart also differs in dash or marker, never in colour alone.

This module imports plotly: it is not imported by ``import ntk_explorer`` (the core stays plotly-free).
"""
from __future__ import annotations

import math

import numpy as np
import plotly.graph_objects as go

__all__ = ["OKABE_ITO", "COLORS", "set_traces", "trace_keys", "base_figure", "fill_width_scaling",
           "function_figure", "loss_figure", "drift_figure", "spectrum_figure", "width_scaling_figure",
           "kernel_slice_figure", "gp_figure", "learnability_figure", "conservation_figure",
           "mode_residual_figure", "reference_line", "angle_axis"]

#: Okabe & Ito (2008), "Color Universal Design": distinguishable under protanopia, deuteranopia, tritanopia.
OKABE_ITO = {"black": "#000000", "orange": "#E69F00", "sky_blue": "#56B4E9", "green": "#009E73",
             "yellow": "#F0E442", "blue": "#0072B2", "vermillion": "#D55E00", "purple": "#CC79A7",
             "grey": "#999999"}

#: What each colour means across the dashboard (f is always blue and solid, f^lin vermillion and dashed).
COLORS = {"target": OKABE_ITO["black"], "train": OKABE_ITO["black"], "f": OKABE_ITO["blue"],
          "flin": OKABE_ITO["vermillion"], "f0": OKABE_ITO["grey"], "closed": OKABE_ITO["orange"],
          "discrepancy": OKABE_ITO["blue"], "kernel_drift": OKABE_ITO["green"],
          "param_distance": OKABE_ITO["purple"], "theory": OKABE_ITO["black"], "kernel": OKABE_ITO["sky_blue"],
          "network": OKABE_ITO["vermillion"], "analytic": OKABE_ITO["black"], "empirical": OKABE_ITO["blue"]}

_SEQUENCE = [OKABE_ITO[k] for k in ("blue", "vermillion", "green", "orange", "purple", "sky_blue", "black")]
_DASHES = ["solid", "dash", "dot", "dashdot", "longdash", "longdashdot"]
_EMPTY = np.zeros(0)


def set_traces(fig, updates: dict) -> None:
    """Sets attributes of traces by key: ``updates`` maps a trace key (its ``meta``, which every builder here
    sets) to a dict of attributes (x, y, …).  Works on a Figure or a FigureWidget; call it inside
    ``fig.batch_update()`` on a FigureWidget."""
    by_name = trace_keys(fig)
    for name, attributes in updates.items():
        trace = by_name.get(name)
        if trace is None:
            raise KeyError(f"figure has no trace named {name!r}; it has {sorted(by_name)}")
        trace.update(**{k: _floats(v) for k, v in attributes.items()})


def trace_keys(fig) -> dict:
    """key → trace for the traces of a figure built here (the key is the trace's ``meta``)."""
    return {trace.meta: trace for trace in fig.data}


def _floats(value):
    """numpy float arrays travel as binary buffers to the browser; int arrays would become JSON lists."""
    if isinstance(value, np.ndarray) and value.dtype.kind in "iub":
        return value.astype(np.float64)
    return value


def base_figure(title: str, xaxis: str, yaxis: str, *, log_x: bool = False, log_y: bool = False,
                height: int = 360) -> go.Figure:
    """An empty figure with the dashboard's layout (readable at 1280×800: title on top, legend below the axes)."""
    fig = go.Figure()
    fig.update_layout(title=dict(text=title, x=0.01, y=0.98, yanchor="top", font=dict(size=14)), height=height,
                      margin=dict(l=62, r=14, t=36, b=10), template="simple_white",
                      legend=dict(orientation="h", yanchor="top", y=-0.3, x=0, font=dict(size=11),
                                  entrywidth=0.5, entrywidthmode="fraction"),
                      font=dict(size=12), hovermode="closest")
    fig.update_xaxes(title_text=xaxis, type="log" if log_x else "linear", showgrid=True)
    fig.update_yaxes(title_text=yaxis, type="log" if log_y else "linear", showgrid=True)
    return fig


def _line(key, name, color, *, dash="solid", width=2.0, mode="lines", visible=True, **extra):
    return go.Scatter(x=_EMPTY, y=_EMPTY, name=name, mode=mode, visible=visible, meta=key,
                      line=dict(color=color, dash=dash, width=width), **extra)


def _markers(key, name, color, symbol="circle", size=8, **extra):
    return go.Scatter(x=_EMPTY, y=_EMPTY, name=name, mode="markers", meta=key,
                      marker=dict(color=color, symbol=symbol, size=size, line=dict(width=1, color="white")),
                      **extra)


# --------------------------------------------------------------------------------------- lazy training
def function_figure() -> go.Figure:
    """f_t and f^lin_t over the eval angles, with the target, the training points, f_0 and the closed-form f^lin
    at the final step.  Traces: target, train, f0, f, flin, flin_closed."""
    fig = base_figure("Network f_t and its linearization f^lin_t", "angle t on the unit circle", "output",
                      height=390)
    fig.add_trace(_line("target", "target", COLORS["target"], width=1.5, dash="dot"))
    fig.add_trace(_line("f0", "f_0 (init)", COLORS["f0"], width=1.2))
    fig.add_trace(_line("flin_closed", "f^lin at final step (closed form)", COLORS["closed"], width=3, dash="dot"))
    fig.add_trace(_line("f", "f_t (network)", COLORS["f"], width=2.5))
    fig.add_trace(_line("flin", "f^lin_t (linearized)", COLORS["flin"], dash="dash", width=2.5))
    fig.add_trace(_markers("train", "training points", COLORS["train"], size=9))
    return angle_axis(fig)


def angle_axis(fig: go.Figure) -> go.Figure:
    """An x axis over one turn of the circle, ticks at multiples of π/2."""
    fig.update_xaxes(range=[0, 2 * math.pi], tickvals=[0, math.pi / 2, math.pi, 3 * math.pi / 2, 2 * math.pi],
                     ticktext=["0", "π/2", "π", "3π/2", "2π"])
    return fig


def loss_figure() -> go.Figure:
    """Training loss of f and f^lin against the step (log y).  Traces: loss, loss_lin."""
    fig = base_figure("Training loss L = (1/N) Σ ½(f − y)²", "GD step", "loss", log_y=True)
    fig.add_trace(_line("loss", "loss of f_t", COLORS["f"]))
    fig.add_trace(_line("loss_lin", "loss of f^lin_t", COLORS["flin"], dash="dash"))
    return fig


def drift_figure() -> go.Figure:
    """The three Theorem 2.1 quantities against the step (log y)."""
    fig = base_figure("Distance from the linear regime (Lee et al. 2019, Theorem 2.1)", "GD step", "relative size",
                      log_y=True)
    fig.add_trace(_line("discrepancy", "RMS f_t − f^lin_t", COLORS["discrepancy"]))
    fig.add_trace(_line("kernel_drift", "‖Θ_t − Θ_0‖_F / ‖Θ_0‖_F", COLORS["kernel_drift"], dash="dash",
                        mode="lines+markers",
                        marker=dict(size=5, symbol="diamond"), connectgaps=True))
    fig.add_trace(_line("param_distance", "‖θ_t − θ_0‖ / ‖θ_0‖", COLORS["param_distance"], dash="dot"))
    return fig


def spectrum_figure() -> go.Figure:
    """Eigenvalues of the empirical NTK on the training set at t = 0 and now, sorted (log y)."""
    fig = base_figure("NTK spectrum on the training set", "eigenvalue index (descending)", "eigenvalue λ_i",
                      log_y=True)
    fig.add_trace(_markers("spectrum0", "Θ_0", COLORS["f0"], symbol="circle-open", size=9))
    fig.add_trace(_markers("spectrum_t", "Θ_t (now)", COLORS["f"], symbol="x", size=7))
    return fig


# --------------------------------------------------------------------------------------- width scaling
def reference_line(x, slope: float, anchor_x: float, anchor_y: float) -> np.ndarray:
    """y = anchor_y · (x / anchor_x)^slope: a straight line of the given slope on log-log axes."""
    return anchor_y * (np.asarray(x, dtype=np.float64) / anchor_x) ** slope


def width_scaling_figure(widths=None, mean=None, std=None, slopes=None) -> go.Figure:
    """Log-log plot of sup_t discrepancy, kernel drift and parameter distance against width with error bars
    (std over seeds), fitted slopes in the legend and reference slopes −1/2 (the O(n^{−1/2}) bound of Lee et al.
    2019, Theorem 2.1) and −1 (finer analyses for smooth activations).  mean/std: dicts metric → (W,) arrays;
    slopes: dict metric → (slope, stderr).  Called without data it returns the empty figure."""
    names = {"discrepancy": "sup_t RMS(f − f^lin)", "kernel_drift": "sup_t ‖Θ_t − Θ_0‖_F/‖Θ_0‖_F",
             "param_distance": "sup_t ‖θ_t − θ_0‖/‖θ_0‖"}
    fig = base_figure("Width scaling of the lazy-training quantities", "width n", "size", log_x=True,
                      log_y=True, height=420)
    symbols = {"discrepancy": "circle", "kernel_drift": "diamond", "param_distance": "square"}
    for metric, label in names.items():
        fig.add_trace(go.Scatter(x=_EMPTY, y=_EMPTY, name=label, mode="lines+markers", meta=metric,
                                 line=dict(color=COLORS[metric]), marker=dict(symbol=symbols[metric], size=9),
                                 error_y=dict(type="data", array=_EMPTY, visible=True)))
    grey = OKABE_ITO["grey"]
    fig.add_trace(_line("ref_half", "reference slope −1/2 (Thm 2.1 bound)", grey, dash="dash", width=1.5))
    fig.add_trace(_line("ref_one", "reference slope −1 (smooth activations)", grey, dash="dot", width=1.5))
    if widths is not None:
        fill_width_scaling(fig, widths, mean, std, slopes)
    return fig


def fill_width_scaling(fig, widths, mean, std, slopes) -> None:
    """Puts a sweep's results into a :func:`width_scaling_figure` (also a FigureWidget, inside batch_update)."""
    widths = np.asarray(widths, dtype=np.float64)
    for trace in fig.data[:3]:
        metric = trace.meta
        slope = (slopes or {}).get(metric)
        label = trace.name.split("  (")[0]
        if slope is not None and np.isfinite(slope[0]):
            label += f"  (slope {slope[0]:.2f} ± {slope[1]:.2f})"
        y, err = np.asarray(mean[metric], dtype=np.float64), np.asarray(std[metric], dtype=np.float64)
        keep = np.isfinite(y)  # a width whose runs all diverged has no point (the status says so)
        trace.update(x=widths[keep], y=y[keep], name=label,
                     error_y=dict(type="data", array=np.nan_to_num(err[keep]), visible=True))
    first = np.asarray(mean["discrepancy"], dtype=np.float64)
    finite = np.flatnonzero(np.isfinite(first) & (first > 0))
    if len(widths) and len(finite):
        anchor_x, anchor_y = widths[finite[0]], first[finite[0]]
        set_traces(fig, {"ref_half": dict(x=widths, y=reference_line(widths, -0.5, anchor_x, anchor_y)),
                         "ref_one": dict(x=widths, y=reference_line(widths, -1.0, anchor_x, anchor_y))})


# --------------------------------------------------------------------------------------- infinite width
def kernel_slice_figure() -> go.Figure:
    """K(x_0, ·) over the circle: the empirical NTK at finite width against the analytic (infinite-width) NTK."""
    fig = base_figure("NTK slice Θ(x_0, x) over the circle, x_0 at angle 0", "angle t of x", "Θ(x_0, x)")
    fig.add_trace(_line("analytic", "analytic Θ (width → ∞)", COLORS["analytic"], width=3))
    fig.add_trace(_line("empirical", "empirical Θ̂_0 (this width)", COLORS["empirical"], dash="dash"))
    return angle_axis(fig)


def gp_figure() -> go.Figure:
    """NTK-GP mean ± 2σ of f^lin_t (analytic) against the mean ± 2σ over an ensemble of trained networks."""
    fig = base_figure("Infinite-width GP vs an ensemble of trained networks", "angle t on the unit circle",
                      "output")
    blue, orange = COLORS["empirical"], COLORS["closed"]
    fig.add_trace(go.Scatter(x=_EMPTY, y=_EMPTY, name="GP mean ± 2σ", mode="lines", fill="toself",
                             meta="gp_band", line=dict(width=0), fillcolor="rgba(230,159,0,0.25)", hoverinfo="skip"))
    fig.add_trace(_line("gp_mean", "GP mean (Lee et al. 2019)", orange, width=3))
    fig.add_trace(_line("ens_band", "ensemble mean ± 2σ", blue, dash="dot", width=1.2))
    fig.add_trace(_line("ens_mean", "ensemble mean", blue, dash="dash", width=2.5))
    fig.add_trace(_markers("train", "training points", COLORS["train"]))
    return angle_axis(fig)


# --------------------------------------------------------------------------------------- learnability
def learnability_figure() -> go.Figure:
    """Theory curve L(λ) = λ/(λ + κ) with the domain's eigenvalues and measured learnabilities."""
    fig = base_figure("Eigenmode learnability L(λ) = λ/(λ + κ)", "eigenvalue λ (of K/M)", "learnability",
                      log_x=True, height=360)
    fig.add_trace(_line("theory", "theory λ/(λ+κ)", COLORS["theory"]))
    fig.add_trace(_markers("modes", "modes (theory)", OKABE_ITO["grey"], symbol="circle-open", size=9))
    fig.add_trace(go.Scatter(x=_EMPTY, y=_EMPTY, name="kernel regression (measured)", mode="markers",
                             meta="kernel",
                             marker=dict(color=COLORS["kernel"], symbol="diamond", size=10),
                             error_y=dict(type="data", array=_EMPTY, visible=True)))
    fig.add_trace(go.Scatter(x=_EMPTY, y=_EMPTY, name="trained networks (measured)", mode="markers",
                             meta="network",
                             marker=dict(color=COLORS["network"], symbol="square", size=9),
                             error_y=dict(type="data", array=_EMPTY, visible=True)))
    fig.update_yaxes(range=[-0.05, 1.05])
    return fig


def conservation_figure() -> go.Figure:
    """Bars m_k·L_k per family level; their sum is n (the conservation law of Simon et al. 2021).  A second bar
    set shows the same after one eigenvalue was scaled (zero-sum competition of eigenmodes, same paper)."""
    fig = base_figure("Conservation law: Σ_i L_i = n", "level (frequency / degree)", "m_k · L_k", height=360)
    fig.add_trace(go.Bar(x=_EMPTY, y=_EMPTY, name="original spectrum", meta="original",
                         marker_color=OKABE_ITO["sky_blue"]))
    fig.add_trace(go.Bar(x=_EMPTY, y=_EMPTY, name="one eigenvalue scaled", meta="scaled",
                         marker_color=OKABE_ITO["vermillion"], marker_pattern_shape="/"))
    fig.update_layout(barmode="group")
    return fig


# --------------------------------------------------------------------------------------- spectral bias
def mode_residual_figure(n_modes: int = 0) -> go.Figure:
    """|u_iᵀ(f_t − y)| per eigenmode of Θ_0 against the step: measured (solid) and (1 − lr λ_i/N)^t (dashed)."""
    fig = base_figure("Spectral bias: residual per NTK eigenmode", "GD step", "|u_iᵀ (f_t − y)|", log_y=True,
                      height=420)
    fig.update_layout(legend=dict(entrywidth=0.25))
    for i in range(n_modes):
        color, dash = _SEQUENCE[i % len(_SEQUENCE)], _DASHES[(i // len(_SEQUENCE)) % len(_DASHES)]
        fig.add_trace(_line(f"measured{i}", f"mode {i + 1} (network)", color, dash=dash, width=2.2, legendgroup=str(i)))
        fig.add_trace(_line(f"theory{i}", f"mode {i + 1} theory", color, dash="dot", width=1.2, legendgroup=str(i),
                            showlegend=False))
    return fig
