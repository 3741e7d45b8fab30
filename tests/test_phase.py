"""Tests for the lazy↔rich phase diagram: every measure against an independent computation (a plain GD loop, an
explicit Jacobian, kernels by Jacobian contraction, the alignment from its definition), the scaling laws that the
lessons teach, the stream's stop, and input validation."""
import math
import threading

import numpy as np
import pytest
import torch
from torch.func import functional_call, jacrev

import ntk_explorer as nx
from ntk_explorer.data import make_dataset
from ntk_explorer.experiments import (PHASE_MEASURES, PhaseDiagram, PhaseRun, check_scales, classification_accuracy,
                                      fit_phase_slopes, lazy_rich_phase, lazy_rich_phase_stream)
from ntk_explorer.kernels import centered_alignment
from ntk_explorer.memory import MemoryBudgetError, set_memory_budget

LR, STEPS = 30.0, 40


def jacobian(model, x):
    """∂f/∂θ as an (N·O, P) numpy matrix, from torch.func.jacrev over all parameters."""
    params = {k: v.detach() for k, v in model.named_parameters()}
    jac = jacrev(lambda p: functional_call(model, p, (x,)))(params)
    return torch.cat([j.reshape(x.shape[0] * j.shape[1], -1) for j in jac.values()], dim=1).numpy()


def reference_run(width, scale, seed, data, lr=LR, steps=STEPS):
    """Plain GD of h = f_0 + α(f − f_0) with rate lr/α², and GD of the linear model h^lin = f_0 + α J_0 δ on its
    parameter offset δ (explicit Jacobian); returns every measure computed from scratch."""
    out = data.out_dim
    model = nx.MLP(64, width, 1, out_dim=out, seed=seed, device="cpu")
    initial = model.clone()
    x, xe = data.x_train, data.x_eval
    y = data.y_train.reshape(len(x), out)
    with torch.no_grad():
        f0, f0_eval = model(x), model(xe)
    params = list(model.parameters())
    for _ in range(steps):
        h = f0 + scale * (model(x) - f0)
        loss = 0.5 * ((h - y) ** 2).sum() / len(x)
        grads = torch.autograd.grad(loss, params)
        with torch.no_grad():
            for p, g in zip(params, grads):
                p -= lr / scale ** 2 * g
    j_train, j_eval = jacobian(initial, x), jacobian(initial, xe)
    delta = np.zeros(j_train.shape[1])
    y_np, f0_np = y.numpy().reshape(-1), f0.numpy().reshape(-1)
    for _ in range(steps):
        residual = f0_np + scale * j_train @ delta - y_np
        delta -= lr / scale ** 2 * (scale / len(x)) * j_train.T @ residual
    with torch.no_grad():
        h_eval = (f0_eval + scale * (model(xe) - f0_eval)).numpy().reshape(-1)
        h_train = (f0 + scale * (model(x) - f0)).numpy().reshape(-1)
    hlin_eval = f0_eval.numpy().reshape(-1) + scale * j_eval @ delta
    hlin_train = f0_np + scale * j_train @ delta
    k0 = nx.empirical_ntk(initial, x, method="jacobian")
    kt = nx.empirical_ntk(model, x, method="jacobian")
    flat = [k if k.ndim == 2 else k.permute(0, 2, 1, 3).reshape(len(x) * out, -1) for k in (k0, kt)]
    theta = [p.detach() for p in model.parameters()]
    theta0 = [p.detach() for p in initial.parameters()]
    y_eval = data.y_eval.numpy().reshape(-1)
    return dict(
        kernel_drift=float(torch.linalg.matrix_norm(flat[1] - flat[0]) / torch.linalg.matrix_norm(flat[0])),
        param_movement=math.sqrt(sum(float(((a - b) ** 2).sum()) for a, b in zip(theta, theta0)))
        / math.sqrt(sum(float((b ** 2).sum()) for b in theta0)),
        sup_discrepancy=np.abs(h_eval - hlin_eval).max(),
        rms_discrepancy=np.sqrt(np.mean((h_eval - hlin_eval) ** 2)),
        test_loss=0.5 * np.sum((h_eval - y_eval) ** 2) / len(xe),
        test_loss_lin=0.5 * np.sum((hlin_eval - y_eval) ** 2) / len(xe),
        test_accuracy=accuracy(h_eval, data), test_accuracy_lin=accuracy(hlin_eval, data),
        train_loss=0.5 * np.sum((h_train - y_np) ** 2) / len(x),
        train_loss_lin=0.5 * np.sum((hlin_train - y_np) ** 2) / len(x),
        alignment_initial=alignment_by_definition(k0, y.numpy()),
        alignment_final=alignment_by_definition(kt, y.numpy()),
        initial_loss=0.5 * np.sum((f0_np - y_np) ** 2) / len(x))


