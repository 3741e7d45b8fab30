"""Tests for the training engine (ntk_explorer.dynamics) and the closed forms (ntk_explorer.dynamics.closed_form).

References are independent: updates iterated by hand, scipy's matrix exponential, linear solves, a plain
torch GD loop, and the empirical NTK recomputed from scratch.
"""
import math
import re
import threading

import numpy as np
import pytest
import scipy.linalg
import torch

from ntk_explorer.dynamics.closed_form import critical_learning_rates, gd_mse_predictor, kernel_regression_operator
from ntk_explorer.data import make_dataset
from ntk_explorer.dynamics import Snapshot, Trajectory, train, train_stream
from ntk_explorer.kernels import empirical_ntk
from ntk_explorer.models import MLP



def _random_kernel(n, m, out=1, seed=0):
    """A PSD kernel over n + m points from random features; returns (K_all (n+m)O x nO, K_tt, K_et)."""
    rng = np.random.default_rng(seed)
    features = rng.standard_normal(((n + m) * out, 3 * n * out))
    full = features @ features.T / features.shape[1]
    if out == 1:
        return full[:, : n], full[:n, :n], full[n:, :n]
    k4 = full.reshape(n + m, out, n + m, out).transpose(0, 2, 1, 3)
    return full[:, : n * out], k4[:n, :n], k4[n:, :n]


# ------------------------------------------------------------------------------------ closed forms
@pytest.mark.parametrize("out", [1, 2])
def test_closed_form_equals_iterating_the_update(out):
    n, m, steps = 7, 4, 37
    k_cols, k_tt, k_et = _random_kernel(n, m, out)
    rng = np.random.default_rng(1)
    y, f0 = rng.standard_normal(n * out), rng.standard_normal((n + m) * out)
    lr = 0.8 * critical_learning_rates(k_tt).diverge
    f = f0.copy()
    for _ in range(steps):  # f ← f − (lr/N) Θ(·, X)(f(X) − Y) over train and eval points
        f = f - lr / n * k_cols @ (f[: n * out] - y)
    shape = (n,) if out == 1 else (n, out)
    predict = gd_mse_predictor(k_tt, y.reshape(shape), lr)
    f_train, f_eval = predict(steps, f0[: n * out].reshape(shape), f0[n * out:].reshape((m,) + shape[1:]), k_et)
    np.testing.assert_allclose(f_train.reshape(-1), f[: n * out], rtol=0, atol=1e-10)
    np.testing.assert_allclose(f_eval.reshape(-1), f[n * out:], rtol=0, atol=1e-10)
    assert predict(0, f0[: n * out].reshape(shape))[1] is None


def test_gradient_flow_equals_the_matrix_exponential():
    n, m, lr, t = 6, 5, 0.3, 11.5
    _, k_tt, k_et = _random_kernel(n, m, seed=2)
    rng = np.random.default_rng(3)
    y, f0, f0e = rng.standard_normal(n), rng.standard_normal(n), rng.standard_normal(m)
    decay = scipy.linalg.expm(-lr * t * k_tt / n)
    expected_train = y + decay @ (f0 - y)  # Y. Chen, "Linearized Networks", eq. (15)
    expected_eval = f0e - k_et @ np.linalg.solve(k_tt, (np.eye(n) - decay) @ (f0 - y))  # Chen eq. (19)
    f_train, f_eval = gd_mse_predictor(torch.tensor(k_tt), y, lr, flow=True)(t, f0, f0e, k_et)
    np.testing.assert_allclose(f_train, expected_train, atol=1e-10)
    np.testing.assert_allclose(f_eval, expected_eval, atol=1e-10)


