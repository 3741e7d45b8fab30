"""Shared pieces of the panels: the Panel base class, control factories, the equations box and the export box.

A panel owns ``controls`` (query-string name → widget), ``figures`` (name → FigureWidget), ``status`` (an HTML
line), ``warnings`` (an HTML box for teaching guards) and a :class:`RunController`.  Subclasses implement
``_job(ctx, config)`` (runs in the worker thread, calls ``ctx.frame``), ``_draw(state)`` (updates the figures),
``config()`` (the current settings as a plain dict), ``export_columns()`` and ``snippet()``.
"""
from __future__ import annotations

import base64
import contextlib
import csv
import html
import io
import json
import math

import ipywidgets as W
import numpy as np
import plotly.graph_objects as go

from .runner import RunController, format_status

__all__ = ["Panel", "slider", "log_slider", "dropdown", "equations_box", "guard_html"]

CONTROL_WIDTH = "310px"
_STYLE = {"description_width": "118px"}


def _layout():
    return W.Layout(width=CONTROL_WIDTH)


def slider(description, value, low, high, step=1, *, integer=True, tooltip=""):
    cls = W.IntSlider if integer else W.FloatSlider
    return cls(value=value, min=low, max=high, step=step, description=description, continuous_update=False,
               style=_STYLE, layout=_layout(), description_allow_html=False, tooltip=tooltip)


def log_slider(description, value, low_exp, high_exp, *, step=0.05, base=10, readout_format=".3g"):
    return W.FloatLogSlider(value=value, base=base, min=low_exp, max=high_exp, step=step, description=description,
                            continuous_update=False, style=_STYLE, layout=_layout(), readout_format=readout_format)


def dropdown(description, options, value):
    return W.Dropdown(options=options, value=value, description=description, style=_STYLE, layout=_layout())


def width_selector(value, widths):
    """The "width n" slider over the allowed widths (released, not dragged, starts a run)."""
    return W.SelectionSlider(options=widths, value=value, description="width n", continuous_update=False,
                             style=_STYLE, layout=_layout())


def target_text(value):
    """The typed target expression f*(t) (parsed safely by ntk_explorer.data.parse_target)."""
    return W.Text(value=value, description="target f*(t)", continuous_update=False, style=_STYLE, layout=_layout())


def seed_box(value):
    return W.BoundedIntText(value=value, min=0, max=1_000_000, description="seed", style=_STYLE, layout=_layout())


def equations_box(body_html: str) -> W.Accordion:
    """A collapsed box titled "Equations and sources" holding typeset equations (HTMLMath, MathJax syntax)."""
    box = W.Accordion(children=[W.HTMLMath(body_html, layout=W.Layout(max_width="100%"))],
                      layout=W.Layout(width="100%"))
    box.set_title(0, "Equations and sources")
    box.selected_index = None
    return box


def guard_html(messages) -> str:
    """The teaching-guard box: one line per warning (amber, not an error); empty when there is nothing to say."""
    if not messages:
        return ""
    items = "".join(f"<li>{html.escape(m)}</li>" for m in messages)
    return (f'<div class="ntk-guards" role="note" style="background:#FFF4E0;border-left:4px solid #E69F00;'
            f'padding:4px 8px;margin:2px 0"><b>Note</b><ul style="margin:2px 0 2px 18px;padding:0">{items}</ul>'
            f"</div>")


def _download_link(filename: str, mime: str, content: str, label: str) -> str:
    data = base64.b64encode(content.encode("utf-8")).decode("ascii")
    return (f'<a download="{html.escape(filename)}" href="data:{mime};base64,{data}" '
            f'style="margin-right:1em">{html.escape(label)}</a>')


