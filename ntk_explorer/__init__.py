"""ntk_explorer: watch a PyTorch MLP and its linearization train side by side.

The core (everything re-exported here) imports only torch, numpy and scipy; widgets live in
``ntk_explorer.widgets`` and are imported on demand.
"""
from ._version import __version__
from .analytic import AnalyticKernels, analytic_kernels
from .kernels import empirical_ntk
from .models import MLP, MLPConfig

__all__ = ["__version__", "MLP", "MLPConfig", "empirical_ntk", "analytic_kernels", "AnalyticKernels"]
