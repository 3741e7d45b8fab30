"""The server side of ntk_explorer's front ends: plotly's widget bundle as one cacheable static file.

plotly's ``FigureWidget`` carries its whole JavaScript bundle (plotly.js and the widget, ~5 MB) as the anywidget
``_esm`` of *every* figure, so a page of ten figures received ~50 MB over the kernel websocket.  The figures of
ntk_explorer (``ntk_explorer.widgets.figure``) carry a module of a few hundred bytes instead, which imports the
bundle from the route :data:`BUNDLE_ROUTE` of the page's own Jupyter server; the browser fetches it once per page
over HTTP and keeps it in its cache.  This package serves that route:

- in a Jupyter server (JupyterLab, ``jupyter server`` with Voilà's server extension, Binder, JupyterHub) through
  the server extension declared here, enabled by the ``jupyter_server_config.d/ntk_explorer_server.json`` file the
  package installs;
- in standalone Voilà through :mod:`ntk_explorer_server.voila_app`, the Voilà application ``ntk-explorer
  dashboard`` runs.

This is a separate top-level package so that a Jupyter server loading it does not import ``ntk_explorer`` (and
with it torch).  Nothing here imports tornado, Voilà or plotly at import time.
"""
from __future__ import annotations

import importlib.metadata
import importlib.util
from pathlib import Path

__all__ = ["BUNDLE_ROUTE", "BUNDLE_NAME", "bundle_directory", "bundle_path", "bundle_query", "plotly_version"]

BUNDLE_NAME = "widgetbundle.js"
BUNDLE_ROUTE = "ntk-explorer/plotly/" + BUNDLE_NAME  # relative to the server's base URL


def plotly_version() -> str:
    """The installed plotly's version (part of the bundle's URL: a new plotly is a new URL, never a stale cache)."""
    return importlib.metadata.version("plotly")


def bundle_directory() -> Path:
    """plotly's ``package_data`` folder, found without importing plotly (a Jupyter server need not load it)."""
    spec = importlib.util.find_spec("plotly")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("plotly is not installed: pip install 'plotly>=7.1,<8'")
    return Path(list(spec.submodule_search_locations)[0]) / "package_data"


def bundle_path() -> Path:
    """The installed plotly's FigureWidget bundle (an ES module whose default export is the widget's factory).
    The file name is plotly's own layout, hence the pinned plotly range; tests/test_frontends.py checks that
    plotly's FigureWidget still loads exactly this file."""
    path = bundle_directory() / BUNDLE_NAME
    if not path.is_file():
        raise RuntimeError(f"plotly {plotly_version()} has no {path}: ntk_explorer needs plotly>=7.1,<8")
    return path


def bundle_query() -> str:
    """``v=<plotly version>``: the query that makes the response cacheable for a year (see handlers)."""
    return f"v={plotly_version()}"


def _jupyter_server_extension_points():
    """Jupyter server's discovery hook: this package is a server extension."""
    return [{"module": "ntk_explorer_server"}]


def _load_jupyter_server_extension(serverapp) -> None:
    """Jupyter server's loading hook: adds the bundle route under the server's base URL."""
    from .handlers import bundle_handlers
    serverapp.web_app.add_handlers(".*$", bundle_handlers(serverapp.base_url))
    serverapp.log.info("ntk_explorer: serving plotly's widget bundle at %s%s", serverapp.base_url, BUNDLE_ROUTE)
