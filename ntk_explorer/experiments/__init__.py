"""Experiments over many networks: width sweeps, ensembles over random initialisation and the infinite-width
Gaussian process they approach, and the measurements the lessons plot (NTK error, two-layer linearization gap)."""
from .config import ExperimentConfig
from .ensembles import EnsembleResult, GPPrediction, ensemble, gp_prediction
from .measurements import SMOOTHNESS, NTKError, ntk_error, ntk_errors, two_layer_gaps
from .sweeps import (SWEEP_METRICS, Slope, SweepRun, SweepStream, WidthSweep, fit_slope, loglog_slope, summarize_runs,
                     summarize_sweep, width_sweep, width_sweep_stream)

__all__ = ["ExperimentConfig", "width_sweep", "width_sweep_stream", "SweepRun", "SweepStream", "summarize_sweep",
           "summarize_runs", "WidthSweep", "Slope", "fit_slope", "loglog_slope", "SWEEP_METRICS", "ensemble",
           "EnsembleResult", "gp_prediction", "GPPrediction", "SMOOTHNESS", "NTKError", "ntk_error", "ntk_errors",
           "two_layer_gaps"]
