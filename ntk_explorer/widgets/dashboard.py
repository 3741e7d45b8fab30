"""The dashboard: the five panels as tabs, initial state from the URL query string, and a shareable link."""
from __future__ import annotations

import html
import os

import ipywidgets as W

from .._version import __version__
from .panel import guard_html
from .registry import PANELS
from .state import apply_params, build_query, hide_controls, parse_query_string, read_query_string

__all__ = ["Dashboard", "PANELS"]

_CSS = """<style>
.ntk-dashboard .widget-label, .ntk-dashboard .widget-readout { font-size: 13px; }
.ntk-dashboard :focus-visible { outline: 3px solid #0072B2 !important; outline-offset: 1px; }
.ntk-dashboard .ntk-table td, .ntk-dashboard .ntk-table th { padding: 1px 6px; text-align: right; }
</style>"""


def _env_threads():
    """NTK_EXPLORER_TORCH_THREADS as a positive int, or None when unset or malformed."""
    text = os.environ.get("NTK_EXPLORER_TORCH_THREADS", "").strip()
    return int(text) if text.isdigit() and int(text) > 0 else None


def _validators(panel):
    if "target" not in panel.controls:
        return None
    from ..data import parse_target
    return {"target": parse_target}


class Dashboard:
    """All panels as tabs.  ``query_string``: e.g. "panel=lazy&width=1024&lr=0.5" (None: read it from Voilà or
    the QUERY_STRING environment variable).  ``torch_threads``: ``torch.set_num_threads`` for this kernel; None:
    the environment variable NTK_EXPLORER_TORCH_THREADS if set (``ntk-explorer dashboard`` sets it, and
    OMP_NUM_THREADS, to its ``--torch-threads``, default 1: many kernels share few cores), else unchanged.  The
    header shows the number of threads torch uses.  Display it as the last expression of a cell; ``panels``
    maps a key to its panel, ``notice`` shows warnings about ignored link parameters."""

    def __init__(self, query_string=None, torch_threads=None):
        import torch
        if torch_threads is None:
            torch_threads = _env_threads()
        if torch_threads is not None:
            torch.set_num_threads(int(torch_threads))
        self.torch_threads = torch.get_num_threads()
        text = read_query_string() if query_string is None else query_string
        state = parse_query_string(text, panels=list(PANELS))
        self.query = state
        self.panels = {}  # built on first display of their tab (keeps page load short)
        self.selected = state.panel or "lazy"
        self._slots = {key: W.Box(layout=W.Layout(width="100%")) for key in PANELS}
        panel = self.panel(self.selected)
        warnings = list(state.warnings)
        with panel.hold_runs():
            warnings += apply_params(panel.controls, state.params, _validators(panel))
        warnings += hide_controls(panel.controls, state.hide)
        self.hidden = {self.selected: [h for h in state.hide if h in panel.controls]}
        self.warnings = warnings
        self.notice = W.HTML(guard_html([f"Link: {w}" for w in warnings]))
        self.link_button = W.Button(description="Copy link", icon="link",
                                    tooltip="show a link that reproduces the current settings")
        self.link = W.Text(placeholder="press Copy link", layout=W.Layout(width="60%"))
        self.link_anchor = W.HTML()
        self.link_button.on_click(lambda _: self.update_link())
        keys = list(PANELS)
        self.tabs = W.Tab(children=[self._slots[k] for k in keys])
        for i, key in enumerate(keys):
            self.tabs.set_title(i, PANELS[key].title)
        self.tabs.selected_index = keys.index(self.selected)
        self.tabs.observe(self._on_tab, names="selected_index")
        header = W.HTML(f'{_CSS}<div style="font-size:12px;color:#555">ntk_explorer v{__version__} · Neural '
                        f'Tangent Kernel lessons: lazy training, width scaling, infinite width, eigenlearning. '
                        f'Each tab has its equations and sources below its plots. <span class="ntk-threads" '
                        f'data-torch-threads="{self.torch_threads}">(torch threads in this kernel: '
                        f'{self.torch_threads})</span></div>')
        self.widget = W.VBox([header, self.notice, W.HBox([self.link_button, self.link, self.link_anchor]),
                              self.tabs])
        self.widget.add_class("ntk-dashboard")
        panel.activate()

    def panel(self, key: str):
        """The panel of tab ``key`` (built on first use)."""
        if key not in self.panels:
            cls = PANELS[key]
            self.panels[key] = panel = cls(preview=False) if key == "lazy" else cls()
            self._slots[key].children = [panel.widget]
        return self.panels[key]

    def _on_tab(self, change):
        if change["new"] is not None:
            self.selected = list(PANELS)[change["new"]]
            self.panel(self.selected).activate()

    def link_query(self) -> str:
        """The query string ("panel=…&…") for the current tab and its controls."""
        return build_query(self.selected, self.panel(self.selected).controls, self.hidden.get(self.selected, ()))

    def update_link(self) -> str:
        query = "?" + self.link_query()
        self.link.value = query
        self.link_anchor.value = (f'<a href="{html.escape(query)}" target="_blank" rel="noopener">open this '
                                  f"link</a> (right-click → copy link address)")
        return query

    def _repr_mimebundle_(self, **kwargs):
        return self.widget._repr_mimebundle_(**kwargs)

