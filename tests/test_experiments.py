"""Tests for ntk_explorer.experiments: width sweeps, vectorised ensembles and the infinite-width GP of f^lin_t."""
import math

import numpy as np
import pytest
import torch

from ntk_explorer.kernels.analytic import analytic_kernels
from ntk_explorer.dynamics.closed_form import gd_mse_predictor
from ntk_explorer.dynamics import train
from ntk_explorer.experiments import (ExperimentConfig, fit_slope, ensemble, gp_prediction, width_sweep)



SMALL = dict(depth=1, n_train=8, n_eval=32, steps=100, record_every=10, kernel_every=10, lr=1.0, device="cpu",
             progress=False)


def test_slope_fit_recovers_an_exact_power_law():
    widths = np.array([16, 64, 256])
    values = 3.0 * widths[:, None] ** -0.7 * np.ones((1, 2))
    slope = fit_slope(widths, values)
    assert slope.slope == pytest.approx(-0.7, abs=1e-12) and slope.stderr < 1e-10
    noisy = values * np.array([[1.1, 0.9], [0.95, 1.05], [1.0, 1.0]])
    assert fit_slope(widths, noisy).stderr > 0


@pytest.mark.parametrize("activation", ["erf", "tanh"])
def test_width_sweep_ntk_parameterization_is_lazy(activation):
    sweep = width_sweep([64, 128, 256, 512], 2, activation=activation, parameterization="ntk", **SMALL)
    assert sweep.values["discrepancy"].shape == (4, 2) and np.isfinite(sweep.values["kernel_drift"]).all()
    assert sweep.slopes["discrepancy"].slope <= -0.4
    assert sweep.slopes["kernel_drift"].slope <= -0.4
    assert sweep.slopes["param_distance"].slope < 0
    rows = sweep.rows()
    assert [r["width"] for r in rows] == [64, 128, 256, 512]
    assert rows[0]["kernel_drift_mean"] == pytest.approx(sweep.values["kernel_drift"][0].mean())
    assert "slope" in str(sweep)


def test_width_sweep_mup_keeps_learning_features():
    sweep = width_sweep([64, 128, 256, 512], 2, activation="erf", parameterization="mup", **SMALL)
    assert sweep.slopes["kernel_drift"].slope > -0.2
    assert sweep.mean["kernel_drift"].min() > 0.1  # features move by O(1) at every width


def test_width_sweep_values_are_the_suprema_of_single_runs():
    config = ExperimentConfig(width=32, depth=1, activation="erf", n_train=6, n_eval=10, steps=20, record_every=5,
                              kernel_every=5, lr=0.5, parameterization="mup", device="cpu")
    sweep = width_sweep([32], [3], **{k: v for k, v in config.__dict__.items() if k != "width"}, progress=False)
    data, model = config.dataset(), config.model(3)
    run = train(model, data.x_train, data.y_train, lr=0.5 * 32, steps=20, x_eval=data.x_eval, record_every=5,
                kernel_every=5)  # mup: the rate used is lr × width
    assert sweep.values["discrepancy"][0, 0] == run.discrepancy.max()
    assert sweep.values["kernel_drift"][0, 0] == np.nanmax(run.kernel_drift)
    with pytest.raises(TypeError, match="unknown config"):
        width_sweep([8], 1, colour="red")


def test_ensemble_equals_independent_training_runs():
    config = ExperimentConfig(width=24, depth=2, activation="tanh", n_train=6, n_eval=9, steps=15, record_every=5,
                              lr=0.8, sigma_b=0.3, device="cpu")
    result = ensemble(config, [4, 9])
    assert result.f_eval.shape == (4, 2, 9) and result.step.tolist() == [0, 5, 10, 15]
    data = config.dataset()
    for k, seed in enumerate([4, 9]):
        run = train(config.model(seed), data.x_train, data.y_train, lr=0.8, steps=15, x_eval=data.x_eval,
                    record_every=5)
        np.testing.assert_allclose(result.f_eval[:, k], run.f_eval, atol=1e-12)
    np.testing.assert_allclose(result.std, result.f_eval.std(axis=1, ddof=1))


def test_gp_prediction_limits():
    config = ExperimentConfig(depth=2, activation="relu", n_train=6, n_eval=12, sigma_b=0.2)
    d = config.dataset()
    kernels = analytic_kernels(d.x_eval, depth=2, activation="relu", sigma_b=0.2)
    start = gp_prediction(d.x_train, d.y_train, d.x_eval, lr=1.0, t=0, depth=2, activation="relu", sigma_b=0.2)
    np.testing.assert_allclose(start.mean, 0.0, atol=1e-14)  # f_0 ~ GP(0, K): mean 0, covariance the NNGP
    np.testing.assert_allclose(start.covariance, kernels.nngp, atol=1e-12)
    # at t → ∞ on the training inputs themselves the linearized network interpolates: mean Y, variance 0
    end = gp_prediction(d.x_train, d.y_train, d.x_train, lr=1.0, depth=2, activation="relu", sigma_b=0.2)
    np.testing.assert_allclose(end.mean, d.y_train, atol=1e-8)
    np.testing.assert_allclose(end.variance, 0.0, atol=1e-8)


def test_gp_prediction_is_the_law_of_the_closed_form_applied_to_gp_samples():
    config = ExperimentConfig(depth=1, activation="erf", n_train=5, n_eval=7, sigma_b=0.1)
    d = config.dataset()
    x_all = torch.cat([d.x_train, d.x_eval])
    kernels = analytic_kernels(x_all, depth=1, activation="erf", sigma_b=0.1)
    lr, t = 0.7, 9
    gp = gp_prediction(d.x_train, d.y_train, d.x_eval, lr=lr, t=t, depth=1, activation="erf", sigma_b=0.1)
    predict = gd_mse_predictor(kernels.ntk[:5, :5], d.y_train, lr)
    # f^lin_t(E) is affine in f_0: push the mean and 12 basis columns of the NNGP's square root through it
    zero = predict(t, torch.zeros(5), torch.zeros(7), kernels.ntk[5:, :5])[1]
    np.testing.assert_allclose(gp.mean, zero, atol=1e-12)
    root = torch.linalg.cholesky(kernels.nngp + 1e-12 * torch.eye(12))
    columns = torch.stack([predict(t, root[:5, j], root[5:, j], kernels.ntk[5:, :5])[1] - zero for j in range(12)], 1)
    np.testing.assert_allclose(gp.covariance, columns @ columns.T, atol=1e-9)


def test_ensemble_of_wide_networks_matches_the_gaussian_process():
    config = ExperimentConfig(width=1024, depth=1, activation="erf", sigma_b=0.2, n_train=6, n_eval=20,
                              target="sin(2*t) + 0.5*cos(t)", lr=1.0, steps=60, record_every=60, device="cpu")
    result = ensemble(config, 64)
    gp = gp_prediction(result.x_train, result.y_train, result.x_eval, lr=result.lr, t=60, depth=1,
                       activation="erf", sigma_b=0.2)
    mean, std = result.mean[-1], result.std[-1]
    within = np.abs(mean - gp.mean.numpy()) <= 4 * std / math.sqrt(64)
    assert within.mean() >= 0.9
    ratio = np.mean(std ** 2) / float(gp.variance.mean())
    assert 0.6 <= ratio <= 1.6
    assert np.abs(result.mean[-1] - result.mean[0]).max() > 0.3  # the ensemble really trained
