"""The static lesson figures: the numbers they compute (the two-layer bound of Sutherland's NTK slides, the
empirical-to-analytic NTK
error) against independent references, and the figures against the data they were given."""
import math

import numpy as np
import pytest
import torch

from ntk_explorer import MLP, critical_learning_rates, empirical_ntk, gd_mse_predictor, train
from ntk_explorer.plots import figures
from ntk_explorer.data import make_dataset
from ntk_explorer.spectra import mode_residuals


def test_smoothness_constants_are_the_sup_of_the_second_derivative():
    z = torch.linspace(-6, 6, 200001, dtype=torch.float64, requires_grad=True)
    for name, phi in {"erf": torch.special.erf, "tanh": torch.tanh, "softplus": torch.nn.functional.softplus,
                      "gelu": torch.nn.functional.gelu}.items():
        first = torch.autograd.grad(phi(z).sum(), z, create_graph=True)[0]
        second = torch.autograd.grad(first.sum(), z)[0]
        assert second.abs().max().item() == pytest.approx(figures.SMOOTHNESS[name], rel=1e-6), name


def test_two_layer_gaps_respect_seed_004_bound_and_its_rate():
    widths = [16, 256, 4096]
    for activation in ("erf", "tanh"):
        g = figures.two_layer_gaps(widths, radius=1.0, activation=activation)
        assert np.all(g["random"] <= g["bound"]) and np.all(g["aligned"] <= g["bound"])
        np.testing.assert_allclose(g["bound"], figures.SMOOTHNESS[activation] / (2 * np.sqrt(widths)))
    # erf, aligned direction: the second-order terms add up to E|σ''(z)|/2·r²/√m, z ~ N(0, 1/2): E|erf''| = 2/π,
    # so gap/bound → (2/π)/β = sqrt(e/(2π)) (up to third-order terms and the sampling of the m neurons)
    g = figures.two_layer_gaps([4096, 16384], radius=1.0, activation="erf")
    np.testing.assert_allclose(g["aligned"] / g["bound"], math.sqrt(math.e / (2 * math.pi)), rtol=0.05)


def test_two_layer_gap_is_quadratic_and_vanishes_for_a_linear_activation():
    small = figures.two_layer_gaps([1024], radius=0.05, activation="tanh")
    double = figures.two_layer_gaps([1024], radius=0.1, activation="tanh")
    assert double["aligned"][0] / small["aligned"][0] == pytest.approx(4.0, rel=0.02)
    assert double["random"][0] / small["random"][0] == pytest.approx(4.0, rel=0.05)
    linear = figures.two_layer_gaps([64], radius=1.0, activation="identity")
    assert linear["aligned"][0] < 1e-12 and linear["random"][0] < 1e-12 and linear["bound"][0] == 0.0
    with pytest.raises(ValueError, match="relu"):
        figures.two_layer_gaps([16], activation="relu")


def test_ntk_errors_shrink_like_inverse_square_root_of_width():
    e = figures.ntk_errors([64, 16384], seeds=3, depth=1, activation="erf", sigma_b=0.1, n_points=32)
    ratio = e["errors"][0].mean() / e["errors"][1].mean()  # width × 256: about 16 for n^{-1/2}
    assert 8 < ratio < 32
    model = MLP(2, 64, 1, activation="erf", sigma_b=0.1, seed=0, device="cpu")
    k = empirical_ntk(model, e["x"])
    expected = torch.linalg.matrix_norm(k - e["ntk"]) / torch.linalg.matrix_norm(e["ntk"])
    assert e["errors"][0, 0] == pytest.approx(expected.item(), rel=1e-12)


@pytest.fixture(scope="module")
def run():
    data = make_dataset("circle", n_train=8, n_eval=32, target="sin(2*t)")
    model = MLP(2, 64, 1, activation="erf", sigma_b=0.1, seed=0)
    kernel = empirical_ntk(model, data.x_train)
    lr = 0.3 * critical_learning_rates(kernel).diverge
    trajectory = train(model, data.x_train, data.y_train, lr=lr, steps=40, x_eval=data.x_eval, record_every=2,
                       kernel_every=10)
    return data, kernel, lr, trajectory


def test_trajectory_and_runs_figures_draw_the_trajectory(run):
    data, _, _, trajectory = run
    fig = figures.trajectory_figure(trajectory, data)
    by_name = {t.name: t for t in fig.data}
    np.testing.assert_array_equal(by_name["f_t (network), t = 40"].y, trajectory.f_eval[-1])
    np.testing.assert_array_equal(by_name["f^lin_t (linearized), t = 40"].y, trajectory.flin_eval[-1])
    drift = by_name["‖Θ_t − Θ_0‖_F/‖Θ_0‖_F"]
    assert len(drift.y) == 4 and np.all(drift.y > 0)  # steps 10, 20, 30, 40: the 0 at step 0 is not on a log axis
    many = figures.runs_figure({"a": trajectory, "b": trajectory})
    assert len(many.data) == 4 and all(np.all(np.asarray(t.y) > 0) for t in many.data)
    no_eval = train(MLP(2, 8, 1), data.x_train, data.y_train, lr=0.1, steps=1)
    with pytest.raises(ValueError, match="x_eval"):
        figures.trajectory_figure(no_eval, data)


def test_mode_decay_figure_overlays_network_and_closed_form(run):
    data, kernel, lr, trajectory = run
    fig = figures.mode_decay_figure(kernel, trajectory, data.y_train, lr, ranks=[0, 7])
    theory = mode_residuals(kernel, trajectory.f_train[0], data.y_train, lr, [int(s) for s in trajectory.step])
    predicted = np.abs(theory.projections.numpy()[:, 7])
    np.testing.assert_allclose(fig.data[3].y, predicted[predicted > 0])
    assert len(fig.data) == 4


def test_gd_vs_flow_figure_matches_the_closed_forms(run):
    data, kernel, _, trajectory = run
    fig = figures.gd_vs_flow_figure(kernel, trajectory.f_train[0], data.y_train, ratios=(0.05, 1.05), steps=30)
    y = data.y_train.numpy()
    lr = 1.05 * critical_learning_rates(kernel).diverge
    gd = gd_mse_predictor(kernel, y, lr)(30, trajectory.f_train[0])[0]
    assert fig.data[2].y[-1] == pytest.approx(0.5 * np.mean((gd - y) ** 2), rel=1e-12)
    small_gd, small_flow = fig.data[0].y, fig.data[1].y  # far below the edge GD ≈ gradient flow
    np.testing.assert_allclose(small_gd, small_flow, rtol=0.05)
    assert fig.data[2].y[-1] > fig.data[2].y[0] > fig.data[3].y[-1]  # above 2N/λ_max: GD grows, the flow does not