def accuracy(outputs, data):
    if data.out_dim == 1:
        return np.mean(np.where(outputs >= 0, 1, -1) == data.y_eval.numpy())
    predicted = outputs.reshape(-1, data.out_dim).argmax(axis=1)
    return np.mean(np.asarray(data.classes)[predicted] == data.labels_eval)


def alignment_by_definition(kernel, y):
    """⟨HKH, HYYᵀH⟩_F / (‖HKH‖_F ‖HYYᵀH‖_F) with explicit H = I − 11ᵀ/N; K summed over the diagonal outputs."""
    k = kernel.numpy()
    k = np.einsum("ijoo->ij", k) if k.ndim == 4 else k
    n = len(k)
    H = np.eye(n) - np.ones((n, n)) / n
    a, b = H @ k @ H, H @ (y @ y.T) @ H
    return np.sum(a * b) / (np.linalg.norm(a) * np.linalg.norm(b))


@pytest.mark.parametrize("classes", [(3, 8), (0, 1, 7)])
def test_every_measure_matches_an_independent_computation(classes):
    data = make_dataset("digits", n_train=9, n_eval=15, classes=classes, seed=1)
    diagram = lazy_rich_phase([8, 24], [0.5, 2.0], dataset=data, steps=STEPS, seeds=[3], lr=LR, progress=False)
    assert diagram.complete and diagram.n_diverged.sum() == 0 and len(diagram.cells) == 4
    for cell in diagram.cells:
        expected = reference_run(cell.width, cell.scale, 3, data)
        expected["alignment_change"] = expected["alignment_final"] - expected["alignment_initial"]
        for measure in PHASE_MEASURES:
            value = getattr(cell, measure)
            assert value == pytest.approx(expected[measure], rel=1e-7, abs=1e-10), (measure, cell.width, cell.scale)
            assert diagram[measure][cell.row, cell.column] == value
        assert cell.kernel_drift > 0 and cell.test_accuracy > 0.5


def test_cells_average_their_seeds_and_the_diagram_is_a_grid_of_means():
    stream = lazy_rich_phase_stream([8, 16], [1.0, 4.0], dataset="digits", n_train=8, n_eval=10, steps=15,
                                    seeds=3, lr=LR)
    assert stream.n_cells == 4 and stream.settings.seeds == (0, 1, 2) and stream.settings.lr == LR
    cells = list(stream)
    assert [(c.width, c.scale) for c in cells] == [(8, 1.0), (8, 4.0), (16, 1.0), (16, 4.0)]
    for cell in cells:
        assert cell.seeds == (0, 1, 2) and [r.seed for r in cell.runs] == [0, 1, 2]
        drifts = [r.kernel_drift for r in cell.runs]
        assert cell.kernel_drift == pytest.approx(np.mean(drifts))
        assert cell.std["kernel_drift"] == pytest.approx(np.std(drifts, ddof=1))
        assert len(set(drifts)) == 3  # the seeds are different networks
    diagram = PhaseDiagram.from_cells(stream.widths, stream.scales, stream.settings, cells[:3], complete=False)
    assert diagram["test_loss"].shape == (2, 2) and math.isnan(diagram["test_loss"][1, 1])
    assert diagram.alpha_sqrt_width[1, 1] == pytest.approx(4.0 * 4.0)
    assert diagram.cell(16, 1.0) is cells[2] and len(diagram.rows()) == 3 and "kernel_drift" in str(diagram)
    with pytest.raises(KeyError, match="unknown measure"):
        diagram["drift"]


