"""Standalone Voilà with the bundle route: what ``ntk-explorer dashboard`` runs (``python -m
ntk_explorer_server.voila_app <voila arguments>``).  Standalone Voilà builds its own tornado application and
loads no Jupyter server extensions, so the route is added here, ahead of Voilà's catch-all notebook handler."""
from __future__ import annotations

import sys

from voila.app import Voila

from .handlers import bundle_handlers

__all__ = ["DashboardVoila", "main"]


class DashboardVoila(Voila):
    """Voilà plus the route serving plotly's widget bundle (:data:`ntk_explorer_server.BUNDLE_ROUTE`)."""

    name = "voila"  # the same configuration files and environment as the plain `voila` command

    def init_handlers(self) -> list:
        return bundle_handlers(self.server_url) + super().init_handlers()


def main(argv=None) -> int:
    DashboardVoila.launch_instance(argv)
    return 0


if __name__ == "__main__":
    sys.exit(main())
