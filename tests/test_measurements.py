"""The measurements the lessons and panels plot (ntk_explorer.experiments.measurements) and the log-log slope fits,
against independent references: autograd second derivatives, the analytic rate of the two-layer gap, a
hand-computed NTK error, scipy's linear regression."""
import math

import numpy as np
import pytest
import torch
from scipy import stats

from ntk_explorer import MLP, analytic_kernels, empirical_ntk
from ntk_explorer.data import circle_points
from ntk_explorer.experiments import (SMOOTHNESS, fit_slope, loglog_slope, ntk_error, ntk_errors, two_layer_gaps)


def test_smoothness_constants_are_the_sup_of_the_second_derivative():
    z = torch.linspace(-6, 6, 200001, dtype=torch.float64, requires_grad=True)
    for name, phi in {"erf": torch.special.erf, "tanh": torch.tanh, "softplus": torch.nn.functional.softplus,
                      "gelu": torch.nn.functional.gelu}.items():
        first = torch.autograd.grad(phi(z).sum(), z, create_graph=True)[0]
        second = torch.autograd.grad(first.sum(), z)[0]
        assert second.abs().max().item() == pytest.approx(SMOOTHNESS[name], rel=1e-6), name


def test_two_layer_gaps_respect_the_slides_bound_and_its_rate():
    widths = [16, 256, 4096]
    for activation in ("erf", "tanh"):
        g = two_layer_gaps(widths, radius=1.0, activation=activation)
        assert np.all(g["random"] <= g["bound"]) and np.all(g["aligned"] <= g["bound"])
        np.testing.assert_allclose(g["bound"], SMOOTHNESS[activation] / (2 * np.sqrt(widths)))
    # erf, aligned direction: the second-order terms add up to E|σ''(z)|/2·r²/√m, z ~ N(0, 1/2): E|erf''| = 2/π,
    # so gap/bound → (2/π)/β = sqrt(e/(2π)) (up to third-order terms and the sampling of the m neurons)
    g = two_layer_gaps([4096, 16384], radius=1.0, activation="erf")
    np.testing.assert_allclose(g["aligned"] / g["bound"], math.sqrt(math.e / (2 * math.pi)), rtol=0.05)


def test_two_layer_gap_is_quadratic_and_vanishes_for_a_linear_activation():
    small = two_layer_gaps([1024], radius=0.05, activation="tanh")
    double = two_layer_gaps([1024], radius=0.1, activation="tanh")
    assert double["aligned"][0] / small["aligned"][0] == pytest.approx(4.0, rel=0.02)
    assert double["random"][0] / small["random"][0] == pytest.approx(4.0, rel=0.05)
    linear = two_layer_gaps([64], radius=1.0, activation="identity")
    assert linear["aligned"][0] < 1e-12 and linear["random"][0] < 1e-12 and linear["bound"][0] == 0.0
    with pytest.raises(ValueError, match="relu"):
        two_layer_gaps([16], activation="relu")
    with pytest.raises(ValueError, match="widths"):
        two_layer_gaps([0, 16])


def test_ntk_errors_shrink_like_inverse_square_root_of_width():
    e = ntk_errors([64, 16384], seeds=3, depth=1, activation="erf", sigma_b=0.1, n_points=32)
    ratio = e["errors"][0].mean() / e["errors"][1].mean()  # width × 256: about 16 for n^{-1/2}
    assert 8 < ratio < 32
    model = MLP(2, 64, 1, activation="erf", sigma_b=0.1, seed=0, device="cpu")
    k = empirical_ntk(model, e["x"])
    expected = torch.linalg.matrix_norm(k - e["ntk"]) / torch.linalg.matrix_norm(e["ntk"])
    assert e["errors"][0, 0] == pytest.approx(expected.item(), rel=1e-12)
    torch.testing.assert_close(e["empirical"][0], k.detach(), rtol=0, atol=0)


def test_ntk_error_of_one_network_by_hand():
    x = torch.as_tensor(circle_points(20)[0])
    model = MLP(2, 128, 2, activation="tanh", sigma_w=1.3, sigma_b=0.2, seed=7, device="cpu")
    measured = ntk_error(model, x)
    theta = analytic_kernels(x, depth=2, activation="tanh", sigma_w=1.3, sigma_b=0.2).ntk  # the model's σ_w, σ_b
    k = empirical_ntk(model, x).detach()
    difference = (k - theta).reshape(-1)
    assert measured.error == pytest.approx(float(difference @ difference / (theta.reshape(-1) @ theta.reshape(-1)))
                                           ** 0.5, rel=1e-12)
    torch.testing.assert_close(measured.analytic, theta, rtol=0, atol=0)
    reused = ntk_error(model, x, analytic=theta.numpy())
    assert reused.error == measured.error
    with pytest.raises(ValueError, match="parameterization"):
        ntk_error(MLP(2, 16, 1, parameterization="mup", device="cpu"), x)
    with pytest.raises(ValueError, match="shape"):
        ntk_error(model, x, analytic=theta[:5, :5])
    with pytest.raises(TypeError, match="MLP"):
        ntk_error(torch.nn.Linear(2, 1), x)


def test_loglog_slope_is_least_squares_on_log_axes():
    rng = np.random.default_rng(3)
    x = np.array([16.0, 32, 64, 128, 256])
    y = 2.5 * x ** -0.6 * np.exp(0.05 * rng.standard_normal(5))
    reference = stats.linregress(np.log(x), np.log(y))
    fitted = loglog_slope(x, y)
    assert fitted.slope == pytest.approx(reference.slope, rel=1e-12)
    assert fitted.stderr == pytest.approx(reference.stderr, rel=1e-10)
    # non-finite and non-positive y are left out (a diverged run, a recorded 0)
    with_gaps = loglog_slope(np.append(x, [512.0, 1024.0]), np.append(y, [np.nan, 0.0]))
    assert with_gaps == fitted
    assert math.isnan(loglog_slope([16, 16], [1.0, 2.0]).slope)  # one distinct x: no slope
    two = loglog_slope([16, 32], [1.0, 0.5])  # two points: the line through them, no standard error
    assert two.slope == pytest.approx(-1.0, rel=1e-14) and math.isnan(two.stderr)
    with pytest.raises(ValueError, match="positive"):
        loglog_slope([0.0, 1.0], [1.0, 2.0])
    with pytest.raises(ValueError, match="same number"):
        loglog_slope([1.0, 2.0], [1.0])


def test_fit_slope_is_loglog_slope_over_every_run():
    widths = np.array([16, 64, 256])
    values = 3.0 * widths[:, None] ** -0.7 * np.array([[1.1, 0.9], [0.95, 1.05], [1.0, np.nan]])
    pooled = loglog_slope(np.repeat(widths, 2), values)  # row-major: each width's seeds side by side
    assert fit_slope(widths, values) == pooled
    keep = np.isfinite(values)
    reference = stats.linregress(np.log(np.broadcast_to(widths[:, None], values.shape)[keep]), np.log(values[keep]))
    assert pooled.slope == pytest.approx(reference.slope, rel=1e-12)
    with pytest.raises(ValueError, match="shape"):
        fit_slope(widths, values[:2])