def test_ntk_parameterization_drift_falls_like_a_power_of_width_and_scale():
    """Chizat, Oyallon & Bach 2019; Lee et al. 2019, Theorem 2.1: drift ≈ C/(α^a n^b), a ≈ 1, b between ½ and 1."""
    diagram = lazy_rich_phase([32, 128, 512], [0.5, 2.0, 8.0], steps=100, n_train=16, n_eval=32, progress=False)
    drift = diagram["kernel_drift"]
    assert np.all(np.diff(drift, axis=0) < 0) and np.all(np.diff(drift, axis=1) < 0)
    slopes = fit_phase_slopes(diagram)
    assert -1.2 < slopes.width < -0.3 and -2.0 < slopes.scale < -0.7
    assert np.all(np.diff(diagram["param_movement"], axis=0) < 0)
    assert np.all(np.diff(diagram["rms_discrepancy"], axis=1) < 0)


def test_under_mup_the_kernel_drift_does_not_vanish_with_width():
    """Yang & Hu 2021: in the maximal-update parameterization the features (and Θ) move by Θ(1) at any width."""
    kwargs = dict(steps=100, n_train=16, n_eval=32, progress=False)
    mup = lazy_rich_phase([32, 128, 512], [2.0], parameterization="mup", **kwargs)["kernel_drift"][:, 0]
    ntk = lazy_rich_phase([32, 128, 512], [2.0], parameterization="ntk", **kwargs)["kernel_drift"][:, 0]
    assert mup[-1] > 0.5 * mup[0] and mup[-1] > 1.0  # μP: O(1) at width 512
    assert ntk[-1] < 0.3 * ntk[0]  # NTK: falls by more than 3× over 16× the width


def test_a_stop_set_after_the_first_cell_ends_the_stream_within_one_cell():
    stop = threading.Event()
    stream = lazy_rich_phase_stream([8, 16, 32], [1.0, 2.0], n_train=8, n_eval=8, steps=20, lr=LR, stop=stop)
    first = next(stream)
    stop.set()
    assert (first.width, first.scale) == (8, 1.0) and list(stream) == [] and stream.stopped
    calls = []

    def stop_mid_cell():  # turns True in the middle of the second cell's training
        calls.append(1)
        return len(calls) > 30

    stream = lazy_rich_phase_stream([8], [1.0, 2.0, 4.0], n_train=8, n_eval=8, steps=20, lr=LR, stop=stop_mid_cell)
    cells = list(stream)
    assert len(cells) == 1 and stream.stopped and len(calls) == 31  # the unfinished cell is dropped at once
    diagram = lazy_rich_phase([8], [1.0, 2.0], n_train=8, n_eval=8, steps=20, lr=LR, stop=lambda: True,
                              progress=False)
    assert not diagram.complete and diagram.cells == () and np.isnan(diagram["kernel_drift"]).all()


def test_a_diverging_network_gives_nan_measures_and_a_message():
    cells = list(lazy_rich_phase_stream([8], [0.01, 1.0], n_train=8, n_eval=8, steps=50, lr=LR))
    assert cells[0].n_diverged == 1 and math.isnan(cells[0].kernel_drift) and "diverged" in cells[0].messages[0]
    assert cells[1].n_diverged == 0 and math.isfinite(cells[1].kernel_drift)


def test_synthetic_regression_works_and_has_no_accuracy():
    diagram = lazy_rich_phase([8], [1.0], dataset="circle", target="sin(2*t)", n_train=8, n_eval=16, steps=30,
                              progress=False)
    assert diagram.settings.dataset == "circle" and diagram.settings.target == "sin(2*t)"
    assert math.isnan(diagram["test_accuracy"][0, 0]) and math.isfinite(diagram["test_loss"][0, 0])
    assert diagram.settings.lr == pytest.approx(0.05 * 2 * 8 / float(torch.linalg.eigvalsh(
        nx.analytic_kernels(make_dataset("circle", n_train=8, n_eval=16).x_train, depth=1).ntk)[-1]))


