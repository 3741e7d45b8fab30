"""The iso-lines α√n = c and the cell edges of the phase diagram, against their definitions computed by hand."""
import math

import numpy as np
import pytest

from ntk_explorer.experiments import alpha_sqrt_width_isolines, grid_edges, isoline_levels


def test_grid_edges_are_geometric_midpoints_and_half_steps_at_the_ends():
    np.testing.assert_allclose(grid_edges([16, 64, 32]), [16 / math.sqrt(2), math.sqrt(16 * 32), math.sqrt(32 * 64),
                                                          64 * math.sqrt(2)], rtol=1e-14)
    # uneven steps: each end extends by half of its own neighbouring step (in log)
    np.testing.assert_allclose(grid_edges([0.1, 0.3, 10.0]), [0.1 / math.sqrt(3), math.sqrt(0.03), math.sqrt(3.0),
                                                              10 * math.sqrt(10 / 0.3)], rtol=1e-14)
    np.testing.assert_allclose(grid_edges([5.0]), [5 / math.sqrt(2), 5 * math.sqrt(2)], rtol=1e-15)
    with pytest.raises(ValueError, match="positive"):
        grid_edges([0.0, 1.0])


def test_levels_are_the_decades_inside_the_grid():
    # cells of widths 16..128 and α 0.1..10 span α√n from 0.1/√3·√(16/√2) ≈ 0.19 to 10·√(10/3)·√(128·√2) ≈ 246
    assert isoline_levels([16, 32, 64, 128], [0.1, 0.3, 1, 3, 10]) == (1.0, 10.0, 100.0)
    # a narrow grid: 3·10^k is added when fewer than two decades fall inside
    low = 0.5 / math.sqrt(2) * math.sqrt(16 / math.sqrt(2))
    high = 2.0 * math.sqrt(2) * math.sqrt(32 * math.sqrt(2))
    levels = isoline_levels([16, 32], [0.5, 1.0, 2.0])
    assert levels == (3.0, 10.0) and all(low < c < high for c in levels)


def test_every_isoline_point_has_alpha_sqrt_n_equal_to_its_level_and_stays_in_the_cells():
    widths, scales = [16, 32, 64, 128, 256], [0.03, 0.1, 0.3, 1.0, 3.0, 10.0]
    n_edges, a_edges = grid_edges(widths), grid_edges(scales)
    lines = alpha_sqrt_width_isolines(widths, scales, points=7)
    assert [line.level for line in lines] == list(isoline_levels(widths, scales))
    for line in lines:
        assert len(line.widths) == 7 and np.all(np.diff(line.widths) > 0)
        np.testing.assert_allclose(line.scales * np.sqrt(line.widths), line.level, rtol=1e-13)
        assert np.all(line.widths >= n_edges[0] * (1 - 1e-12)) and np.all(line.widths <= n_edges[-1] * (1 + 1e-12))
        assert np.all(line.scales >= a_edges[0] * (1 - 1e-12)) and np.all(line.scales <= a_edges[-1] * (1 + 1e-12))
        # a line ends where it leaves the box: on the left or top edge, and on the right or bottom edge
        start, end = (line.widths[0], line.scales[0]), (line.widths[-1], line.scales[-1])
        assert math.isclose(start[0], n_edges[0]) or math.isclose(start[1], a_edges[-1])
        assert math.isclose(end[0], n_edges[-1]) or math.isclose(end[1], a_edges[0])
        # evenly spaced on a log axis
        np.testing.assert_allclose(np.diff(np.log(line.widths)), np.log(end[0] / start[0]) / 6, rtol=1e-10)


def test_levels_outside_the_grid_are_left_out_and_bad_arguments_are_refused():
    lines = alpha_sqrt_width_isolines([16, 64], [1.0, 10.0], levels=[0.001, 10.0, 1e6])
    assert [line.level for line in lines] == [10.0]
    with pytest.raises(ValueError, match="points"):
        alpha_sqrt_width_isolines([16], [1.0], points=1)
    with pytest.raises(ValueError, match="positive"):
        alpha_sqrt_width_isolines([16], [1.0], levels=[-1.0])


# ------------------------------------------------------------------------------------------ the lazy baseline
def test_lazy_baseline_reproduces_the_trained_linearization_and_converges_to_kernel_regression():
    import torch
    from ntk_explorer import MLP, empirical_ntk, lazy_rich_phase
    from ntk_explorer.data import make_dataset
    from ntk_explorer.experiments import lazy_baseline
    diagram = lazy_rich_phase([8, 16], [1.0, 4.0], dataset="digits", classes=(3, 8), n_train=10, n_eval=12, steps=25,
                              seeds=2, progress=False, data_seed=3)
    for width in (8, 16):
        at_t = lazy_baseline(diagram, width, steps=25)  # closed form against the lock-step trained h^lin
        row = list(diagram.widths).index(width)
        assert at_t.test_loss == pytest.approx(diagram["test_loss_lin"][row, 0], rel=1e-9)
        assert at_t.test_accuracy == pytest.approx(diagram["test_accuracy_lin"][row, 1], abs=1e-12)
    # t = ∞: kernel regression from f_0 with the empirical NTK, solved directly, one network per seed
    data = make_dataset("digits", n_train=10, n_eval=12, classes=(3, 8), seed=3)
    losses = []
    for seed in (0, 1):
        net = MLP(64, 16, 1, activation="relu", seed=seed)
        k, k_eval = empirical_ntk(net, data.x_train), empirical_ntk(net, data.x_eval, data.x_train)
        with torch.no_grad():
            f0, f0_eval = net(data.x_train)[:, 0], net(data.x_eval)[:, 0]
        f_eval = f0_eval + k_eval @ torch.linalg.solve(k, data.y_train - f0)
        losses.append(float(0.5 * ((f_eval - data.y_eval) ** 2).mean()))
    assert lazy_baseline(diagram, 16).test_loss == pytest.approx(np.mean(losses), rel=1e-8)


def test_lazy_baseline_with_one_hot_outputs_and_bad_arguments():
    from ntk_explorer import lazy_rich_phase
    from ntk_explorer.experiments import lazy_baseline
    diagram = lazy_rich_phase([8], [2.0], dataset="digits", classes=(0, 1, 2), n_train=9, n_eval=9, steps=15,
                              progress=False)
    baseline = lazy_baseline(diagram, 8, steps=15)
    assert baseline.test_loss == pytest.approx(diagram["test_loss_lin"][0, 0], rel=1e-9)
    assert baseline.test_accuracy == pytest.approx(diagram["test_accuracy_lin"][0, 0], abs=1e-12)
    with pytest.raises(ValueError, match="not in the diagram"):
        lazy_baseline(diagram, 32)