class Panel:
    """Base class of the five panels (see the module docstring)."""

    key = "panel"
    title = "Panel"
    equations = ""

    def __init__(self):
        self.controls: dict = {}
        self.figures: dict = {}
        self.status = W.HTML(format_status("idle", "Ready."), layout=W.Layout(min_height="24px"))
        self.warnings = W.HTML("")
        self.last_state = None
        self._hold = 0
        self.activated = False

    # ------------------------------------------------------------------------------------- to implement
    def config(self) -> dict:
        """The current settings (a JSON-serialisable dict)."""
        return {name: w.value for name, w in self.controls.items() if not isinstance(w, W.Button)}

    def export_columns(self) -> dict:
        """name → 1-D array of the last run's data (equal lengths), for CSV/JSON export."""
        return {}

    def snippet(self) -> str:
        """Python code that reproduces the last run with the public API."""
        return ""

    def _draw(self, state) -> None:
        raise NotImplementedError

    def _job(self, ctx, config):
        raise NotImplementedError

    # ------------------------------------------------------------------------------------- running
    def _make_runner(self):
        self.runner = RunController(self._draw_and_keep, self.status, figures=self.figures.values())

    def _draw_and_keep(self, state):
        self.last_state = state
        self._draw(state)

    def run(self) -> int:
        """Starts a run with the current controls (stopping the one in flight); returns its run id."""
        config = self.config()
        return self.runner.start(lambda ctx: self._job(ctx, config), label=self.run_label)

    run_label = "computing"
    auto_run = True  # a control change starts a run (a panel with slow runs sets False and waits for its button)

    def activate(self) -> None:
        """First display (the dashboard calls it when the panel's tab is first selected): starts the first run."""
        if not self.activated:
            self.activated = True
            self.run()

    @contextlib.contextmanager
    def hold_runs(self):
        """Within this block, changing controls starts no run (for setting several controls at once)."""
        self._hold += 1
        try:
            yield self
        finally:
            self._hold -= 1

    def _watch_controls(self, exclude=()):
        for name, widget in self.controls.items():
            if name not in exclude and not isinstance(widget, W.Button):
                widget.observe(self._on_change, names="value")

    def _on_change(self, _change=None):
        if not self._hold and self.auto_run:
            self.run()

    def stop(self) -> None:
        self.runner.stop()

    def wait(self, timeout=None) -> str:
        """Blocks until the current run finished and its last frame is drawn; returns "done", "stopped",
        "diverged" or "error" (the error itself is in ``status`` and ``error``).  TimeoutError after timeout."""
        return self.runner.wait(timeout)

    @property
    def error(self):
        return self.runner.error

    @property
    def run_id(self) -> int:
        return self.runner.run_id

    def set_guards(self, messages) -> None:
        self.warnings.value = guard_html(messages)

    # ------------------------------------------------------------------------------------- export
    def to_csv(self) -> str:
        columns = self.export_columns()
        out = io.StringIO()
        writer = csv.writer(out)
        writer.writerow(list(columns))
        for row in zip(*(np.asarray(v).tolist() for v in columns.values())):
            writer.writerow(["" if isinstance(v, float) and math.isnan(v) else v for v in row])
        return out.getvalue()

    def to_json(self) -> str:
        columns = {k: [None if isinstance(x, float) and not math.isfinite(x) else x for x in np.asarray(v).tolist()]
                   for k, v in self.export_columns().items()}
        return json.dumps({"panel": self.key, "config": self.config(), "data": columns}, indent=1)

    def figure_html(self, name: str) -> str:
        """One figure as a standalone HTML page (plotly.js from its CDN; PNG/SVG via the plotly toolbar)."""
        return go.Figure(self.figures[name]).to_html(include_plotlyjs="cdn", full_html=True)

    def _export_box(self) -> W.Accordion:
        button = W.Button(description="Prepare downloads", icon="download", tooltip="figure HTML, CSV, JSON")
        links = W.HTML()
        code = W.Textarea(layout=W.Layout(width="100%", height="150px"))

        def prepare(_=None):
            try:
                parts = [_download_link(f"{self.key}_{name}.html", "text/html", self.figure_html(name),
                                        f"{name}.html") for name in self.figures]
                parts.append(_download_link(f"{self.key}_run.csv", "text/csv", self.to_csv(), "run.csv"))
                parts.append(_download_link(f"{self.key}_run.json", "application/json", self.to_json(),
                                            "run.json"))
                links.value = " ".join(parts)
                code.value = self.snippet()
            except Exception as error:  # shown, not swallowed
                links.value = format_status("error", f"export failed: {error}")

        button.on_click(prepare)
        box = W.Accordion(children=[W.VBox([W.HTML("Figures as standalone HTML (PNG/SVG: use the camera icon "
                                                   "of a plot), the last run as CSV/JSON, and Python code that "
                                                   "reproduces it:"), button, links, code])])
        box.set_title(0, "Export")
        box.selected_index = None
        return box

    # ------------------------------------------------------------------------------------- layout
    def _assemble(self, control_rows, figure_grid, extra=()):
        controls = W.VBox(list(control_rows), layout=W.Layout(width="330px", flex="0 0 330px"))
        right = W.VBox([figure_grid, *extra, equations_box(self.equations), self._export_box()],
                       layout=W.Layout(flex="1 1 auto", min_width="0"))
        self.widget = W.VBox([self.status, self.warnings, W.HBox([controls, right])])
        self.widget.add_class(f"ntk-panel-{self.key}")
        return self.widget

    def _repr_mimebundle_(self, **kwargs):
        return self.widget._repr_mimebundle_(**kwargs)


def grid(figures, columns=2) -> W.GridBox:
    return W.GridBox(list(figures), layout=W.Layout(grid_template_columns=" ".join(["minmax(0, 1fr)"] * columns),
                                                    width="100%"))
