"""Experiments over many networks: width sweeps, ensembles over random initialisation and the infinite-width
Gaussian process they approach, the measurements the lessons plot (NTK error, two-layer linearization gap),
the lazy↔rich phase diagram over width and output scale, gradient and Hessian norms against width (linearity),
learning curves of trained networks (generalization) and the output blocks of vector-output NTKs against width
(vector_outputs)."""
from .config import ExperimentConfig
from .ensembles import EnsembleResult, GPPrediction, ensemble, gp_prediction
from .generalization import network_learning_curve
from .linearity import (HorizonSweep, LinearitySweep, hessian_spectral_norm, hessian_vector_product, horizon_sweep,
                        jacobian_norm, linearity_sweep)
from .measurements import SMOOTHNESS, NTKError, ntk_error, ntk_errors, two_layer_gaps
from .phase import (PHASE_DEFAULTS, PHASE_LR_FRACTION, PHASE_SCALES, PHASE_WIDTHS, PhaseStream, check_scales,
                    classification_accuracy, lazy_rich_phase, lazy_rich_phase_stream, phase_learning_rate)
from .phase_baseline import LazyBaseline, lazy_baseline
from .phase_lines import IsoLine, alpha_sqrt_width_isolines, grid_edges, isoline_levels
from .phase_result import (PHASE_MEASURE_LABELS, PHASE_MEASURES, PhaseCell, PhaseDiagram, PhaseRun, PhaseSettings,
                           PhaseSlopes, fit_phase_slopes)
from .sweeps import (SWEEP_METRICS, Slope, SweepRun, SweepStream, WidthSweep, fit_slope, loglog_slope, summarize_runs,
                     summarize_sweep, width_sweep, width_sweep_stream)
from .vector_outputs import PSEUDO_METRICS, PseudoNTKSweep, kernel_regression_predictions, pseudo_ntk_sweep

__all__ = ["ExperimentConfig", "width_sweep", "width_sweep_stream", "SweepRun", "SweepStream", "summarize_sweep",
           "summarize_runs", "WidthSweep", "Slope", "fit_slope", "loglog_slope", "SWEEP_METRICS", "ensemble",
           "EnsembleResult", "gp_prediction", "GPPrediction", "SMOOTHNESS", "NTKError", "ntk_error", "ntk_errors",
           "two_layer_gaps", "lazy_rich_phase", "lazy_rich_phase_stream", "PhaseStream", "PhaseDiagram", "PhaseCell",
           "PhaseRun", "PhaseSettings", "PhaseSlopes", "fit_phase_slopes", "PHASE_MEASURES", "PHASE_MEASURE_LABELS",
           "PHASE_DEFAULTS", "check_scales", "classification_accuracy", "phase_learning_rate", "PHASE_LR_FRACTION",
           "PHASE_WIDTHS", "PHASE_SCALES", "jacobian_norm", "hessian_vector_product", "hessian_spectral_norm",
           "linearity_sweep", "LinearitySweep", "horizon_sweep", "HorizonSweep", "network_learning_curve",
           "pseudo_ntk_sweep", "PseudoNTKSweep", "PSEUDO_METRICS", "kernel_regression_predictions", "IsoLine",
           "alpha_sqrt_width_isolines", "grid_edges", "isoline_levels", "LazyBaseline", "lazy_baseline"]
