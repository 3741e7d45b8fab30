"""Experiments over many networks: width sweeps, ensembles over random initialisation and the infinite-width
Gaussian process they approach, gradient and Hessian norms against width (linearity), learning curves of trained
networks (generalization) and the output blocks of vector-output NTKs against width (vector_outputs)."""
from .config import ExperimentConfig
from .ensembles import EnsembleResult, GPPrediction, ensemble, gp_prediction
from .generalization import network_learning_curve
from .linearity import (HorizonSweep, LinearitySweep, hessian_spectral_norm, hessian_vector_product, horizon_sweep,
                        jacobian_norm, linearity_sweep)
from .sweeps import SWEEP_METRICS, Slope, WidthSweep, fit_slope, width_sweep
from .vector_outputs import PSEUDO_METRICS, PseudoNTKSweep, kernel_regression_predictions, pseudo_ntk_sweep

__all__ = ["ExperimentConfig", "width_sweep", "WidthSweep", "Slope", "fit_slope", "SWEEP_METRICS", "ensemble",
           "EnsembleResult", "gp_prediction", "GPPrediction", "jacobian_norm", "hessian_vector_product",
           "hessian_spectral_norm", "linearity_sweep", "LinearitySweep", "horizon_sweep", "HorizonSweep",
           "network_learning_curve", "pseudo_ntk_sweep", "PseudoNTKSweep", "PSEUDO_METRICS",
           "kernel_regression_predictions"]