def test_centered_alignment_matches_its_definition_and_its_limits():
    rng = np.random.default_rng(0)
    a = rng.standard_normal((7, 7))
    k, y = a @ a.T, rng.standard_normal(7)
    assert centered_alignment(k, y) == pytest.approx(alignment_by_definition(torch.tensor(k), y[:, None]))
    assert centered_alignment(3.0 * k + 5.0, y) == pytest.approx(centered_alignment(k, y))  # scale and constant
    assert centered_alignment(np.outer(y, y), y) == pytest.approx(1.0)
    one_hot = np.eye(3)[rng.integers(0, 3, 7)]
    blocks = np.einsum("ij,ab->ijab", k, np.eye(3))  # Θ ⊗ I_3
    assert centered_alignment(blocks, one_hot) == pytest.approx(centered_alignment(k, one_hot))
    assert math.isnan(centered_alignment(k, np.ones(7)))


def test_classification_accuracy_uses_sign_or_argmax():
    assert classification_accuracy(torch.tensor([0.3, -0.1, 0.0, -2.0]), torch.tensor([1.0, 1.0, 1.0, -1.0])) == 0.75
    assert classification_accuracy(torch.tensor([[1.0, 2.0], [3.0, 0.0]]), torch.tensor([[0.0, 1.0], [0.0, 1.0]])) \
        == 0.5


def test_phase_run_carries_every_measure():
    names = {f for f in PhaseRun.__dataclass_fields__} - {"width", "scale", "seed", "diverged", "message"}
    assert names == set(PHASE_MEASURES)


@pytest.mark.parametrize("call, error, match", [
    (lambda: lazy_rich_phase_stream([], [1.0]), ValueError, "widths"),
    (lambda: lazy_rich_phase_stream([8], [0.0]), ValueError, "scales"),
    (lambda: lazy_rich_phase_stream([8], [math.nan]), ValueError, "scales"),
    (lambda: lazy_rich_phase_stream([8], "1"), TypeError, "scales"),
    (lambda: lazy_rich_phase_stream([8], [1.0], width=8), TypeError, "widths"),
    (lambda: lazy_rich_phase_stream([8], [1.0], output_scale=2.0), TypeError, "scales"),
    (lambda: lazy_rich_phase_stream([8], [1.0], kernel_every=5), TypeError, "kernel_every"),
    (lambda: lazy_rich_phase_stream([8], [1.0], widht=8), TypeError, "widht"),
    (lambda: lazy_rich_phase_stream([8], [1.0], steps=0), ValueError, "steps"),
    (lambda: lazy_rich_phase_stream([8], [1.0], seeds=0), ValueError, "seeds"),
    (lambda: lazy_rich_phase_stream([8], [1.0], stop=3), TypeError, "stop"),
    (lambda: lazy_rich_phase_stream([8], [1.0], parameterization="xavier"), ValueError, "parameterization"),
    (lambda: lazy_rich_phase_stream([8], [1.0], dataset="mnist"), ValueError, "domain"),
    (lambda: lazy_rich_phase_stream([8], [1.0], dataset=3), TypeError, "dataset"),
    (lambda: lazy_rich_phase_stream([8], [1.0], dataset=make_dataset("digits", n_train=4, n_eval=4), n_train=8),
     ValueError, "n_train"),
    (lambda: lazy_rich_phase_stream([8], [1.0], lr=-1.0), ValueError, "lr"),
])
def test_bad_arguments_raise_clear_errors_before_training(call, error, match):
    with pytest.raises(error, match=match):
        call()


def test_the_widest_network_is_checked_against_the_memory_budget_first():
    set_memory_budget(2**20)
    try:
        with pytest.raises(MemoryBudgetError, match="width=4096"):
            lazy_rich_phase_stream([8, 4096], [1.0])
    finally:
        set_memory_budget(None)
    assert list(check_scales([3, 1.0, 3.0])) == [1.0, 3.0]
