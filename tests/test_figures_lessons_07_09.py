"""The figures of lessons 07–09 draw the numbers they are given (or compute with the library's filters)."""
import numpy as np
import pytest
import torch

from ntk_explorer.experiments import HorizonSweep, LinearitySweep, PseudoNTKSweep, PSEUDO_METRICS
from ntk_explorer.experiments.sweeps import Slope
from ntk_explorer.plots import figures
from ntk_explorer.spectra import LearningCurve, gd_filter, ridge_filter


def _trace(fig, name_start):
    matches = [t for t in fig.data if t.name and t.name.startswith(name_start)]
    assert matches, f"no trace named {name_start!r} in {[t.name for t in fig.data]}"
    return matches[0]


def test_spectral_filters_figure_draws_both_filters():
    mu, n, lr = np.array([0.01, 0.1, 1.0]), 16, 8.0
    fig = figures.spectral_filters_figure(mu, n, lr, steps=[5, 50])
    gd, ridge = _trace(fig, "GD, t = 50"), _trace(fig, "ridge δ = ")
    x = np.asarray(gd.x)
    assert np.all(lr * x / n < 1)
    np.testing.assert_allclose(gd.y, gd_filter(x, lr, 50, n), rtol=1e-12)
    np.testing.assert_allclose(ridge.y, ridge_filter(np.asarray(ridge.x), n / (lr * 5)), rtol=1e-12)
    np.testing.assert_allclose(_trace(fig, "eigenvalues").x, mu)


def test_learning_curve_figure_draws_prediction_and_measurements():
    ns = np.array([2, 8, 32])
    curve = LearningCurve(ns, np.array([1.0, 0.5, 0.2]), np.array([0.1, 0.05, 0.02]), np.zeros((3, 2)))
    fig = figures.learning_curve_figure(ns, np.array([0.9, 0.6, 0.25]), {"kernel": curve})
    np.testing.assert_allclose(_trace(fig, "eigenlearning").y, [0.9, 0.6, 0.25])
    measured = _trace(fig, "kernel")
    np.testing.assert_allclose(measured.y, curve.mean)
    np.testing.assert_allclose(measured.error_y.array, 2 * curve.stderr)


def test_linearity_figure_draws_the_sweep_means_and_references():
    widths = np.array([16, 64, 256])
    jac = np.stack([np.full((2, 1), 0.8), np.full((2, 1), 0.81), np.full((2, 1), 0.79)])
    hess = np.stack([np.full((2, 1), 0.4), np.full((2, 1), 0.2), np.full((2, 1), 0.1)])
    sweep = LinearitySweep(widths, (0, 1), torch.zeros(1, 2), jac, hess,
                           {"jacobian": Slope(0.0, 0.0), "hessian": Slope(-0.5, 0.0)})
    fig = figures.linearity_figure(sweep)
    np.testing.assert_allclose(_trace(fig, "measured jacobian").y, [0.8, 0.81, 0.79])
    np.testing.assert_allclose(_trace(fig, "measured hessian").y, [0.4, 0.2, 0.1])
    np.testing.assert_allclose(_trace(fig, "slope −1/2").y, 0.4 * (widths / 16.0) ** -0.5)


def test_horizon_figure_draws_one_line_per_width():
    disc = np.arange(2 * 3 * 4, dtype=float).reshape(2, 3, 4) + 1
    sweep = HorizonSweep(np.array([32, 128]), (0, 1, 2), np.array([10, 20, 40, 80]), "mse", disc, disc, np.ones((2, 3)))
    fig = figures.horizon_figure({"squared loss": sweep, "again": sweep})
    lines = [t for t in fig.data if t.name == "width 128"]
    assert len(lines) == 2
    np.testing.assert_allclose(lines[0].y, disc[1].mean(0))
    np.testing.assert_allclose(lines[0].x, [10, 20, 40, 80])


def test_output_blocks_figure_groups_rows_by_output():
    theta = torch.arange(2 * 2 * 3 * 3, dtype=torch.float64).reshape(2, 2, 3, 3)
    fig = figures.output_blocks_figure({"a": theta})
    z = np.asarray(fig.data[0].z)
    t = theta.numpy() / theta.abs().max().item()
    for o in range(3):
        for p in range(3):
            np.testing.assert_allclose(z[o * 2:(o + 1) * 2, p * 2:(p + 1) * 2], t[:, :, o, p])


def test_pseudo_ntk_figure_draws_every_metric():
    widths = np.array([16, 64])
    values = {m: np.array([[0.2, 0.3], [0.1, 0.15]]) * (i + 1) for i, m in enumerate(PSEUDO_METRICS)}
    sweep = PseudoNTKSweep(widths, (0, 1), 3, values, {m: Slope(-0.5, 0.0) for m in PSEUDO_METRICS})
    fig = figures.pseudo_ntk_figure(sweep)
    np.testing.assert_allclose(_trace(fig, "off-diagonal").y, [0.25, 0.125])
    np.testing.assert_allclose(_trace(fig, "kernel regression").y, values["prediction_error"].mean(1))
    with pytest.raises(AssertionError):
        _trace(fig, "no such trace")
