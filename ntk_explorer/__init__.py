"""ntk_explorer: watch a PyTorch MLP and its linearization train side by side.

The core re-exported here imports only torch, numpy and scipy (and tqdm for progress bars); the panels live in
``ntk_explorer.widgets`` and are imported on demand. Conventions: loss L = (1/N) Σ ½‖f(x_i) − y_i‖², gradient
descent θ ← θ − lr·∇L, so f^lin evolves as f ← f − (lr/N)·Θ_0(·, X)(f(X) − Y).
"""
from . import data, memory, spectra
from ._version import __version__
from .dynamics import (CriticalLearningRates, Snapshot, Trajectory, critical_learning_rates, gd_mse_predictor, train,
                       train_stream)
from .experiments import (PHASE_MEASURES, EnsembleResult, ExperimentConfig, GPPrediction, PhaseCell, PhaseDiagram,
                          SweepRun, SweepStream, WidthSweep, ensemble, gp_prediction, lazy_rich_phase,
                          lazy_rich_phase_stream, summarize_runs, summarize_sweep, width_sweep, width_sweep_stream)
from .kernels import AnalyticKernels, analytic_kernels, empirical_ntk, linearize
from .models import MLP, MLPConfig

__all__ = [
    "__version__", "MLP", "MLPConfig", "empirical_ntk", "analytic_kernels", "AnalyticKernels", "linearize",
    "train_stream", "train", "Snapshot", "Trajectory", "gd_mse_predictor", "critical_learning_rates",
    "CriticalLearningRates", "width_sweep", "width_sweep_stream", "SweepRun", "SweepStream", "summarize_sweep",
    "summarize_runs", "WidthSweep", "ensemble", "EnsembleResult", "gp_prediction",
    "GPPrediction", "ExperimentConfig", "data", "spectra", "memory", "lazy_rich_phase", "lazy_rich_phase_stream",
    "PhaseDiagram", "PhaseCell", "PHASE_MEASURES",
]
