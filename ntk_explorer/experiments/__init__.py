"""Experiments over many networks: width sweeps, ensembles over random initialisation and the infinite-width
Gaussian process they approach."""
from .config import ExperimentConfig
from .ensembles import EnsembleResult, GPPrediction, ensemble, gp_prediction
from .sweeps import SWEEP_METRICS, Slope, WidthSweep, fit_slope, width_sweep

__all__ = ["ExperimentConfig", "width_sweep", "WidthSweep", "Slope", "fit_slope", "SWEEP_METRICS", "ensemble",
           "EnsembleResult", "gp_prediction", "GPPrediction"]
