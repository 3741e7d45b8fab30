"""The Panel base class: settings → controls, one figure, a run controller, the status line, guards and exports.

A panel class names its settings dataclass (``Settings``), its figure template (``make_figure``), the computation
of a run (``job(ctx, settings)``, in a worker thread, pushing typed frames with ``ctx.frame``) and how a frame is
drawn (``draw(frame)``, inside one ``batch_update()`` of its one FigureWidget).  Everything else is derived from
the settings class: the controls, the link, ``hide=``, the export files and the reproducing code (the settings
literal followed by the panel's ``snippet_body``).  Contract (issue 12): ``Panel.Settings``, ``panel.settings``,
``Panel(**overrides)``, ``Panel(settings)``, ``panel.apply(settings)`` (one run, not one per field).
"""
from __future__ import annotations

import base64
import contextlib
import csv
import functools
import html
import io
import json
import math
from typing import ClassVar, Optional

import ipywidgets as W
import numpy as np
import plotly.graph_objects as go

from .figure import figure_widget
from .runner import RunController, format_status
from .settings import Settings, make_controls, settings_literal
from .state import PanelState, build_query, hidden_names

__all__ = ["Panel", "equations_box", "guard_html", "widgets_under", "LABEL_STYLE"]

LABEL_STYLE = {"description_width": "118px"}


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


def _json_number(x):
    return None if isinstance(x, float) and not math.isfinite(x) else x


def widgets_under(root: W.Widget) -> list:
    """``root`` and every widget it refers to through its synced traits (children, layouts, styles…), each once."""
    found, stack = {}, [root]
    while stack:
        widget = stack.pop()
        if not isinstance(widget, W.Widget) or id(widget) in found:
            continue
        found[id(widget)] = widget
        for name in widget.keys:
            value = getattr(widget, name, None)
            stack.extend(value if isinstance(value, (list, tuple)) else [value])
    return list(found.values())


