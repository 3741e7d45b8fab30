"""The predicted iso-lines of the lazy↔rich phase diagram: curves of constant α√n over a (width n, α) grid.

Training h = f_0 + α(f − f_0) with rate lr/α² (Chizat, Oyallon & Bach 2019, "On Lazy Training in Differentiable
Programming", §2) moves the parameters by O(1/α); in NTK parameterization a width-n network moves each weight by
O(1/√n) and its kernel by O(1/√n) (Lee et al. 2019, Theorem 2.1).  Together the relative kernel drift falls like
1/(α√n), so the diagram's predicted level sets are the curves α√n = c: straight lines of slope −½ on log–log axes
(log α = log c − ½ log n).  Geiger, Spigler, Jacot & Wyart 2020 ("Disentangling feature and lazy training in deep
neural networks") place the crossover from lazy to feature learning at α√n of order one.  Under the maximal-update
parameterization (Yang & Hu 2021) the drift does not vanish with n, and the lines stop being level sets.

:func:`alpha_sqrt_width_isolines` gives these curves inside the cells of a grid; :func:`grid_edges` gives the cell
edges of a grid drawn on logarithmic axes (a heat map whose cells are centred on the grid values).
"""
from __future__ import annotations

import math
from typing import NamedTuple, Optional

import numpy as np

from .phase import check_scales

__all__ = ["IsoLine", "grid_edges", "isoline_levels", "alpha_sqrt_width_isolines", "EDGE_FACTOR"]

EDGE_FACTOR = math.sqrt(2.0)  # a grid of one value: its cell spans [v / √2, v · √2]


class IsoLine(NamedTuple):
    """The curve α√n = ``level`` sampled at ``widths`` (n, increasing) and ``scales`` (α = level/√n)."""
    level: float
    widths: np.ndarray
    scales: np.ndarray


def grid_edges(centers) -> np.ndarray:
    """Edges (K + 1,) of the cells of K positive ``centers`` on a logarithmic axis: the geometric mean of each
    pair of neighbours, and at both ends the centre times/divided by the neighbouring half step (for one centre:
    ×/÷ ``EDGE_FACTOR``).  The centres are sorted and made unique first."""
    values = check_scales(centers)
    logs = np.log(values)
    if len(logs) == 1:
        return values[0] * np.array([1 / EDGE_FACTOR, EDGE_FACTOR])
    half = np.diff(logs) / 2
    first, last = logs[0] - half[0], logs[-1] + half[-1]
    return np.exp(np.concatenate([[first], logs[:-1] + half, [last]]))


def _box(widths, scales) -> tuple:
    w_edges, a_edges = grid_edges(widths), grid_edges(scales)
    return w_edges[0], w_edges[-1], a_edges[0], a_edges[-1]


def isoline_levels(widths, scales) -> tuple:
    """The levels c of α√n to draw over the grid: the powers of ten strictly inside the range of α√n over the
    cells (edges included), with 3·10^k added when fewer than two decades fall inside; ascending."""
    n_lo, n_hi, a_lo, a_hi = _box(widths, scales)
    low, high = a_lo * math.sqrt(n_lo), a_hi * math.sqrt(n_hi)
    decades = range(math.floor(math.log10(low)) - 1, math.ceil(math.log10(high)) + 2)
    levels = [10.0 ** k for k in decades if low < 10.0 ** k < high]
    if len(levels) < 2:
        levels += [3 * 10.0 ** k for k in decades if low < 3 * 10.0 ** k < high]
    return tuple(sorted(levels))


def alpha_sqrt_width_isolines(widths, scales, levels: Optional[tuple] = None, points: int = 24) -> tuple:
    """The curves α√n = c (c in ``levels``, default :func:`isoline_levels`) clipped to the cells of the grid
    ``widths`` × ``scales`` (their :func:`grid_edges`), each sampled at ``points`` widths spaced evenly on a log
    axis.  A level whose curve misses the grid is left out.  Returns a tuple of :class:`IsoLine`."""
    if isinstance(points, bool) or not isinstance(points, (int, np.integer)) or points < 2:
        raise ValueError(f"points must be an integer ≥ 2, got {points!r}")
    n_lo, n_hi, a_lo, a_hi = _box(widths, scales)
    levels = isoline_levels(widths, scales) if levels is None else tuple(check_scales(levels))
    lines = []
    for c in levels:
        start, stop = max(n_lo, (c / a_hi) ** 2), min(n_hi, (c / a_lo) ** 2)  # where a_lo ≤ c/√n ≤ a_hi
        if start >= stop:
            continue
        n = np.geomspace(start, stop, int(points))
        lines.append(IsoLine(float(c), n, c / np.sqrt(n)))
    return tuple(lines)
