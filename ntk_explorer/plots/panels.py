"""Pure plotly figure templates for the interactive panels and the command line (no widgets, no state).

Every panel shows exactly one figure (issue 11: one FigureWidget per panel, one ``batch_update`` per frame): the
lazy-training panel a 2×2 grid of subplots, the infinite-width and learnability panels two subplots side by side,
the width-scaling and spectral-bias panels one plot.  Every trace is *keyed* by its ``meta``; the panels wrap the
figure in a FigureWidget (``ntk_explorer.widgets.figure``) and replace trace data by key with :func:`set_traces`
inside one ``batch_update()``.  Long series sampled at regular steps travel as ``y`` with ``x0``/``dx``
(:func:`series`), so a frame does not resend an x array that only grew.  Colours follow the Okabe–Ito palette
(safe for the common colour-vision deficiencies) and every pair of curves that must be told apart also differs in
dash or marker, never in colour alone.

This module imports plotly: it is not imported by ``import ntk_explorer`` (the core stays plotly-free).
"""
from __future__ import annotations

import html
import math

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

__all__ = ["OKABE_ITO", "COLORS", "set_traces", "trace_keys", "trace_x", "series", "set_subplot_title",
           "base_figure", "panel_grid", "fill_width_scaling", "lazy_figure", "width_scaling_figure",
           "infinite_figure", "learnability_panel_figure", "mode_residual_figure", "reference_line", "angle_axis"]

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


def series(x, y) -> dict:
    """Trace attributes for the points (x, y): ``x0``/``dx`` and ``y`` when x is evenly spaced (the x array is
    then never sent), else ``x`` and ``y``.  x: steps (any numeric dtype), y: values."""
    x, y = np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)
    if len(x) >= 2:
        dx = x[1] - x[0]
        if dx > 0 and np.array_equal(x, x[0] + dx * np.arange(len(x))):
            return dict(x=None, x0=float(x[0]), dx=float(dx), y=y)
    return dict(x=x, x0=0.0, dx=1.0, y=y)


def trace_x(trace) -> np.ndarray:
    """The x values a trace is drawn at: its ``x``, or ``x0 + dx·i`` for a trace set by :func:`series`."""
    if trace.x is not None:
        return np.asarray(trace.x, dtype=np.float64)
    count = 0 if trace.y is None else len(trace.y)
    x0 = 0.0 if trace.x0 is None else float(trace.x0)
    return x0 + (1.0 if trace.dx is None else float(trace.dx)) * np.arange(count, dtype=np.float64)


def set_subplot_title(fig, index: int, text: str) -> None:
    """Replaces the title of subplot ``index`` (0-based, in the order the titles were given to :func:`panel_grid`)."""
    fig.layout.annotations[index].text = text


# Axes of live figures: grid lines, and tick labels never hidden for overflowing the figure (plotly's default for
# numeric axes, "hide past div", measures every label of an axis once per label on every redraw: about 30% of a
# frame's drawing time in the browser; the dashboard's margins leave room for the labels anyway).
AXIS_STYLE = dict(showgrid=True, ticklabeloverflow="allow")


def base_figure(title: str, xaxis: str, yaxis: str, *, log_x: bool = False, log_y: bool = False,
                height: int = 360) -> go.Figure:
    """An empty figure with the dashboard's layout (readable at 1280×800: title on top, legend below the axes)."""
    fig = go.Figure()
    fig.update_layout(title=dict(text=title, x=0.01, y=0.98, yanchor="top", font=dict(size=14)), height=height,
                      margin=dict(l=62, r=14, t=36, b=10), template="simple_white",
                      legend=dict(orientation="h", yanchor="top", y=-0.3, x=0, font=dict(size=11),
                                  entrywidth=0.5, entrywidthmode="fraction"),
                      font=dict(size=12), hovermode="closest")
    fig.update_xaxes(title_text=xaxis, type="log" if log_x else "linear", **AXIS_STYLE)
    fig.update_yaxes(title_text=yaxis, type="log" if log_y else "linear", **AXIS_STYLE)
    return fig


def panel_grid(rows: int, cols: int, titles, *, height: int, vertical_spacing: float = 0.16) -> go.Figure:
    """An empty grid of subplots with the dashboard's layout: subplot titles on top, one legend below the grid
    (four entries per row)."""
    fig = make_subplots(rows=rows, cols=cols, subplot_titles=list(titles), horizontal_spacing=0.13,
                        vertical_spacing=vertical_spacing)
    fig.update_layout(height=height, margin=dict(l=62, r=28, t=36, b=10), template="simple_white",
                      legend=dict(orientation="h", yanchor="top", y=-0.08 if rows > 1 else -0.2, x=0,
                                  font=dict(size=11), entrywidth=0.25, entrywidthmode="fraction"),
                      font=dict(size=12), hovermode="closest")
    fig.update_annotations(font_size=13)
    fig.update_xaxes(**AXIS_STYLE)
    fig.update_yaxes(**AXIS_STYLE)
    return fig


