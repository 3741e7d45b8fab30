"""Interactive panels and the dashboard (ipywidgets + plotly FigureWidget); imported only on demand, never by
``import ntk_explorer``.

Each panel has a frozen settings dataclass (``LazySettings``, ``WidthSettings``, ``InfiniteSettings``,
``LearnabilitySettings``, ``SpectralSettings``), builds at given settings (``LazyTrainingPanel(width=1024)`` or
``LazyTrainingPanel(LazySettings(...))``), reports them (``panel.settings``) and moves to new ones in one run
(``panel.apply(settings)``); it shows one FigureWidget (``panel.figure``), a status line (``status``) and its
controls (``controls``: field name → widget), and has ``run()``, ``stop()`` and ``wait(timeout)``.  Training runs in
a worker thread, so the notebook kernel is never blocked; see ``runner`` for the rules on frames and
cancellation.  ``Dashboard()`` shows the panels of the registry ``PANELS`` as tabs (see CONTRIBUTING.md to add one).
"""
from .dashboard import Dashboard
from .infinite import InfiniteSettings, InfiniteWidthPanel
from .lazy import LazySettings, LazyTrainingPanel
from .learnability import LearnabilityPanel, LearnabilitySettings
from .panel import Panel
from .phase import LazyRichPanel, LazyRichSettings
from .registry import PANELS, PanelRegistry
from .settings import Settings, setting
from .spectral import SpectralBiasPanel, SpectralSettings
from .width import WidthScalingPanel, WidthSettings

__all__ = ["Dashboard", "PANELS", "PanelRegistry", "Panel", "Settings", "setting", "LazyTrainingPanel",
           "LazySettings", "WidthScalingPanel", "WidthSettings", "InfiniteWidthPanel", "InfiniteSettings",
           "LearnabilityPanel", "LearnabilitySettings", "SpectralBiasPanel", "SpectralSettings",
           "LazyRichPanel", "LazyRichSettings"]