def test_infinite_time_is_kernel_regression():
    n, m = 8, 6
    _, k_tt, k_et = _random_kernel(n, m, seed=4)
    rng = np.random.default_rng(5)
    y, f0, f0e = rng.standard_normal(n), rng.standard_normal(n), rng.standard_normal(m)
    regression = k_et @ np.linalg.solve(k_tt, y - f0) + f0e  # Sutherland's NTK slides: k(x) K^{-1}(Y − f_0) + f_0
    for flow in (False, True):
        f_train, f_eval = gd_mse_predictor(k_tt, y, 0.5, flow=flow)(math.inf, f0, f0e, k_et)
        np.testing.assert_allclose(f_train, y, atol=1e-10)
        np.testing.assert_allclose(f_eval, regression, atol=1e-10)
    operator = kernel_regression_operator(k_tt, k_et, 0.5, math.inf).numpy()
    np.testing.assert_allclose(operator, k_et @ np.linalg.inv(k_tt), atol=1e-9)


def test_flow_and_discrete_gd_differ_less_as_lr_shrinks():
    n, m, time_ = 6, 4, 2.0
    _, k_tt, k_et = _random_kernel(n, m, seed=6)
    rng = np.random.default_rng(7)
    y, f0, f0e = rng.standard_normal(n), rng.standard_normal(n), rng.standard_normal(m)
    gaps = []
    for lr in (0.2, 0.02, 0.002):
        steps = round(time_ / lr)
        gd = gd_mse_predictor(k_tt, y, lr)(steps, f0, f0e, k_et)
        flow = gd_mse_predictor(k_tt, y, lr, flow=True)(steps, f0, f0e, k_et)
        gaps.append(max(np.abs(gd[0] - flow[0]).max(), np.abs(gd[1] - flow[1]).max()))
    assert gaps[0] > 0 and 7 < gaps[0] / gaps[1] < 13 and 7 < gaps[1] / gaps[2] < 13  # O(lr)


def test_critical_learning_rates_and_the_closed_form_at_the_threshold():
    n = 9
    _, k_tt, _ = _random_kernel(n, 0, seed=8)
    lam = np.linalg.eigvalsh(k_tt)
    rates = critical_learning_rates(k_tt)
    assert rates.converge == pytest.approx(2 * n / (lam[0] + lam[-1]), rel=1e-12)
    assert rates.diverge == pytest.approx(2 * n / lam[-1], rel=1e-12)
    y, f0 = np.ones(n), np.zeros(n)
    slow = gd_mse_predictor(k_tt, y, 0.99 * rates.diverge)(2000, f0)[0]
    fast = gd_mse_predictor(k_tt, y, 1.01 * rates.diverge)(2000, f0)[0]
    assert np.linalg.norm(slow - y) < np.linalg.norm(f0 - y)
    assert np.linalg.norm(fast - y) > 1e6 * np.linalg.norm(f0 - y)
    with pytest.raises(ValueError, match="diverges"):
        gd_mse_predictor(k_tt, y, 1.01 * rates.diverge)(math.inf, f0)


@pytest.mark.parametrize("out", [1, 2])
def test_linearized_loss_curve_against_iterated_updates_and_expm(out):
    from ntk_explorer.dynamics import linearized_loss_curve

    n, steps = 7, 25
    _, k_tt, _ = _random_kernel(n, 0, out=out, seed=3)
    k = k_tt if out == 1 else k_tt.transpose(0, 2, 1, 3).reshape(n * out, n * out)
    rng = np.random.default_rng(4)
    shape = (n,) if out == 1 else (n, out)
    y, f0 = rng.standard_normal(shape), rng.standard_normal(shape)
    lr = 0.9 * critical_learning_rates(k_tt).diverge
    f, by_hand = f0.reshape(-1).copy(), []
    for _ in range(steps + 1):  # f ← f − (lr/N) Θ (f − y), loss (1/N) Σ ½‖f − y‖²
        by_hand.append(0.5 * np.sum((f - y.reshape(-1)) ** 2) / n)
        f = f - lr / n * k @ (f - y.reshape(-1))
    curve = linearized_loss_curve(k_tt, f0, y, lr, steps)
    assert curve.shape == (steps + 1,) and np.allclose(curve, by_hand, rtol=1e-10, atol=1e-14)
    flow = linearized_loss_curve(k_tt, f0, y, lr, steps, flow=True)
    for t in (0, 3, steps):
        r = scipy.linalg.expm(-lr * t / n * k) @ (f0 - y).reshape(-1)
        assert flow[t] == pytest.approx(0.5 * r @ r / n, rel=1e-10)
    above = linearized_loss_curve(k_tt, f0, y, 1.05 * critical_learning_rates(k_tt).diverge, 200)
    assert above[-1] > 1e3 * above[0]  # past 2N/λ_max the top mode grows like 1.1^t
    with pytest.raises(ValueError, match="steps"):
        linearized_loss_curve(k_tt, f0, y, lr, -1)