def _axes(fig, row, col, xaxis, yaxis, *, log_x=False, log_y=False):
    fig.update_xaxes(title_text=xaxis, type="log" if log_x else "linear", row=row, col=col)
    fig.update_yaxes(title_text=yaxis, type="log" if log_y else "linear", row=row, col=col)


def _line(key, name, color, *, dash="solid", width=2.0, mode="lines", visible=True, **extra):
    return go.Scatter(x=_EMPTY, y=_EMPTY, name=name, mode=mode, visible=visible, meta=key,
                      line=dict(color=color, dash=dash, width=width), **extra)


def _markers(key, name, color, symbol="circle", size=8, **extra):
    return go.Scatter(x=_EMPTY, y=_EMPTY, name=name, mode="markers", meta=key,
                      marker=dict(color=color, symbol=symbol, size=size, line=dict(width=1, color="white")),
                      **extra)


# --------------------------------------------------------------------------------------- lazy training
ANGLE_TICKS = dict(range=[0, 2 * math.pi], tickvals=[0, math.pi / 2, math.pi, 3 * math.pi / 2, 2 * math.pi],
                   ticktext=["0", "π/2", "π", "3π/2", "2π"])


def lazy_figure() -> go.Figure:
    """The lazy-training panel: f_t and f^lin_t over the circle (with the target, the training points, f_0 and
    the closed-form f^lin at the final step) — or, on the digits, the test accuracy of f_t and f^lin_t against the
    step (:func:`lazy_axes` switches the first subplot) —, the training losses, the three quantities of Lee et al.
    2019, Theorem 2.1, against the step, and the NTK spectrum on the training set at t = 0 and now.  Trace keys:
    target, f0, flin_closed, f, flin, train, accuracy, accuracy_lin | loss, loss_lin | discrepancy, kernel_drift,
    param_distance | spectrum0, spectrum_t."""
    fig = panel_grid(2, 2, ["Network f_t and its linearization f^lin_t", "Training loss L = (1/N) Σ ½(f − y)²",
                            "Distance from the linear regime (Lee et al. 2019, Thm 2.1)",
                            "NTK spectrum on the training set"], height=820)
    add = fig.add_trace
    add(_line("target", "target", COLORS["target"], width=1.5, dash="dot"), row=1, col=1)
    add(_line("f0", "f_0 (init)", COLORS["f0"], width=1.2), row=1, col=1)
    add(_line("flin_closed", "f^lin at final step (closed form)", COLORS["closed"], width=3, dash="dot"), row=1, col=1)
    add(_line("f", "f_t (network)", COLORS["f"], width=2.5), row=1, col=1)
    add(_line("flin", "f^lin_t (linearized)", COLORS["flin"], dash="dash", width=2.5), row=1, col=1)
    add(_markers("train", "training points", COLORS["train"], size=9), row=1, col=1)
    add(_line("accuracy", "test accuracy of f_t", COLORS["f"], width=2.5), row=1, col=1)
    add(_line("accuracy_lin", "test accuracy of f^lin_t", COLORS["flin"], dash="dash", width=2.5), row=1, col=1)
    add(_line("loss", "loss of f_t", COLORS["f"]), row=1, col=2)
    add(_line("loss_lin", "loss of f^lin_t", COLORS["flin"], dash="dash"), row=1, col=2)
    add(_line("discrepancy", "RMS f_t − f^lin_t", COLORS["discrepancy"]), row=2, col=1)
    add(_line("kernel_drift", "‖Θ_t − Θ_0‖_F / ‖Θ_0‖_F", COLORS["kernel_drift"], dash="dash",
              mode="lines+markers", marker=dict(size=5, symbol="diamond")), row=2, col=1)
    add(_line("param_distance", "‖θ_t − θ_0‖ / ‖θ_0‖", COLORS["param_distance"], dash="dot"), row=2, col=1)
    add(_markers("spectrum0", "spectrum of Θ_0", COLORS["f0"], symbol="circle-open", size=9), row=2, col=2)
    add(_markers("spectrum_t", "spectrum of Θ_t", COLORS["f"], symbol="x", size=7), row=2, col=2)
    _axes(fig, 1, 1, "angle t on the unit circle", "output")
    fig.update_xaxes(ANGLE_TICKS, row=1, col=1)
    _axes(fig, 1, 2, "GD step", "loss", log_y=True)
    _axes(fig, 2, 1, "GD step", "relative size", log_y=True)
    _axes(fig, 2, 2, "eigenvalue index (descending)", "eigenvalue λ_i", log_y=True)
    return fig


