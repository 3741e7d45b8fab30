"""The static lesson figures against the data they were given (the measurements they plot are tested in
test_measurements.py)."""
import numpy as np
import pytest

from ntk_explorer import MLP, critical_learning_rates, empirical_ntk, gd_mse_predictor, train
from ntk_explorer.experiments import SMOOTHNESS, fit_slope, ntk_errors, two_layer_gaps
from ntk_explorer.plots import figures
from ntk_explorer.data import make_dataset
from ntk_explorer.spectra import mode_residuals


def test_figures_draw_the_core_measurements_and_slopes():
    """The lesson figures plot ntk_errors / two_layer_gaps (ntk_explorer.experiments) with the core's slope fits."""
    fig = figures.ntk_convergence_figure([16, 64, 256], seeds=2)
    e = ntk_errors([16, 64, 256], 2, depth=1, activation="erf", sigma_b=0.1)
    measured = next(t for t in fig.data if t.name.startswith("measured"))
    np.testing.assert_allclose(measured.y, e["errors"].mean(1), rtol=1e-12)
    assert f"slope {fit_slope(e['widths'], e['errors']).slope:.2f}" in measured.name
    fig = figures.linearization_bound_figure([16, 64, 256], activation="tanh")
    g = two_layer_gaps([16, 64, 256], activation="tanh")
    aligned = next(t for t in fig.data if t.name.startswith("aligned"))
    np.testing.assert_allclose(aligned.y, g["aligned"], rtol=1e-12)
    slope = np.polyfit(np.log(g["widths"]), np.log(g["aligned"]), 1)[0]  # independent least squares
    assert f"slope {slope:.2f}" in aligned.name
    assert figures.two_layer_gaps is two_layer_gaps and figures.SMOOTHNESS is SMOOTHNESS  # the lessons' names


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
