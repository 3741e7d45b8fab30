"""Experiments over many networks: width sweeps, ensembles over random initialisation and the infinite-width
Gaussian process they approach, the measurements the lessons plot (NTK error, two-layer linearization gap), and
the lazy↔rich phase diagram over width and output scale."""
from .config import ExperimentConfig
from .ensembles import EnsembleResult, GPPrediction, ensemble, gp_prediction
from .measurements import SMOOTHNESS, NTKError, ntk_error, ntk_errors, two_layer_gaps
from .phase import (PHASE_DEFAULTS, PHASE_LR_FRACTION, PHASE_SCALES, PHASE_WIDTHS, PhaseStream, check_scales,
                    classification_accuracy, lazy_rich_phase, lazy_rich_phase_stream, phase_learning_rate)
from .phase_lines import IsoLine, alpha_sqrt_width_isolines, grid_edges, isoline_levels
from .phase_result import (PHASE_MEASURE_LABELS, PHASE_MEASURES, PhaseCell, PhaseDiagram, PhaseRun, PhaseSettings,
                           PhaseSlopes, fit_phase_slopes)
from .sweeps import (SWEEP_METRICS, Slope, SweepRun, SweepStream, WidthSweep, fit_slope, loglog_slope, summarize_runs,
                     summarize_sweep, width_sweep, width_sweep_stream)

__all__ = ["ExperimentConfig", "width_sweep", "width_sweep_stream", "SweepRun", "SweepStream", "summarize_sweep",
           "summarize_runs", "WidthSweep", "Slope", "fit_slope", "loglog_slope", "SWEEP_METRICS", "ensemble",
           "EnsembleResult", "gp_prediction", "GPPrediction", "SMOOTHNESS", "NTKError", "ntk_error", "ntk_errors",
           "two_layer_gaps", "lazy_rich_phase", "lazy_rich_phase_stream", "PhaseStream", "PhaseDiagram", "PhaseCell",
           "PhaseRun", "PhaseSettings", "PhaseSlopes", "fit_phase_slopes", "PHASE_MEASURES", "PHASE_MEASURE_LABELS",
           "PHASE_DEFAULTS", "check_scales", "classification_accuracy", "phase_learning_rate", "PHASE_LR_FRACTION",
           "PHASE_WIDTHS", "PHASE_SCALES", "IsoLine", "alpha_sqrt_width_isolines", "grid_edges", "isoline_levels"]
