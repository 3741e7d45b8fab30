"""The dashboard: the registered panels as tabs (``registry.PANELS``), initial state from the URL query string, a
shareable link, and a way for one panel to open another at given settings."""
from __future__ import annotations

import html
import os

import ipywidgets as W

from .._version import __version__
from .panel import guard_html
from .registry import PANELS
from .state import DashboardState, page_pending, read_query_string

__all__ = ["Dashboard"]

_CSS = """<style>
.ntk-dashboard .widget-label, .ntk-dashboard .widget-readout { font-size: 13px; }
.ntk-dashboard :focus-visible { outline: 3px solid #0072B2 !important; outline-offset: 1px; }
.ntk-dashboard .ntk-table td, .ntk-dashboard .ntk-table th { padding: 1px 6px; text-align: right; }
</style>"""


def _env_threads():
    """NTK_EXPLORER_TORCH_THREADS as a positive int, or None when unset or malformed."""
    text = os.environ.get("NTK_EXPLORER_TORCH_THREADS", "").strip()
    return int(text) if text.isdigit() and int(text) > 0 else None


def _notice_html(warnings) -> str:
    """The dashboard's notice: what a link got wrong (escaped), one line each."""
    return guard_html([f"Link: {w}" for w in warnings])


class Dashboard:
    """All panels of ``panels`` (a :class:`~ntk_explorer.widgets.registry.PanelRegistry`, default ``PANELS``) as
    tabs.  ``query_string``: e.g. "panel=lazy&width=1024&lr=0.5" (None: read it from Voilà or the QUERY_STRING
    environment variable).  ``torch_threads``: ``torch.set_num_threads`` for this kernel; None: the environment
    variable NTK_EXPLORER_TORCH_THREADS if set (``ntk-explorer dashboard`` sets it, and OMP_NUM_THREADS, to its
    ``--torch-threads``, default 1: many kernels share few cores), else unchanged.  The header shows the number of
    threads torch uses.  Display it as the last expression of a cell.  ``state`` (a DashboardState) is what the
    tabs show; ``panels`` maps a key to its panel once built; ``notice`` shows warnings about the link.

    In a kernel Voilà starts ahead of its page (``ntk-explorer dashboard``'s pool), the dashboard is built and its
    first tab's first run started at the default settings before the page's link is known; the link is then
    applied with :meth:`open_link` (nothing to redo for a plain link), so a page opens without waiting for the
    panel to be built."""

    def __init__(self, query_string=None, torch_threads=None, *, panels=None):
        import torch
        if torch_threads is None:
            torch_threads = _env_threads()
        if torch_threads is not None:
            torch.set_num_threads(int(torch_threads))
        self.torch_threads = torch.get_num_threads()
        self.registry = PANELS if panels is None else panels
        ahead = query_string is None and page_pending()
        if query_string is None:
            query_string = "" if ahead else read_query_string()
        self.state = DashboardState.from_query(query_string, self.registry)
        self.panels = {}  # built on first display of their tab (keeps page load short)
        self._slots = {key: W.Box(layout=W.Layout(width="100%")) for key in self.registry}
        panel = self.panel(self.selected)
        self.notice = W.HTML(_notice_html(self.state.warnings))
        self.link_button = W.Button(description="Copy link", icon="link",
                                    tooltip="show a link that reproduces the current settings")
        self.link = W.Text(placeholder="press Copy link", layout=W.Layout(width="60%"))
        self.link_anchor = W.HTML()
        self.link_button.on_click(lambda _: self.update_link())
        keys = list(self.registry)
        self.tabs = W.Tab(children=[self._slots[k] for k in keys], titles=[self.registry[k].title for k in keys])
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
        if ahead:
            self.open_link(read_query_string())  # waits for the page

    @property
    def selected(self) -> str:
        """The key of the selected tab."""
        return self.state.selected

    @property
    def warnings(self) -> list:
        return self.state.warnings

    def panel(self, key: str):
        """The panel of tab ``key`` (built on first use, at the settings a link or :meth:`show` asked for)."""
        if key not in self.panels:
            panel = self.registry.create(key, self.state.settings.pop(key, None))
            panel.hide(self.state.hidden.get(key, ()))
            panel.opener = self.show
            self.panels[key] = panel
            self._slots[key].children = [panel.widget]
        return self.panels[key]

    def show(self, key: str, settings=None, /, *, run=None, **overrides):
        """Selects tab ``key`` with its panel at ``settings`` (and ``overrides``), starting one run: the first
        display's run for a panel not shown yet, else what a control change starts (``run=None``), the full
        run (``run=True``) or none (``run=False``).  Another panel opens a tab this way (``panel.open_panel``)."""
        panel = self.panel(key)
        shown = panel.activated
        if settings is not None or overrides:
            panel.apply(settings, run=False, **overrides)
        if run:
            panel.activated = True  # no first-display run: the full run below is the one run
        self.tabs.selected_index = list(self.registry).index(key)
        self.state.select(key)
        if run:
            panel.run()
        elif run is None and shown and (settings is not None or overrides):
            panel.settings_changed()
        return panel

    def open_link(self, query_string: str) -> None:
        """Shows what the link ``query_string`` asks for, as ``Dashboard(query_string)`` would: its tab, at its
        settings, with its hidden controls and its warnings, and that panel's first run.  A panel already built
        at other settings or hiding other controls is closed and built again; one built as the link asks is kept
        as it is (its run goes on)."""
        state = DashboardState.from_query(query_string, self.registry)
        key = state.selected
        built = self.panels.get(key)
        if built is not None:
            if (state.settings[key], state.hidden.get(key, ())) == (built.settings, built.state.hidden):
                del state.settings[key]  # nothing for self.panel to apply
            else:
                built.close()
                del self.panels[key]
        self.state = state
        self.notice.value = _notice_html(state.warnings)
        panel = self.panel(key)
        self.tabs.selected_index = list(self.registry).index(key)
        panel.activate()

    def _on_tab(self, change):
        if change["new"] is not None:
            key = list(self.registry)[change["new"]]
            self.state.select(key)
            self.panel(key).activate()

    def link_query(self) -> str:
        """The query string ("panel=…&…") for the current tab, its settings and its hidden controls."""
        return self.panel(self.selected).link_query()

    def update_link(self) -> str:
        query = "?" + self.link_query()
        self.link.value = query
        self.link_anchor.value = (f'<a href="{html.escape(query)}" target="_blank" rel="noopener">open this '
                                  f"link</a> (right-click → copy link address)")
        return query

    def _repr_mimebundle_(self, **kwargs):
        return self.widget._repr_mimebundle_(**kwargs)
