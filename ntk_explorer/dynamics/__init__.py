"""Training dynamics: f and f^lin trained side by side by full-batch GD, and the closed forms of f^lin."""
from .closed_form import (CriticalLearningRates, critical_learning_rates, gd_mse_predictor, kernel_matrix,
                          kernel_regression_operator, linearized_loss_curve)
from .training import (DIVERGENCE_FACTOR, ItemStream, Snapshot, StopSignal, TrainingStream, Trajectory, check_stop,
                       stop_requested, train, train_stream)

__all__ = ["Snapshot", "Trajectory", "TrainingStream", "train_stream", "train", "DIVERGENCE_FACTOR", "StopSignal",
           "check_stop", "stop_requested", "ItemStream", "CriticalLearningRates", "critical_learning_rates",
           "gd_mse_predictor", "kernel_matrix", "kernel_regression_operator", "linearized_loss_curve"]
