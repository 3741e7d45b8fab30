"""Experiments over many networks: width sweeps, ensembles over random initialisation and the infinite-width
Gaussian process they approach."""
from .config import ExperimentConfig
from .ensembles import EnsembleResult, GPPrediction, ensemble, gp_prediction
from .sweeps import (SWEEP_METRICS, Slope, SweepRun, SweepStream, WidthSweep, fit_slope, summarize_runs,
                     summarize_sweep, width_sweep, width_sweep_stream)

__all__ = ["ExperimentConfig", "width_sweep", "width_sweep_stream", "SweepRun", "SweepStream", "summarize_sweep",
           "summarize_runs", "WidthSweep", "Slope", "fit_slope", "SWEEP_METRICS", "ensemble", "EnsembleResult",
           "gp_prediction", "GPPrediction"]
