"""Interactive panels and the dashboard (ipywidgets + plotly FigureWidget); imported only on demand, never by
``import ntk_explorer``.

Each panel exposes ``controls`` (query-string name → widget), ``figures`` (name → FigureWidget), ``status`` (the
status line), ``run()`` and ``wait(timeout)``; ``Dashboard()`` shows them as tabs.  Training runs in a worker
thread, so the notebook kernel is never blocked; see ``runner`` for the rules on frames and cancellation.
"""
from .dashboard import Dashboard
from .infinite import InfiniteWidthPanel
from .lazy import LazyTrainingPanel
from .learnability import LearnabilityPanel
from .registry import PANELS
from .spectral import SpectralBiasPanel
from .width import WidthScalingPanel

__all__ = ["Dashboard", "PANELS", "LazyTrainingPanel", "WidthScalingPanel", "InfiniteWidthPanel",
           "LearnabilityPanel", "SpectralBiasPanel"]
