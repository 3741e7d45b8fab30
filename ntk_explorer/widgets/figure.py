"""How the panels make their plotly FigureWidgets: the one place that knows about FigureWidget internals.

Every panel builds its figures with :func:`figure_widget`; :func:`sync_view_state` makes a view created after
the figure was drawn (Voilà connects after the notebook ran, a reloaded page) start from the current data.
"""
from __future__ import annotations

import copy

import plotly.graph_objects as go

__all__ = ["FIGURE_WIDTH", "figure_widget", "sync_view_state"]

FIGURE_WIDTH = 445  # two figures side by side next to the controls fit a 1280-pixel-wide window


def figure_widget(fig: go.Figure, width: int = FIGURE_WIDTH) -> go.FigureWidget:
    """A FigureWidget of a fixed width (autosize measures the container before it is laid out, too small)."""
    fig.update_layout(width=width, autosize=False)
    return go.FigureWidget(fig)


def sync_view_state(fig) -> None:
    """Copies a FigureWidget's current data and layout into the traits a *new* view starts from.

    FigureWidget sends edits as one-shot delta messages and sets ``_widget_data``/``_widget_layout`` only when
    created or displayed directly; a view created later (Voilà connects after the notebook ran; a reloaded page;
    a figure inside a Box) would show the figure as it was built.  The JavaScript model ignores changes of
    these traits, so setting them redraws nothing: it only fixes what later views start from."""
    if hasattr(fig, "_widget_data"):
        fig._widget_layout = copy.deepcopy(fig._layout_obj._props)
        fig._widget_data = copy.deepcopy(fig._data)