LAZY_TITLES = {"circle": "Network f_t and its linearization f^lin_t",
               "digits": "Test accuracy of f_t and f^lin_t (the digits)"}


def lazy_axes(fig, dataset: str) -> None:
    """Sets the first subplot of a :func:`lazy_figure` (also a FigureWidget, inside batch_update) for the circle
    (output against the angle) or the digits (test accuracy against the GD step)."""
    set_subplot_title(fig, 0, LAZY_TITLES[dataset])
    if dataset == "digits":
        fig.update_xaxes(title_text="GD step", range=None, tickvals=None, ticktext=None, autorange=True, row=1, col=1)
        fig.update_yaxes(title_text="test accuracy", autorange=True, row=1, col=1)
    else:
        _axes(fig, 1, 1, "angle t on the unit circle", "output")
        fig.update_xaxes(ANGLE_TICKS, autorange=False, row=1, col=1)
        fig.update_yaxes(autorange=True, row=1, col=1)


def digit_thumbnails_html(images, captions, scale: int = 5) -> str:
    """Small heat maps of 8×8 digit images (pixel values 0–16, ink dark) with a caption each, as HTML: an inline
    grid per image (no figure).  ``images``: (K, 8, 8); ``captions``: K strings (escaped here)."""
    cells = []
    for image, caption in zip(images, captions):
        grey = (255 - np.asarray(image, dtype=np.float64).reshape(8, 8) * 255 / 16).round().astype(int)
        pixels = "".join(f'<div style="background:rgb({g},{g},{g})"></div>' for g in grey.ravel())
        cells.append(f'<figure style="margin:0 6px 4px 0;display:inline-block;text-align:center">'
                     f'<div style="display:inline-grid;grid-template-columns:repeat(8,{scale}px);grid-auto-rows:{scale}px;'
                     f'border:1px solid #999">{pixels}</div><figcaption style="font-size:11px">'
                     f'{html.escape(caption)}</figcaption></figure>')
    return f'<div class="ntk-thumbnails" style="display:flex;flex-wrap:wrap">{"".join(cells)}</div>'


def angle_axis(fig: go.Figure) -> go.Figure:
    """An x axis over one turn of the circle, ticks at multiples of π/2."""
    fig.update_xaxes(ANGLE_TICKS)
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
def infinite_figure() -> go.Figure:
    """The infinite-width panel: the slice Θ(x_0, ·) over the circle, empirical against analytic, and the NTK-GP
    mean ± 2σ against the mean ± 2σ of an ensemble of trained networks.  Trace keys: analytic, empirical |
    gp_band, gp_mean, ens_band, ens_mean, train.  Subplot titles: 0 (kernel), 1 (GP)."""
    fig = panel_grid(1, 2, ["NTK slice Θ(x_0, x) over the circle, x_0 at angle 0",
                            "Infinite-width GP vs an ensemble of trained networks"], height=430)
    add = fig.add_trace
    add(_line("analytic", "analytic Θ (width → ∞)", COLORS["analytic"], width=3), row=1, col=1)
    add(_line("empirical", "empirical Θ̂_0 (this width)", COLORS["empirical"], dash="dash"), row=1, col=1)
    blue, orange = COLORS["empirical"], COLORS["closed"]
    add(go.Scatter(x=_EMPTY, y=_EMPTY, name="GP mean ± 2σ", mode="lines", fill="toself", meta="gp_band",
                   line=dict(width=0), fillcolor="rgba(230,159,0,0.25)", hoverinfo="skip"), row=1, col=2)
    add(_line("gp_mean", "GP mean (Lee et al. 2019)", orange, width=3), row=1, col=2)
    add(_line("ens_band", "ensemble mean ± 2σ", blue, dash="dot", width=1.2), row=1, col=2)
    add(_line("ens_mean", "ensemble mean", blue, dash="dash", width=2.5), row=1, col=2)
    add(_markers("train", "training points", COLORS["train"]), row=1, col=2)
    _axes(fig, 1, 1, "angle t of x", "Θ(x_0, x)")
    _axes(fig, 1, 2, "angle t on the unit circle", "output")
    return angle_axis(fig)


