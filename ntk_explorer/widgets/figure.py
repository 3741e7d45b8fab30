"""How the panels make their plotly FigureWidgets: the one place that knows about FigureWidget internals.

Every panel builds its figures with :func:`figure_widget`, which returns a :class:`ServedFigureWidget`: plotly's
FigureWidget, with its update API unchanged (``batch_update``, assigning trace data, ``on_click``), except for four
things that make pages light and correct:

- **plotly.js once per page, over HTTP.**  plotly's FigureWidget sends its whole bundle (plotly.js and the widget,
  ~5 MB) as the anywidget ``_esm`` of every figure, over the kernel websocket.  Here ``_esm`` is :data:`LOADER_ESM`,
  a small module that imports the bundle from the page's own Jupyter server (route
  ``ntk_explorer_server.BUNDLE_ROUTE`` under the page's base URL, served from the installed plotly) and hands each
  figure its own plotly widget from the bundle's default export, a factory.  The browser fetches the bundle once
  per page (one module per URL) and caches it across pages.
- **A figure keeps updating on a busy page.**  anywidget drops every later message of a model whose module and
  ``initialize()`` took more than two seconds (anywidget 0.9–0.11), and evaluating plotly.js on a loaded machine
  can take longer: then the figure never changed again, while the rest of the page did.  The loader therefore
  returns at once and lets plotly initialize when the bundle arrives; it then asks the figure for its current
  state (:data:`SYNC_MESSAGE`, answered with one state message carrying :data:`SYNC_TRAIT`) before drawing.
- **A bounded backlog on a slow page.**  Each view reports every finished drawing (plotly's ``plotly_afterplot`` event,
  sent as :data:`DRAWN_MESSAGE`); :meth:`ServedFigureWidget.ready_for_frame` holds a run's next frame back while
  the page still has ``FRAMES_IN_FLIGHT`` (8) to draw, so a page that draws slower than the run computes (a slow
  laptop) stays at most 8 frames behind instead of replaying a growing queue of old states long after the run.
- **A view created after drawing starts from the current figure.**  plotly sends edits as one-shot messages and
  syncs its initial-state traits only when a figure is built, so a page that connects later (Voilà connects after
  the notebook ran, always so with a pre-started kernel; a reloaded page) would show the figure as built.
  :meth:`ServedFigureWidget.get_state` (ipywidgets' public hook, called whenever a front end asks for the widget's
  state) answers with the figure's current traces and layout, read through plotly's public ``to_plotly_json``.
"""
from __future__ import annotations

import json
import time

import plotly.graph_objects as go
import traitlets
from ntk_explorer_server import BUNDLE_ROUTE, bundle_query

__all__ = ["FIGURE_WIDTH", "LOADER_ESM", "SYNC_MESSAGE", "SYNC_TRAIT", "DRAWN_MESSAGE", "ServedFigureWidget",
           "figure_widget", "sync_view_state", "bundle_url_path"]

FIGURE_WIDTH = 445  # two figures side by side next to the controls fit a 1280-pixel-wide window

# plotly's names for the traits its JavaScript model starts a view from (plotly/basewidget.py; the bundle reads
# them with model.get).  The only plotly-specific names used here; tests/test_frontends.py fails loudly when a
# plotly release renames them.
VIEW_STATE_TRAITS = {"data": "_widget_data", "layout": "_widget_layout"}


def bundle_url_path() -> str:
    """The bundle's URL relative to the page's base URL, with the plotly version that makes it cacheable."""
    return f"{BUNDLE_ROUTE}?{bundle_query()}"


