"""The tornado handler behind :data:`ntk_explorer_server.BUNDLE_ROUTE`: one file, plotly's widget bundle."""
from __future__ import annotations

import re

import tornado.web
from jupyter_server.utils import url_path_join

from . import BUNDLE_NAME, BUNDLE_ROUTE, bundle_directory, plotly_version

__all__ = ["PlotlyBundleHandler", "bundle_handlers", "CACHE_SECONDS"]

CACHE_SECONDS = 365 * 24 * 3600


class PlotlyBundleHandler(tornado.web.StaticFileHandler):
    """Serves plotly's ``widgetbundle.js`` from the installed plotly and nothing else (the route's pattern admits
    only that name).  With ``?v=<installed plotly version>`` the response may be cached for a year (the URL
    changes with plotly's version); any other request gets a revalidating response (ETag, Last-Modified).
    The file is public library code, so the route needs no login, like JupyterLab's own static files."""

    def get_cache_time(self, path, modified, mime_type) -> int:
        return CACHE_SECONDS if self.get_query_argument("v", None) == plotly_version() else 0

    def get_content_type(self) -> str:
        return "text/javascript; charset=utf-8"

    def set_extra_headers(self, path) -> None:
        self.set_header("X-Content-Type-Options", "nosniff")


def bundle_handlers(base_url: str) -> list:
    """The (pattern, handler, options) rows to add to a tornado application served under ``base_url``."""
    pattern = url_path_join(base_url, re.escape(BUNDLE_ROUTE.rsplit("/", 1)[0]), f"({re.escape(BUNDLE_NAME)})")
    return [(pattern, PlotlyBundleHandler, {"path": str(bundle_directory())})]