# --------------------------------------------------------------------------------------- learnability
def learnability_panel_figure() -> go.Figure:
    """The learnability panel: the theory curve L(λ) = λ/(λ + κ) with the domain's eigenvalues and measured
    learnabilities, and the bars m_k·L_k per level, whose sum is n (the learnability conservation law of Simon
    et al. 2021), before and after one eigenvalue was scaled (zero-sum competition of eigenmodes, same paper) —
    or, on the digits, the learning curve: the predicted test MSE (eigenlearning) against kernel regression.
    Trace keys: theory, modes, kernel, network | original, scaled, curve_theory, curve_kernel.  Subplot titles:
    0 (curve), 1 (bars or learning curve)."""
    fig = panel_grid(1, 2, ["Eigenmode learnability L(λ) = λ/(λ + κ)", "Conservation law: Σ_i L_i = n"],
                     height=430)
    add = fig.add_trace
    add(_line("theory", "theory λ/(λ+κ)", COLORS["theory"]), row=1, col=1)
    add(_markers("modes", "modes (theory)", OKABE_ITO["grey"], symbol="circle-open", size=9), row=1, col=1)
    add(go.Scatter(x=_EMPTY, y=_EMPTY, name="kernel regression (measured)", mode="markers", meta="kernel",
                   marker=dict(color=COLORS["kernel"], symbol="diamond", size=10),
                   error_y=dict(type="data", array=_EMPTY, visible=True)), row=1, col=1)
    add(go.Scatter(x=_EMPTY, y=_EMPTY, name="trained networks (measured)", mode="markers", meta="network",
                   marker=dict(color=COLORS["network"], symbol="square", size=9),
                   error_y=dict(type="data", array=_EMPTY, visible=True)), row=1, col=1)
    add(go.Bar(x=_EMPTY, y=_EMPTY, name="original spectrum", meta="original", marker_color=OKABE_ITO["sky_blue"]),
        row=1, col=2)
    add(go.Bar(x=_EMPTY, y=_EMPTY, name="one eigenvalue scaled", meta="scaled", marker_color=OKABE_ITO["vermillion"],
               marker_pattern_shape="/"), row=1, col=2)
    _axes(fig, 1, 1, "eigenvalue λ (of K/M)", "learnability", log_x=True)
    fig.update_yaxes(range=[-0.05, 1.05], row=1, col=1)
    add(_line("curve_theory", "predicted test MSE (eigenlearning)", COLORS["theory"], dash="dash"), row=1, col=2)
    add(go.Scatter(x=_EMPTY, y=_EMPTY, name="kernel regression (measured)", mode="markers", meta="curve_kernel",
                   marker=dict(color=COLORS["kernel"], symbol="diamond", size=10), showlegend=False,
                   error_y=dict(type="data", array=_EMPTY, visible=True)), row=1, col=2)
    _axes(fig, 1, 2, "level (frequency / degree)", "m_k · L_k")
    fig.update_layout(barmode="group")
    return fig


def learnability_axes(fig, digits: bool) -> None:
    """The second subplot of a :func:`learnability_panel_figure`: the conservation bars (circle, hypercube) or,
    on the digits, the learning curve (test MSE against n, log–log)."""
    if digits:
        _axes(fig, 1, 2, "training points n", "test MSE against the labels", log_x=True, log_y=True)
    else:
        _axes(fig, 1, 2, "level (frequency / degree)", "m_k · L_k")



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


# --------------------------------------------------------------------------------------- lazy vs rich
__all__ += ["PHASE_LOG_MEASURES", "phase_figure", "phase_updates", "lazy_axes", "digit_thumbnails_html",
            "LAZY_TITLES", "learnability_axes"]
#: Phase-diagram measures coloured on a log scale (positive quantities spanning decades); the others (accuracies,
#: alignments) are coloured linearly.
PHASE_LOG_MEASURES = ("kernel_drift", "param_movement", "sup_discrepancy", "rms_discrepancy", "test_loss",
                      "test_loss_lin", "train_loss", "train_loss_lin", "initial_loss")


