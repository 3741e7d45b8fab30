"""Eigenmode learnability (Simon et al. 2021).

Which functions a wide network learns from n examples is predicted by its NTK's eigensystem: each eigenmode
has a learnability L_i = λ_i/(λ_i + κ) ∈ [0, 1]; over a complete orthonormal basis the D-learnabilities sum to
n (the learnability conservation law of Simon et al. 2021, their "no-free-lunch" theorem), and raising one
eigenvalue lowers every other mode's D-learnability (the zero-sum competition of eigenmodes, same paper).

This module is the public face of three implementation modules:
- `ntk_explorer.spectral_domains`: domains `circle`, `hypercube`, `points` and `eigensystem` (Simon et al. 2021);
- `ntk_explorer.eigenlearning`: κ, learnabilities, predicted MSE, the transfer matrix and kernel measurements,
  with the ridge convention f̂ = K(x, D)(K(D, D) + ridge·I)^{-1} f(D) ⇔ Σ m λ/(λ + κ) + ridge/κ = n;
- `ntk_explorer.mode_dynamics`: trained finite networks and the per-mode decay (1 − lr λ_i/N)^t of the
  training residual under GD on (1/(2N)) Σ r².
"""

from .eigenlearning import (
    d_learnability,
    empirical_learnability,
    kernel_regression,
    learnability,
    predicted_mse,
    random_train_sets,
    solve_kappa,
    transfer_matrix,
)
from .mode_dynamics import (
    ModeResiduals,
    NetworkLearnability,
    mode_residuals,
    network_learnability,
    project_residuals,
)
from .generalization import (
    LearningCurve,
    gd_filter,
    interpolant_norm,
    kernel_learning_curve,
    learning_curve_draws,
    min_norm_interpolant,
    ridge_filter,
    rkhs_norm,
)
from .domains import (
    Circle,
    Domain,
    EigenSystem,
    Hypercube,
    Points,
    circle,
    eigensystem,
    hypercube,
    points,
)

__all__ = [
    "Domain",
    "Circle",
    "Hypercube",
    "Points",
    "EigenSystem",
    "circle",
    "hypercube",
    "points",
    "eigensystem",
    "solve_kappa",
    "learnability",
    "predicted_mse",
    "kernel_regression",
    "d_learnability",
    "transfer_matrix",
    "empirical_learnability",
    "random_train_sets",
    "network_learnability",
    "NetworkLearnability",
    "mode_residuals",
    "project_residuals",
    "ModeResiduals",
    "min_norm_interpolant",
    "interpolant_norm",
    "rkhs_norm",
    "ridge_filter",
    "gd_filter",
    "LearningCurve",
    "learning_curve_draws",
    "kernel_learning_curve",
]