# ------------------------------------------------------------------------------------ training
@pytest.fixture(scope="module")
def circle():
    return make_dataset("circle", n_train=8, n_eval=24, target="sin(2*t) + 0.3*cos(t)")


def _mlp(width=64, depth=2, out_dim=1, activation="erf", seed=0, **kwargs):
    return MLP(2, width, depth, out_dim=out_dim, activation=activation, sigma_b=0.2, seed=seed, device="cpu",
               **kwargs)


def _both_paths(model, x, y, **kwargs):
    return [train(model, x, y, linearization=path, **kwargs) for path in ("function", "parameter")]


@pytest.mark.parametrize("out_dim, loss, scale", [(1, "mse", 1.0), (2, "mse", 1.0), (1, "cross_entropy", 1.0),
                                                  (3, "cross_entropy", 1.0), (1, "mse", 3.0)])
def test_function_and_parameter_linearizations_agree(circle, out_dim, loss, scale):
    x, y, xe = circle.x_train, circle.y_train, circle.x_eval
    if loss == "cross_entropy":
        y = torch.sign(y) if out_dim == 1 else (y > 0).to(torch.float64) + (y > 0.5).to(torch.float64)
    elif out_dim == 2:
        y = torch.stack([y, -0.5 * y], dim=1)
    a, b = _both_paths(_mlp(out_dim=out_dim), x, y, lr=1.0, steps=40, x_eval=xe, record_every=5, loss=loss,
                       output_scale=scale)
    assert len(a) == len(b) == 9
    for name in ("flin_train", "flin_eval", "loss_lin", "discrepancy"):
        np.testing.assert_allclose(getattr(a, name), getattr(b, name), rtol=0, atol=1e-8, err_msg=name)
    np.testing.assert_array_equal(a.f_eval, b.f_eval)
    assert np.abs(a.flin_eval[-1] - a.flin_eval[0]).max() > 0.05  # f^lin really moved


def test_function_path_follows_the_closed_form(circle):
    model = _mlp()
    x, y, xe = circle.x_train, circle.y_train, circle.x_eval
    lr = 0.9 * critical_learning_rates(empirical_ntk(model, x)).diverge
    trajectory = train(model, x, y, lr=lr, steps=60, x_eval=xe, record_every=20)
    f0 = model(torch.cat([x, xe])).detach()[:, 0]
    predict = gd_mse_predictor(empirical_ntk(model, x), y, lr)
    for snapshot in trajectory:
        f_train, f_eval = predict(snapshot.step, f0[:8], f0[8:], empirical_ntk(model, xe, x))
        np.testing.assert_allclose(snapshot.flin_train, f_train.numpy(), atol=1e-10)
        np.testing.assert_allclose(snapshot.flin_eval, f_eval.numpy(), atol=1e-10)