class Panel:
    """Base class of the panels (see the module docstring).  ``Panel(settings)``, ``Panel(**overrides)`` or both
    (``overrides`` replace fields of ``settings``) build the panel at those settings; nothing runs until it is
    shown (``activate``), ``run()`` or ``apply()``."""

    Settings: ClassVar[type] = Settings
    key = "panel"
    title = "Panel"
    equations = ""
    run_label = "computing"
    auto_run = True  # a control change starts a run (slow panels set False and wait for their button)
    figure_width = 900
    snippet_imports = ""  # import lines of the reproducing code
    snippet_body = ""  # code after ``s = <Settings>(…)`` reproducing a run (``str.format``-ed with snippet_values)

    def __init__(self, settings: Optional[Settings] = None, /, **overrides):
        self.state = PanelState(self._settings_from(settings, overrides, None))
        self.status = W.HTML(format_status("idle", "Ready."), layout=W.Layout(min_height="24px"))
        self.warnings = W.HTML("")
        self.controls = make_controls(self.settings)
        self.figure = figure_widget(self.make_figure(), width=self.figure_width)
        self.activated, self._syncing = False, False
        self.opener = None  # set by a Dashboard: opens another tab at given settings (see open_panel)
        self._runner = RunController(self._draw_frame, self.status, figure=self.figure)
        for name, widget in self.controls.items():
            widget.observe(functools.partial(self._control_changed, name), names="value")
        rows, extra = self.view()
        self.widget = self._assemble(rows, extra)
        self.show_controls()

    @classmethod
    def _settings_from(cls, settings, overrides, base):
        if settings is None:
            settings = base if base is not None else cls.Settings()
        elif not isinstance(settings, cls.Settings):
            raise TypeError(f"{cls.__name__} takes a {cls.Settings.__name__}, got {type(settings).__name__}")
        return settings.replace(**overrides) if overrides else settings

    @classmethod
    def control_names(cls) -> list:
        """Names of the settings fields shown as controls (the names ``hide=`` accepts)."""
        return cls.Settings.control_names()

    # ------------------------------------------------------------------------------------- to implement
    def make_figure(self) -> go.Figure:
        """The panel's figure template (``ntk_explorer.plots.panels``); wrapped in one FigureWidget."""
        raise NotImplementedError

    def view(self) -> tuple:
        """(rows of the control column, widgets below the figure); by default the controls and nothing."""
        return list(self.controls.values()), []

    def job(self, ctx, settings):
        """The computation of one run (worker thread): pushes frames with ``ctx.frame``; returns None, a message
        for the status line, or ("diverged", message)."""
        raise NotImplementedError

    def draw(self, frame) -> None:
        """Shows ``frame`` (called inside the figure's ``batch_update()``)."""
        raise NotImplementedError

    def adjust(self, settings, changed: str):
        """The settings after the control ``changed`` was set (a panel can reset dependent fields here)."""
        return settings

    def relevant(self, name: str) -> bool:
        """Whether the control ``name`` applies to the current settings (irrelevant ones are not shown)."""
        return True

    # ------------------------------------------------------------------------------------- settings
    @property
    def settings(self):
        """The current settings (an instance of ``Settings``)."""
        return self.state.settings

    @property
    def frame(self):
        """The last frame drawn (None before the first)."""
        return self.state.frame

    def apply(self, settings: Optional[Settings] = None, /, *, run: Optional[bool] = None, **overrides):
        """Moves the panel to ``settings`` (with ``overrides``): the controls follow, then one run starts — the
        one a control change would start (``run=None``; none for panels with a run button), the full run
        (``run=True``) or none (``run=False``).  Returns the new run id, or None when nothing started."""
        self.state.settings = self._settings_from(settings, overrides, self.settings)
        self._sync_controls()
        self.show_controls()
        if run is None:
            return self.settings_changed()
        return self.run() if run else None

    def _control_changed(self, name: str, change) -> None:
        if self._syncing:
            return
        spec = self.Settings.specs()[name]
        try:
            settings = self.adjust(self.settings.replace(**{name: spec.read(change["new"])}), name)
        except ValueError as error:  # shown, not swallowed; the settings keep their valid value
            self.status.value = format_status("error", f"{error} (kept {getattr(self.settings, name)!r})")
            return
        self.state.settings = settings
        self._sync_controls()  # fields that adjust() changed along with this one
        self.show_controls()
        if name not in self.passive_fields:
            self.settings_changed()

    def _sync_controls(self) -> None:
        """Every control shows its field of the current settings (no control change is triggered)."""
        self._syncing = True
        try:
            for name, widget in self.controls.items():
                if widget.value != getattr(self.settings, name):
                    widget.value = getattr(self.settings, name)
        finally:
            self._syncing = False

    passive_fields: ClassVar[tuple] = ()  # fields whose change starts nothing (e.g. the lazy panel's "live")

    def settings_changed(self) -> Optional[int]:
        """What a control change starts: a run for ``auto_run`` panels, else nothing."""
        return self.run() if self.auto_run else None

    def hide(self, names) -> list:
        """Hides the named controls (``hide=`` of a link); returns warnings for names that are no control."""
        hidden, warnings = hidden_names(self.Settings, names, self.control_names())
        self.state.hidden = tuple(dict.fromkeys(self.state.hidden + hidden))
        self.show_controls()
        return warnings

    def show_controls(self) -> None:
        """Shows each control unless it is hidden or not relevant to the current settings (each has its own
        Layout: hiding one never hides another)."""
        for name, widget in self.controls.items():
            shown = name not in self.state.hidden and self.relevant(name)
            widget.layout.display = None if shown else "none"

    def open_panel(self, key: str, settings: Optional[Settings] = None, /, **overrides):
        """Opens panel ``key`` of the dashboard this panel is in, at ``settings`` (with ``overrides``; e.g. a click
        here opens the lazy-training tab at that width and output scale); one run starts there.  RuntimeError
        outside a dashboard."""
        if self.opener is None:
            raise RuntimeError(f"{type(self).__name__} is not inside a Dashboard: there is no {key!r} tab to open")
        return self.opener(key, settings, **overrides)

    def link_query(self) -> str:
        """The query string that opens this panel at its current settings (hidden controls included)."""
        return build_query(self.key, self.settings, self.state.hidden)

    # ------------------------------------------------------------------------------------- running
    def run(self) -> int:
        """Starts a run at the current settings (stopping the one in flight); returns its run id."""
        self.activated = True
        settings = self.settings
        return self._runner.start(lambda ctx: self.job(ctx, settings), label=self.run_label)

    def activate(self) -> None:
        """First display (the dashboard calls it when the tab is first selected; showing the panel in a notebook
        calls it too): starts the first run."""
        if not self.activated:
            self.activated = True
            self.first_display()

    def first_display(self) -> None:
        self.run()

    def _draw_frame(self, frame) -> None:
        self.state.frame = frame
        self.draw(frame)

    def stop(self) -> None:
        self._runner.stop()

    def close(self, timeout: float = 30.0) -> None:
        """Stops the run in flight (waiting up to ``timeout`` s for it to end) and closes every widget of the panel
        (its front-end models go away); the panel cannot be shown again."""
        self._runner.stop()
        with contextlib.suppress(TimeoutError):
            self._runner.wait(timeout)
        for widget in widgets_under(self.widget):
            widget.close()

    def wait(self, timeout=None) -> str:
        """Blocks until the current run finished and its last frame is drawn; returns "done", "stopped",
        "diverged" or "error" (the error itself is in ``status`` and ``error``).  TimeoutError after timeout."""
        return self._runner.wait(timeout)

    @property
    def error(self):
        return self._runner.error

    @property
    def run_id(self) -> int:
        return self._runner.run_id

    @property
    def running(self) -> bool:
        return self._runner.running

    def set_guards(self, messages) -> None:
        self.warnings.value = guard_html(messages)

    # ------------------------------------------------------------------------------------- export
    def export_columns(self) -> dict:
        """name → 1-D array of the last frame's data (equal lengths), for CSV/JSON export."""
        return {} if self.frame is None else self.frame.columns()

    def to_csv(self) -> str:
        columns = self.export_columns()
        out = io.StringIO()
        writer = csv.writer(out)
        writer.writerow(list(columns))
        for row in zip(*(np.asarray(v).tolist() for v in columns.values())):
            writer.writerow(["" if isinstance(v, float) and math.isnan(v) else v for v in row])
        return out.getvalue()

    def to_json(self) -> str:
        columns = {k: [_json_number(x) for x in np.asarray(v).tolist()] for k, v in self.export_columns().items()}
        return json.dumps({"panel": self.key, "settings": self.settings.as_dict(), "link": "?" + self.link_query(),
                           "data": columns}, indent=1)

    def snippet_values(self) -> dict:
        """Values the ``snippet_body`` template needs besides ``s`` (none by default)."""
        return {}

    def snippet(self) -> str:
        """Python code that reproduces a run at the current settings with the public API: the settings literal
        (derived from the settings class) followed by the panel's ``snippet_body``."""
        cls = type(self.settings)
        body = self.snippet_body.format(**self.snippet_values())
        return (f"{self.snippet_imports}from {cls.__module__} import {cls.__name__}\n\n"
                f"{settings_literal(self.settings, prefix='s = ')}\n{body}")

    def figure_html(self) -> str:
        """The figure as a standalone HTML page (plotly.js from its CDN; PNG/SVG via the plotly toolbar)."""
        return go.Figure(self.figure).to_html(include_plotlyjs="cdn", full_html=True)

    def _export_box(self) -> W.Accordion:
        button = W.Button(description="Prepare downloads", icon="download", tooltip="figure HTML, CSV, JSON")
        links = W.HTML()
        code = W.Textarea(layout=W.Layout(width="100%", height="150px"))

        def prepare(_=None):
            try:
                links.value = " ".join([
                    _download_link(f"{self.key}_figure.html", "text/html", self.figure_html(), "figure.html"),
                    _download_link(f"{self.key}_run.csv", "text/csv", self.to_csv(), "run.csv"),
                    _download_link(f"{self.key}_run.json", "application/json", self.to_json(), "run.json")])
                code.value = self.snippet()
            except Exception as error:  # shown, not swallowed
                links.value = format_status("error", f"export failed: {error}")

        button.on_click(prepare)
        box = W.Accordion(children=[W.VBox([W.HTML("The figure as standalone HTML (PNG/SVG: use the camera icon "
                                                   "of the plot), the last run as CSV/JSON, and Python code that "
                                                   "reproduces it:"), button, links, code])])
        box.set_title(0, "Export")
        box.selected_index = None
        return box

    # ------------------------------------------------------------------------------------- layout
    def _assemble(self, control_rows, extra=()):
        controls = W.VBox(list(control_rows), layout=W.Layout(width="330px", flex="0 0 330px"))
        right = W.VBox([self.figure, *extra, equations_box(self.equations), self._export_box()],
                       layout=W.Layout(flex="1 1 auto", min_width="0"))
        widget = W.VBox([self.status, self.warnings, W.HBox([controls, right])])
        widget.add_class(f"ntk-panel-{self.key}")
        return widget

    def _repr_mimebundle_(self, **kwargs):
        self.activate()
        return self.widget._repr_mimebundle_(**kwargs)


def buttons(*specs) -> list:
    """Buttons from (description, icon, tooltip, primary) tuples."""
    return [W.Button(description=d, icon=i, tooltip=t, button_style="primary" if p else "") for d, i, t, p in specs]