_LOADER_TEMPLATE = """\
// ntk_explorer: plotly's FigureWidget, with plotly.js fetched once per page from the Jupyter server (not sent
// over the kernel websocket with every figure).
//
// anywidget gives a widget's module and initialize() two seconds; a model not ready by then drops every later
// message from Python, so a figure whose page is busy (several pages on one machine, a slow laptop) would never
// update.  Evaluating the 5 MB bundle can take longer, so this module and initialize() return at once: the
// bundle is imported in the background, plotly's own initialize() runs when it arrives, then the figure's
// current state is asked for again (the messages of the wait went to no plotly model) and only then is the
// view drawn.
const ROUTE = %(route)s;
const SYNC = %(sync)s;
const DRAWN = %(drawn)s;
const element = document.getElementById("jupyter-config-data");
const baseUrl = element ? JSON.parse(element.textContent).baseUrl : undefined;
if (!baseUrl) {
  throw new Error("ntk_explorer: this page has no Jupyter base URL (jupyter-config-data), so plotly's widget "
                  + "bundle cannot be located; open the notebook in JupyterLab or Voila");
}
const url = new URL(baseUrl.replace(/\\/?$/, "/") + ROUTE, window.location.href).href;
const bundle = import(url).catch((error) => {
  throw new Error(`ntk_explorer: could not load plotly's widget bundle from ${url} (${error}). Serve the page `
                  + "with `ntk-explorer dashboard`, or enable the server extension: "
                  + "`jupyter server extension enable ntk_explorer_server`");
});
bundle.catch(() => {});  // reported by render()

function resync(model) {
  // Asks Python for the figure's current state; resolves when it has been set (or after 10 s without a reply).
  return new Promise((resolve) => {
    const timer = setTimeout(resolve, 10000);
    model.on(`change:${SYNC.trait}`, () => { clearTimeout(timer); resolve(); });
    model.send({type: SYNC.message});
  });
}

function reportDrawings({el, model}) {
  // Tells Python each time this view has finished drawing (plotly_afterplot), so that a run never gets more than
  // a few frames ahead of what a slow page has drawn (it shows recent states, not a growing queue of old ones).
  const attach = () => {
    const gd = el.classList.contains("js-plotly-plot") ? el : el.querySelector(".js-plotly-plot");
    if (!gd || typeof gd.on !== "function") return false;
    gd.on("plotly_afterplot", () => model.send({type: DRAWN}));
    return true;
  };
  if (attach()) return;
  const observer = new MutationObserver(() => { if (attach()) observer.disconnect(); });
  observer.observe(el, {childList: true, subtree: true, attributes: true, attributeFilter: ["class"]});
}

export default () => {
  let ready = null;  // plotly's widget for this figure, initialized and holding the current state
  return {
    initialize(context) {
      ready = bundle.then(async (module) => {
        const plotly = module.default();  // a factory: one state per figure
        await plotly.initialize(context);
        await resync(context.model);
        return plotly;
      });
      ready.catch(() => {});
    },
    async render(context) {
      const plotly = await ready;
      const cleanup = plotly.render(context);
      reportDrawings(context);
      return cleanup;
    },
  };
};
"""


# The resync handshake of the loader: the front end sends {"type": SYNC_MESSAGE}; the figure answers with one state
# message holding its current data and layout and a new value of the counter SYNC_TRAIT.
SYNC_MESSAGE = "ntk_explorer.resync"
SYNC_TRAIT = "_ntk_resync"
# Sent by every view of a figure each time it has finished drawing (see ServedFigureWidget.ready_for_frame).
DRAWN_MESSAGE = "ntk_explorer.drawn"


def _loader_esm() -> str:
    return _LOADER_TEMPLATE % {"route": json.dumps(bundle_url_path()),
                               "sync": json.dumps({"message": SYNC_MESSAGE, "trait": SYNC_TRAIT}),
                               "drawn": json.dumps(DRAWN_MESSAGE)}


LOADER_ESM = _loader_esm()