def test_network_and_metrics_match_a_plain_gd_loop(circle):
    model = _mlp(width=48, activation="tanh")
    x, y, xe = circle.x_train, circle.y_train, circle.x_eval
    lr, steps = 0.7, 12
    trajectory = train(model, x, y, lr=lr, steps=steps, x_eval=xe, record_every=4, kernel_every=8)
    assert trajectory.step.tolist() == [0, 4, 8, 12]
    net = model.clone()
    theta0 = torch.cat([p.detach().reshape(-1) for p in net.parameters()])
    k0 = empirical_ntk(net, x)
    for step in range(steps + 1):
        out = net(x)[:, 0]
        loss = 0.5 * ((out - y) ** 2).mean()
        if step % 4 == 0:
            snapshot = trajectory[step // 4]
            assert snapshot.loss == pytest.approx(float(loss.detach()), rel=1e-12)
            np.testing.assert_allclose(snapshot.f_train, out.detach().numpy(), atol=1e-12)
            np.testing.assert_allclose(snapshot.f_eval, net(xe)[:, 0].detach().numpy(), atol=1e-12)
            theta = torch.cat([p.detach().reshape(-1) for p in net.parameters()])
            assert snapshot.param_distance == pytest.approx(float((theta - theta0).norm() / theta0.norm()), rel=1e-9)
            drift = float((empirical_ntk(net, x) - k0).norm() / k0.norm())
            assert (math.isnan(snapshot.kernel_drift) if step % 8 else snapshot.kernel_drift == pytest.approx(drift, rel=1e-9, abs=1e-15))
            rms = np.sqrt(np.mean((snapshot.f_eval - snapshot.flin_eval) ** 2))
            assert snapshot.discrepancy == pytest.approx(rms, rel=1e-12, abs=1e-15)
        grads = torch.autograd.grad(loss, list(net.parameters()))
        with torch.no_grad():
            for p, g in zip(net.parameters(), grads):
                p -= lr * g
    assert trajectory.kernel_drift[2] > 0 and trajectory.param_distance[-1] > 0
    assert torch.equal(next(model.parameters()), next(_mlp(width=48, activation="tanh").parameters()))  # untouched


def test_shapes_follow_y_and_trajectory_indexing(circle):
    x, y = circle.x_train, circle.y_train
    flat = train(_mlp(width=16), x, y, lr=0.5, steps=3)
    column = train(_mlp(width=16), x, y[:, None], lr=0.5, steps=3)
    assert flat.f_train.shape == (4, 8) and column.f_train.shape == (4, 8, 1) and flat.f_eval is None
    np.testing.assert_array_equal(flat.f_train, column.f_train[..., 0])
    snapshot = flat[2]
    assert isinstance(snapshot, Snapshot) and snapshot.step == 2 and snapshot.loss == flat.loss[2]
    assert flat.final.step == 3 and not flat.final.diverged and isinstance(flat, Trajectory)
    # without eval points the discrepancy is measured on the training points
    assert flat.discrepancy[-1] == pytest.approx(np.sqrt(np.mean((flat.f_train[-1] - flat.flin_train[-1]) ** 2)))


@pytest.mark.parametrize("factor, diverges", [(0.99, False), (1.01, True)])
def test_linearized_model_converges_below_and_diverges_above_the_critical_rate(circle, factor, diverges):
    model = _mlp(width=512, depth=1)
    x, y = circle.x_train, circle.y_train
    rates = critical_learning_rates(empirical_ntk(model, x))
    snapshots = list(train_stream(model, x, y, lr=factor * rates.diverge, steps=2500, record_every=100))
    final = snapshots[-1]
    assert final.diverged is diverges and all(s.is_finite() for s in snapshots)
    assert not any(s.diverged for s in snapshots[:-1])
    if diverges:
        assert "f^lin" in final.message and f"{rates.diverge:.4g}" in final.message
        assert final.step < 2500
    else:
        assert final.step == 2500 and final.loss_lin < 1e-3 * snapshots[0].loss_lin


def test_divergence_ends_with_the_last_finite_state(circle):
    model = _mlp(width=32)
    x, y, xe = circle.x_train, circle.y_train, circle.x_eval
    snapshots = list(train_stream(model, x, y, lr=1e300, steps=50, x_eval=xe, record_every=7))
    assert len(snapshots) == 1 and snapshots[0].diverged and snapshots[0].step == 0  # step 1 is inf
    assert snapshots[0].is_finite() and "critical learning rate" in snapshots[0].message
    # lr = 200: step 2 exceeds 1e6 × the initial loss; step 1 was not recorded and is rebuilt
    snapshots = list(train_stream(model, x, y, lr=200.0, steps=50, x_eval=xe, record_every=7))
    final = snapshots[-1]
    assert [s.step for s in snapshots] == [0, 1] and final.diverged and final.is_finite()
    assert "diverged at step 2" in final.message
    one_step = train(model, x, y, lr=200.0, steps=1, x_eval=xe).final
    for name in ("f_train", "flin_train", "f_eval", "flin_eval", "loss", "loss_lin", "param_distance"):
        np.testing.assert_array_equal(getattr(final, name), getattr(one_step, name), err_msg=name)
    number = float(re.search(r"2N/λ_max\(Θ_0\) = ([0-9.e+-]+)", final.message).group(1))
    assert number == pytest.approx(critical_learning_rates(empirical_ntk(model, x)).diverge, rel=1e-3)


@pytest.mark.parametrize("kind", ["event", "callable"])
def test_stop_ends_the_stream_within_one_step(circle, kind):
    event = threading.Event()
    stop = event if kind == "event" else event.is_set
    steps_seen = []
    for snapshot in train_stream(_mlp(width=16), circle.x_train, circle.y_train, lr=0.5, steps=1000, stop=stop):
        steps_seen.append(snapshot.step)
        if snapshot.step == 5:
            event.set()
    assert steps_seen[-1] <= 6 and steps_seen[:6] == [0, 1, 2, 3, 4, 5]


def test_output_scale_makes_training_lazy(circle):
    x, y, xe = circle.x_train, circle.y_train, circle.x_eval
    runs = {alpha: train(_mlp(width=64, activation="tanh"), x, y, lr=2.0, steps=150, x_eval=xe, record_every=30,
                         output_scale=alpha) for alpha in (1.0, 4.0, 16.0)}
    sup = {alpha: run.discrepancy.max() for alpha, run in runs.items()}
    assert sup[1.0] > 2.5 * sup[4.0] > 2.5 * 2.5 * sup[16.0]  # f − f^lin = O(1/α)
    np.testing.assert_allclose(runs[16.0].flin_eval, runs[1.0].flin_eval, atol=1e-10)  # f^lin independent of α
    assert runs[16.0].param_distance[-1] < runs[1.0].param_distance[-1] / 8  # θ moves O(1/α)


def test_cross_entropy_separates_f_and_flin_more_than_mse():
    d = make_dataset("circle", n_train=16, n_eval=48, target="sin(2*t)", classification=True)
    relative = {}
    for loss in ("mse", "cross_entropy"):
        run = train(_mlp(width=128, depth=2, activation="relu"), d.x_train, d.y_train, lr=1.0, steps=400,
                    x_eval=d.x_eval, loss=loss, record_every=400)
        relative[loss] = run.discrepancy[-1] / np.sqrt(np.mean(run.flin_eval[-1] ** 2))
        assert run.loss[-1] < 0.5 * run.loss[0]
    assert relative["cross_entropy"] > 2 * relative["mse"]


@pytest.mark.parametrize("kwargs, error, message", [
    (dict(lr=0.0), ValueError, "lr"),
    (dict(lr=float("nan")), ValueError, "lr"),
    (dict(steps=-1), ValueError, "steps"),
    (dict(record_every=0), ValueError, "record_every"),
    (dict(record_every=3, kernel_every=4), ValueError, "multiple"),
    (dict(linearization="taylor"), ValueError, "linearization"),
    (dict(loss="hinge"), ValueError, "loss"),
    (dict(output_scale=-1.0), ValueError, "output_scale"),
    (dict(stop=5), TypeError, "stop"),
    (dict(y_train=torch.zeros(5)), ValueError, "rows"),
    (dict(y_train=torch.zeros(8, 2)), ValueError, "shape"),
    (dict(x_train=torch.zeros(8, 2, dtype=torch.float32)), ValueError, "dtype"),
    (dict(loss="cross_entropy"), ValueError, "labels"),
])
def test_train_validates_its_arguments(circle, kwargs, error, message):
    arguments = dict(x_train=circle.x_train, y_train=circle.y_train, lr=0.5, steps=2)
    arguments.update(kwargs)
    with pytest.raises(error, match=message):
        train(_mlp(width=8), **arguments)


def test_train_stream_validates_before_iteration(circle):
    with pytest.raises(ValueError, match="lr"):
        train_stream(_mlp(width=8), circle.x_train, circle.y_train, lr=-1.0, steps=2)  # no next() needed


# ------------------------------------------------------------------ Θ_t's spectrum and the trained network
def test_snapshots_carry_the_spectrum_of_theta_t_and_the_stream_exposes_the_trained_network(circle):
    """Θ_t's eigenvalues come with the kernel drift; the reference recomputes Θ by brute-force Jacobians
    (method="jacobian") at θ_0 (the given model) and at the final parameters (``stream.network``)."""
    model = _mlp(width=32)
    stream = train_stream(model, circle.x_train, circle.y_train, lr=0.5, steps=20, record_every=5, kernel_every=10)
    snapshots = list(stream)
    assert [s.step for s in snapshots] == [0, 5, 10, 15, 20]
    assert [s.ntk_eigenvalues is not None for s in snapshots] == [True, False, True, False, True]

    def spectrum(net):
        k = empirical_ntk(net, circle.x_train, method="jacobian").numpy()
        return np.linalg.eigvalsh(k)[::-1]
    np.testing.assert_allclose(snapshots[0].ntk_eigenvalues, spectrum(model), rtol=1e-10, atol=1e-12)
    final = spectrum(stream.network)
    np.testing.assert_allclose(snapshots[-1].ntk_eigenvalues, final, rtol=1e-10, atol=1e-12)
    assert np.abs(final - snapshots[0].ntk_eigenvalues).max() > 1e-6  # the kernel moved
    with torch.no_grad():  # the network is the trained copy: its outputs are the final snapshot's f
        np.testing.assert_allclose(stream.network(circle.x_train)[:, 0].numpy(), snapshots[-1].f_train, rtol=1e-12)
    for name, p in model.named_parameters():  # the given model was not touched
        assert not torch.equal(p, dict(stream.network.named_parameters())[name]), name
    np.testing.assert_allclose(np.linalg.eigvalsh(stream.initial_ntk.numpy())[::-1], spectrum(model), rtol=1e-10,
                               atol=1e-12)


def test_trajectory_stacks_the_spectra_with_nan_rows_where_no_kernel_was_computed(circle):
    trajectory = train(_mlp(width=16), circle.x_train, circle.y_train, lr=0.5, steps=6, record_every=2,
                       kernel_every=4)
    n = circle.x_train.shape[0]
    assert trajectory.ntk_eigenvalues.shape == (4, n)
    computed = ~np.isnan(trajectory.ntk_eigenvalues).all(axis=1)
    assert computed.tolist() == [True, False, True, False]
    assert np.isfinite(trajectory.kernel_drift[computed]).all() and np.isnan(trajectory.kernel_drift[~computed]).all()
    assert trajectory[1].ntk_eigenvalues is None and trajectory[2].ntk_eigenvalues.shape == (n,)
    assert train(_mlp(width=16), circle.x_train, circle.y_train, lr=0.5, steps=2).ntk_eigenvalues is None
