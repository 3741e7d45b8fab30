"""Kernel regression helpers (spectra/generalization.py) and network learning curves (experiments/generalization.py)
against independent references: numpy's lstsq and pinv, plain gradient-descent loops, direct ridge solves, the
reproducing property of the RKHS norm, and a per-trial loop of kernel regressions and trained networks."""
import math

import numpy as np
import pytest
import torch

from ntk_explorer import MLP, empirical_ntk, spectra
from ntk_explorer.experiments.generalization import network_learning_curve
from ntk_explorer.spectra.generalization import (gd_filter, interpolant_norm, kernel_learning_curve,
                                                 learning_curve_draws, min_norm_interpolant, ridge_filter, rkhs_norm)

F64 = torch.float64


@pytest.fixture(scope="module")
def cube5():
    domain = spectra.hypercube(5)
    K = domain.analytic_kernel(depth=2, activation="relu")
    return domain, K, spectra.eigensystem(K, domain)


def test_min_norm_interpolant_matches_lstsq_and_pinv():
    rng = np.random.default_rng(0)
    Phi, y = rng.standard_normal((6, 20)), rng.standard_normal(6)
    w = min_norm_interpolant(Phi, y).numpy()
    assert np.allclose(w, np.linalg.lstsq(Phi, y, rcond=None)[0], atol=1e-12)
    assert np.allclose(w, np.linalg.pinv(Phi) @ y, atol=1e-12)
    assert np.allclose(Phi @ w, y, atol=1e-12)
    other = w + (np.eye(20) - np.linalg.pinv(Phi) @ Phi) @ rng.standard_normal(20)  # another interpolant
    assert np.allclose(Phi @ other, y, atol=1e-12) and np.linalg.norm(other) > np.linalg.norm(w)
    Y = rng.standard_normal((6, 3))
    assert np.allclose(min_norm_interpolant(Phi, Y).numpy(), np.linalg.pinv(Phi) @ Y, atol=1e-12)
    with pytest.raises(ValueError, match="shape"):
        min_norm_interpolant(Phi, y[:5])


def test_gradient_descent_from_zero_reaches_the_min_norm_interpolant():
    rng = np.random.default_rng(1)
    Phi, y = rng.standard_normal((5, 12)), rng.standard_normal(5)
    n, w = len(y), np.zeros(12)
    lr = n / np.linalg.eigvalsh(Phi @ Phi.T)[-1]
    for _ in range(20000):  # GD on (1/N) Σ ½(φ_i·w − y_i)²
        w -= lr / n * Phi.T @ (Phi @ w - y)
    assert np.allclose(w, min_norm_interpolant(Phi, y).numpy(), atol=1e-9)
    assert interpolant_norm(Phi @ Phi.T, y) == pytest.approx(np.linalg.norm(w), rel=1e-8)


def test_interpolant_norm_is_inf_outside_the_range():
    K = np.diag([2.0, 1.0, 0.0])
    assert interpolant_norm(K, [2.0, 1.0, 0.0]) == pytest.approx(math.sqrt(4 / 2 + 1 / 1))
    assert interpolant_norm(K, [0.0, 0.0, 1.0]) == math.inf


def test_rkhs_norm_obeys_the_reproducing_property(cube5):
    domain, K, eigsys = cube5
    idx = torch.tensor([0, 3, 7, 19])
    alpha = torch.tensor([0.5, -1.0, 2.0, 0.3], dtype=F64)
    f = K[:, idx] @ alpha  # f = Σ_j α_j K(·, x_j)
    coefficients = eigsys.coefficients(f)
    expected = math.sqrt(float(alpha @ K[idx][:, idx] @ alpha))
    assert rkhs_norm(eigsys.eigenvalues, coefficients) == pytest.approx(expected, rel=1e-9)
    # the min-norm interpolant of f's values on the training set is f itself
    assert interpolant_norm(K[idx][:, idx], f[idx]) == pytest.approx(expected, rel=1e-9)
    assert rkhs_norm([1.0, 0.0], [0.5, 0.1]) == math.inf
    assert rkhs_norm([4.0, 0.0], [1.0, 0.0]) == pytest.approx(0.5)


def test_ridge_and_gd_filters_reproduce_direct_computations():
    rng = np.random.default_rng(2)
    A = rng.standard_normal((7, 7))
    K, y, n = A @ A.T, rng.standard_normal(7), 7
    mu, U = np.linalg.eigh(K)
    ridge = 0.3
    direct = K @ np.linalg.solve(K + ridge * np.eye(n), y)
    assert np.allclose(U @ (ridge_filter(mu, ridge) * (U.T @ y)), direct, atol=1e-12)
    lr, steps, f = 0.9 * n / mu[-1], 37, np.zeros(n)
    for _ in range(steps):  # f ← f − (lr/N) K (f − y) from f = 0
        f -= lr / n * K @ (f - y)
    assert np.allclose(U @ (gd_filter(mu, lr, steps, n) * (U.T @ y)), f, atol=1e-12)
    assert np.allclose(ridge_filter(mu, 0.0), 1.0)
    assert np.allclose(gd_filter(mu, lr, 0, n), 0.0)