class ServedFigureWidget(go.FigureWidget):
    """plotly's FigureWidget whose plotly.js comes from the server over HTTP (see the module docstring)."""

    _esm = LOADER_ESM  # anywidget's module of the widget (anywidget's public API for a widget's front end)
    _ntk_resync = traitlets.Int(0)  # SYNC_TRAIT: sent only in answer to the loader's resync request
    FRAMES_IN_FLIGHT = 8  # frames a run may have sent that the page has not drawn yet (see ready_for_frame)

    def __init__(self, *args, **kwargs):
        self._built = False  # the widget's comm opens (and reads the state) before plotly has set the figure up
        super().__init__(*args, **kwargs)
        self._built = True
        self._drawings = 0  # DRAWN_MESSAGEs received from the views of this figure (plotly refuses new public names)
        self._in_flight = 0  # frames sent that no view has reported drawn yet (at most FRAMES_IN_FLIGHT)
        self._window_full_since = None  # when FRAMES_IN_FLIGHT frames were last found undrawn
        self.on_msg(self._answer_view)

    def _answer_view(self, _widget, content, _buffers) -> None:
        """Messages of the loader.  ``{"type": SYNC_MESSAGE}`` (sent once plotly's model exists in the page): one
        state message with the current data and layout (see :meth:`get_state`) and a new ``SYNC_TRAIT``.
        ``{"type": DRAWN_MESSAGE}``: a view has finished drawing one more frame."""
        kind = content.get("type") if isinstance(content, dict) else None
        if kind == SYNC_MESSAGE:
            self._ntk_resync += 1
            self.send_state([*VIEW_STATE_TRAITS.values(), SYNC_TRAIT])
        elif kind == DRAWN_MESSAGE:
            self._drawings += 1
            self._in_flight = max(0, self._in_flight - 1)
            self._window_full_since = None

    @property
    def drawings_reported(self) -> int:
        """How many finished drawings the views of this figure have reported (:data:`DRAWN_MESSAGE`)."""
        return self._drawings

    def frame_sent(self) -> None:
        """Records that a frame has just been sent to the views (called after each drawn frame's batch_update);
        frames sent before any view reported a drawing are not counted (no page was there to draw them)."""
        if self._drawings == 0:
            return
        self._in_flight = min(self._in_flight + 1, self.FRAMES_IN_FLIGHT)
        if self._in_flight == self.FRAMES_IN_FLIGHT and self._window_full_since is None:
            self._window_full_since = time.monotonic()

    def ready_for_frame(self, patience: float = 1.0) -> bool:
        """Whether a run may send its next frame now: no view has ever reported a drawing (no page, or a front end
        without the loader: nothing to wait for), fewer than ``FRAMES_IN_FLIGHT`` frames sent are still undrawn (the
        page never idles between frames, and never falls further behind), or the page
        has reported nothing for ``patience`` seconds (a closed view, or frames that changed nothing)."""
        full_since = self._window_full_since  # read once: a view's report (main thread) may clear it meanwhile
        if self._in_flight < self.FRAMES_IN_FLIGHT or full_since is None:  # never full before a view reported
            return True
        return time.monotonic() - full_since > patience

    def get_state(self, key=None, drop_defaults=False):
        """ipywidgets' state of this widget, with the initial-view traits replaced by the current figure."""
        state = super().get_state(key, drop_defaults=drop_defaults)
        if not self._built:
            return state
        current = {"data": [trace.to_plotly_json() for trace in self.data], "layout": self.layout.to_plotly_json()}
        for part, trait in VIEW_STATE_TRAITS.items():
            if trait in state:
                to_json = self.trait_metadata(trait, "to_json")
                state[trait] = to_json(current[part], self)
        return state


def figure_widget(fig: go.Figure, width: int = FIGURE_WIDTH) -> ServedFigureWidget:
    """A :class:`ServedFigureWidget` of a fixed width (autosize measures the container before it is laid out,
    too small)."""
    fig.update_layout(width=width, autosize=False)
    return ServedFigureWidget(fig)


def sync_view_state(fig) -> None:
    """Nothing left to do for figures made by :func:`figure_widget`: their state is read fresh whenever a view
    asks (``ServedFigureWidget.get_state``).  Kept so that callers written before that keep working; it refuses
    other figures, whose later views would silently start from the figure as built."""
    if not isinstance(fig, ServedFigureWidget):
        raise TypeError(f"expected a figure made by ntk_explorer.widgets.figure.figure_widget, got "
                        f"{type(fig).__name__}: only those hand a new view their current data")