def phase_figure() -> go.Figure:
    """The lazy-vs-rich panel: a heat map of one measure over (width n, output scale α) on log axes, cells
    centred on the grid (edges from ``ntk_explorer.experiments.grid_edges``), filled as cells finish, and the
    predicted iso-lines α√n = c over it (Chizat, Oyallon & Bach 2019; Geiger et al. 2020).  Trace keys: cells
    (the heat map; its ``text`` holds each cell's value), isolines (one trace, lines separated by gaps),
    isoline_labels ("α√n = c" right of the lower right end of each line)."""
    fig = base_figure("Lazy vs rich", "width n", "output scale α", log_x=True, log_y=True, height=470)
    fig.add_trace(go.Heatmap(x=_EMPTY, y=_EMPTY, z=np.zeros((0, 0)), meta="cells", name="measure",
                             colorscale="Viridis", texttemplate="%{text}", textfont=dict(size=11),
                             hovertemplate="%{customdata}<extra></extra>", hoverongaps=True,
                             colorbar=dict(thickness=14, len=0.9, x=1.13, title=dict(side="right"))))
    fig.add_trace(go.Scatter(x=_EMPTY, y=_EMPTY, meta="isolines", name="predicted iso-lines α√n = c",
                             mode="lines", line=dict(color=OKABE_ITO["black"], dash="dash", width=1.6),
                             hoverinfo="skip"))
    fig.add_trace(go.Scatter(x=_EMPTY, y=_EMPTY, meta="isoline_labels", name="α√n = c", mode="text",
                             textposition="middle right", textfont=dict(size=12, color=OKABE_ITO["black"]),
                             hoverinfo="skip", showlegend=False, cliponaxis=False))
    fig.update_layout(margin=dict(l=62, r=14, t=36, b=10), legend=dict(y=-0.18), plot_bgcolor="#EEEEEE")
    return fig


def _phase_text(value: float, diverged: int, done: bool) -> str:
    if not done:
        return ""
    if not np.isfinite(value):
        return "diverged" if diverged else "n/a"
    return f"{value:.3g}"


def phase_updates(widths, scales, edges: tuple, values, n_diverged, done, alpha_sqrt_width, measure: str,
                  label: str, lines) -> tuple:
    """(trace updates for :func:`set_traces`, layout updates) that show ``values`` (W, A) of ``measure`` on a
    :func:`phase_figure`: the heat map (z is (A, W): rows α, columns n; NaN where a cell is not finished),
    each cell's value as text, a hover naming n, α, α√n and the value, a log colour scale for
    ``PHASE_LOG_MEASURES`` whose values are positive, and the iso-lines (``IsoLine`` s: level, widths, scales)
    joined by gaps and labelled "α√n = c".  ``done`` (W, A) bool: cells finished; ``edges``: (width edges,
    scale edges)."""
    values = np.asarray(values, dtype=np.float64)
    finite = values[np.isfinite(values)]
    log = measure in PHASE_LOG_MEASURES and len(finite) > 0 and bool(np.all(finite > 0))
    with np.errstate(divide="ignore", invalid="ignore"):
        shown = np.log10(values) if log else values
    text = [[_phase_text(values[i, j], n_diverged[i, j], done[i, j]) for i in range(len(widths))]
            for j in range(len(scales))]
    hover = [[f"n = {int(widths[i])}, α = {scales[j]:g}, α√n = {alpha_sqrt_width[i, j]:.3g}<br>{label}: "
              f"{text[j][i] or 'not computed yet'}<br>click: open in Lazy training" for i in range(len(widths))]
             for j in range(len(scales))]
    colorbar = dict(title=dict(text=label), tickvals=None, ticktext=None)
    if log:
        low, high = np.floor(np.log10(finite.min())), np.ceil(np.log10(finite.max()))
        ticks = np.arange(low, high + 1)
        colorbar.update(tickvals=ticks, ticktext=[f"1e{int(k)}" if abs(k) > 2 else f"{10.0 ** k:g}" for k in ticks])
    xs, ys = [], []
    for line in lines:
        xs += list(line.widths) + [np.nan]
        ys += list(line.scales) + [np.nan]
    cells = dict(x=np.asarray(edges[0], dtype=np.float64), y=np.asarray(edges[1], dtype=np.float64),
                 z=np.ascontiguousarray(shown.T), text=text, customdata=hover, colorbar=colorbar,
                 zmid=0.0 if measure == "alignment_change" and len(finite) else None,
                 colorscale="RdBu" if measure == "alignment_change" else "Viridis")
    traces = {"cells": cells,
              "isolines": dict(x=np.asarray(xs, dtype=np.float64), y=np.asarray(ys, dtype=np.float64)),
              "isoline_labels": dict(x=np.asarray([line.widths[-1] for line in lines], dtype=np.float64),
                                     y=np.asarray([line.scales[-1] for line in lines], dtype=np.float64),
                                     text=[f"α√n = {line.level:g}" for line in lines])}
    axes = [dict(range=np.log10(e[[0, -1]]).tolist(), tickvals=np.asarray(v, dtype=np.float64),
                 ticktext=[f"{float(x):g}" for x in v], minor=dict(showgrid=False))
            for e, v in zip(edges, (widths, scales))]
    return traces, dict(xaxis=axes[0], yaxis=axes[1])