def test_kernel_learning_curve_is_the_mean_of_direct_regressions(cube5):
    domain, K, eigsys = cube5
    f = eigsys.eigenfunctions[:, 1] + 0.5 * eigsys.eigenfunctions[:, 7]
    curve = kernel_learning_curve(K, domain, f, [3, 8], trials=5, noise=0.2, ridge=1e-3, seed=4)
    for row, n in enumerate((3, 8)):
        idx, eps = learning_curve_draws(domain.M, n, 5, 0.2, seed=4)
        assert torch.equal(idx, spectra.random_train_sets(domain.M, n, 5, seed=4))
        errors = []
        for i in range(5):
            D = idx[i].numpy()
            y = f.numpy()[D] + eps[i].numpy()
            f_hat = K.numpy()[:, D] @ np.linalg.solve(K.numpy()[np.ix_(D, D)] + 1e-3 * np.eye(n), y)
            errors.append(np.mean((f_hat - f.numpy()) ** 2))
        assert np.allclose(curve.samples[row], errors, rtol=1e-9)
        assert curve.mean[row] == pytest.approx(np.mean(errors), rel=1e-9)
        assert curve.stderr[row] == pytest.approx(np.std(errors, ddof=1) / math.sqrt(5), rel=1e-9)
    noiseless = kernel_learning_curve(K, domain, f, [domain.M], trials=2)
    assert noiseless.mean[0] < 1e-20  # interpolating every point of the domain recovers f


def test_label_noise_has_the_requested_variance():
    _, eps = learning_curve_draws(64, 32, 200, 0.25, seed=0)
    assert eps.var().item() == pytest.approx(0.25, rel=0.05)
    assert torch.equal(learning_curve_draws(64, 32, 3, 0.25, seed=1)[1], learning_curve_draws(64, 32, 3, 0.25, 1)[1])


def test_linearized_network_curve_is_kernel_regression_with_each_empirical_ntk(cube5):
    domain, _, eigsys = cube5
    f = eigsys.eigenfunctions[:, 2]
    curve = network_learning_curve(domain, f, [6], width=16, noise=0.1, trials=3, method="linearized", seed=2,
                                   progress=False)
    idx, eps = learning_curve_draws(domain.M, 6, 3, 0.1, seed=2)
    for i in range(3):
        model = MLP(5, 16, 2, seed=2 + i)
        K = empirical_ntk(model, domain.x)
        D = idx[i]
        f_hat = K[:, D] @ torch.linalg.solve(K[D][:, D], f[D] + eps[i])
        assert curve.samples[0, i] == pytest.approx(float(((f_hat - f) ** 2).mean()), rel=1e-8)


def test_trained_network_curve_matches_a_plain_training_loop(cube5):
    domain, _, eigsys = cube5
    f = eigsys.eigenfunctions[:, 1]
    curve = network_learning_curve(domain, f, [5], width=48, noise=0.05, trials=2, max_steps=40, tol=0.0, seed=1,
                                   progress=False)
    idx, eps = learning_curve_draws(domain.M, 5, 2, 0.05, seed=1)
    for i in range(2):
        model = MLP(5, 48, 2, seed=1 + i)
        x = domain.x
        with torch.no_grad():
            f0 = model(x)[:, 0]
        D = idx[i]
        target = f[D] + eps[i] + f0[D]
        lr = 5 / float(torch.linalg.eigvalsh(empirical_ntk(model, x[D]))[-1])
        params = list(model.parameters())
        for _ in range(40):  # plain GD on (1/N) Σ ½ r²
            loss = 0.5 * ((model(x[D])[:, 0] - target) ** 2).mean()
            grads = torch.autograd.grad(loss, params)
            with torch.no_grad():
                for p, g in zip(params, grads):
                    p -= lr * g
        with torch.no_grad():
            g_final = model(x)[:, 0] - f0
            final_loss = 0.5 * ((model(x[D])[:, 0] - target) ** 2).mean()
        assert curve.samples[0, i] == pytest.approx(float(((g_final - f) ** 2).mean()), rel=1e-8)
        assert curve.train_loss[0, i] == pytest.approx(float(final_loss), rel=1e-8)


def test_learning_curves_reject_bad_arguments(cube5):
    domain, K, eigsys = cube5
    f = eigsys.eigenfunctions[:, 1]
    with pytest.raises(TypeError, match="domain"):
        kernel_learning_curve(K, "cube", f, [4])
    with pytest.raises(ValueError, match="ns"):
        kernel_learning_curve(K, domain, f, [0])
    with pytest.raises(ValueError, match="noise"):
        learning_curve_draws(32, 4, 2, -1.0)
    with pytest.raises(ValueError, match="method"):
        network_learning_curve(domain, f, [4], width=8, method="exact")
    with pytest.raises(ValueError, match="target"):
        network_learning_curve(domain, f[:5], [4], width=8)
