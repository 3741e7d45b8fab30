"""Training dynamics: f and f^lin trained side by side by full-batch GD, and the closed forms of f^lin."""
from .closed_form import (CriticalLearningRates, critical_learning_rates, gd_mse_predictor, kernel_matrix,
                          kernel_regression_operator, linearized_loss_curve)
from .training import DIVERGENCE_FACTOR, Snapshot, TrainingStream, Trajectory, train, train_stream

__all__ = ["Snapshot", "Trajectory", "TrainingStream", "train_stream", "train", "DIVERGENCE_FACTOR", "CriticalLearningRates",
           "critical_learning_rates", "gd_mse_predictor", "kernel_matrix", "kernel_regression_operator",
           "linearized_loss_curve"]
