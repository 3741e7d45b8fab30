"""Lazy-training panel, headless: its traces equal what the core API returns for the same configuration."""
import math
import time

import numpy as np
import pytest
import torch

from ntk_explorer.dynamics.closed_form import critical_learning_rates, gd_mse_predictor
from ntk_explorer.data import make_dataset, parse_target
from ntk_explorer.dynamics import train
from ntk_explorer.kernels import empirical_ntk
from ntk_explorer.models import MLP
from ntk_explorer.plots.panels import trace_keys
from ntk_explorer.widgets import LazyTrainingPanel
from ntk_explorer.widgets.lazy_setup import N_EVAL, recording

SMALL = dict(width=64, steps=60, depth=1, n=8, activation="erf", lr=0.8, bias=0.2, seed=3, live=False)


def configure(panel, **values):
    with panel.hold_runs():
        for name, value in values.items():
            panel.controls[name].value = value


def traces(panel, figure="function"):
    return {key: (np.asarray(t.x, dtype=float), np.asarray(t.y, dtype=float))
            for key, t in trace_keys(panel.figures[figure]).items()}


def reference(cfg):
    data = make_dataset("circle", n_train=cfg["n"], n_eval=N_EVAL, target=cfg.get("target", "sin(3*t)"), seed=0)
    model = MLP(2, cfg["width"], cfg["depth"], activation=cfg["activation"], sigma_b=cfg["bias"], seed=cfg["seed"])
    record_every, kernel_every = recording(cfg["steps"])
    trajectory = train(model, data.x_train, data.y_train, lr=cfg["lr"] * model.lr_scale, steps=cfg["steps"],
                       x_eval=data.x_eval, record_every=record_every, kernel_every=kernel_every)
    return data, model, trajectory



@pytest.fixture
def panel():
    p = LazyTrainingPanel(preview=False)
    configure(p, **SMALL)
    yield p
    p.stop()


def test_traces_equal_the_core_api(panel):
    panel.run()
    assert panel.wait(60) == "done", panel.status.value
    data, model, trajectory = reference(SMALL)
    tr = traces(panel)
    np.testing.assert_allclose(tr["f"][0], data.t_eval.numpy(), rtol=0, atol=0)
    np.testing.assert_allclose(tr["f"][1], trajectory.final.f_eval, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(tr["flin"][1], trajectory.final.flin_eval, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(tr["target"][1], data.y_eval.numpy(), atol=0)
    np.testing.assert_allclose(tr["train"][1], data.y_train.numpy(), atol=0)
    with torch.no_grad():
        np.testing.assert_allclose(tr["f0"][1], model(data.x_eval)[:, 0].numpy(), atol=1e-14)
    loss = traces(panel, "loss")
    np.testing.assert_allclose(loss["loss"][0], trajectory.step)
    np.testing.assert_allclose(loss["loss"][1], trajectory.loss, rtol=1e-10)
    np.testing.assert_allclose(loss["loss_lin"][1], trajectory.loss_lin, rtol=1e-10)
    drift = traces(panel, "drift")
    finite = np.isfinite(trajectory.kernel_drift)
    np.testing.assert_allclose(drift["kernel_drift"][1], trajectory.kernel_drift[finite], rtol=1e-10)
    np.testing.assert_allclose(drift["discrepancy"][1], trajectory.discrepancy, rtol=1e-8, atol=1e-14)
    # closed form (Y. Chen, "Linearized Networks", eq. (19)) equals gd_mse_predictor, and matches f^lin trained for
    # the same steps
    k_train, k_eval = empirical_ntk(model, data.x_train), empirical_ntk(model, data.x_eval, data.x_train)
    with torch.no_grad():
        f0_train, f0_eval = model(data.x_train)[:, 0].numpy(), model(data.x_eval)[:, 0].numpy()
    predict = gd_mse_predictor(k_train, data.y_train.numpy(), SMALL["lr"])
    expected = predict(SMALL["steps"], f0_train, f0_eval, k_eval)[1]
    np.testing.assert_allclose(tr["flin_closed"][1], expected, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(tr["flin_closed"][1], trajectory.final.flin_eval, atol=1e-8)
    spectrum = traces(panel, "spectrum")
    np.testing.assert_allclose(spectrum["spectrum0"][1], np.linalg.eigvalsh(k_train.numpy())[::-1], rtol=1e-10)
    assert len(spectrum["spectrum_t"][1]) == SMALL["n"]
    assert "Run #" in panel.status.value and "done" in panel.status.value


def test_changing_a_slider_mid_run_cancels_and_the_final_traces_are_the_new_ones(panel):
    configure(panel, steps=3000, live=True)
    panel.controls["width"].value = 128  # live: starts a long run
    deadline = time.time() + 30
    while (panel.last_state is None or panel.last_state["step"] < 20) and time.time() < deadline:
        time.sleep(0.01)
    first_run = panel.run_id
    assert panel.last_state["step"] >= 20 and panel.runner.running  # it is really training
    configure(panel, steps=SMALL["steps"])
    panel.controls["width"].value = 32  # starts the second run, cancelling the first
    assert panel.run_id == first_run + 1
    assert panel.wait(60) == "done"
    _, _, trajectory = reference(dict(SMALL, width=32))
    np.testing.assert_allclose(traces(panel)["f"][1], trajectory.final.f_eval, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(traces(panel, "loss")["loss"][1], trajectory.loss, rtol=1e-10)
    assert panel.last_state["setup"].model.width == 32 and f"Run #{first_run + 1} done" in panel.status.value


def test_divergence_is_a_message_and_no_plot_holds_nan(panel):
    data, model, _ = reference(dict(SMALL, steps=1))
    diverge = critical_learning_rates(empirical_ntk(model, data.x_train)).diverge
    configure(panel, lr=min(100.0, 3 * diverge), steps=400)
    panel.run()
    assert panel.wait(60) == "diverged"
    assert "diverged" in panel.status.value and "critical learning rate" in panel.status.value
    assert "diverges along the top eigenmode" in panel.warnings.value
    for name in panel.figures:
        for x, y in traces(panel, name).values():
            assert np.isfinite(x).all() and np.isfinite(y).all(), name
    assert len(traces(panel)["flin_closed"][1]) == 0  # the unbounded closed form is not drawn


def test_teaching_guards(panel):
    configure(panel, radius=3.0)
    panel.preview()
    panel.wait(60)
    assert "far from 1" in panel.warnings.value
    data, model, _ = reference(dict(SMALL, steps=1, activation="relu"))  # well-conditioned: distinct rates
    rates = critical_learning_rates(empirical_ntk(model, data.x_train))
    assert rates.diverge > 1.01 * rates.converge
    configure(panel, radius=1.0, activation="relu", lr=0.5 * (rates.converge + rates.diverge))
    panel.preview()
    panel.wait(60)
    assert "expect oscillation" in panel.warnings.value and "far from 1" not in panel.warnings.value
    assert "ill-conditioned" not in panel.warnings.value
    configure(panel, activation="erf", bias=0.0, n=48, lr=0.1)  # odd kernel, many points: singular Θ_0
    panel.preview()
    panel.wait(60)
    assert "ill-conditioned" in panel.warnings.value


def test_preview_shows_the_closed_form_for_any_step_count_without_training(panel):
    panel.preview()
    panel.wait(60)
    before = traces(panel)
    np.testing.assert_array_equal(before["f"][1], before["f0"][1])
    configure(panel, steps=1000)
    panel.preview()
    panel.wait(60)
    after = traces(panel)
    assert not np.allclose(after["flin_closed"][1], before["flin_closed"][1])
    assert len(traces(panel, "loss")["loss"][0]) == 0  # nothing was trained


def test_clicking_adds_and_removes_training_points_and_bad_targets_show_errors(panel):
    panel.preview()
    panel.wait(60)

    class Points:
        def __init__(self, i):
            self.point_inds = [i]
    fig = trace_keys(panel.figures["function"])
    angle = float(fig["target"].x[5])
    panel._on_target_click(fig["target"], Points(5), None)
    panel.wait(60)
    x, y = traces(panel)["train"]
    assert len(x) == SMALL["n"] + 1 and np.isclose(x, angle).any()
    np.testing.assert_allclose(y, parse_target("sin(3*t)")(x), atol=1e-12)
    panel._on_point_click(fig["train"], Points(0), None)
    panel.wait(60)
    assert len(traces(panel)["train"][0]) == SMALL["n"]
    panel.controls["target"].value = "sin(3*t"  # live is off: a preview run reports the parse error
    assert panel.wait(60) == "error" and "cannot parse" in panel.status.value


def test_export_and_the_snippet_reproduces_the_run(panel):
    panel.run()
    panel.wait(60)
    csv_text = panel.to_csv().splitlines()
    assert csv_text[0] == "step,loss,loss_lin,discrepancy,kernel_drift,param_distance"
    assert csv_text[1].startswith("0,")
    assert len(csv_text) == 1 + len(traces(panel, "loss")["loss"][0])
    assert '"panel": "lazy"' in panel.to_json()
    assert "<html>" in panel.figure_html("function")
    namespace = {}
    exec(panel.snippet().replace("print(trajectory.final)", ""), namespace)
    np.testing.assert_allclose(namespace["trajectory"].final.f_eval, traces(panel)["f"][1], rtol=1e-10)
    assert math.isfinite(namespace["trajectory"].final.loss)
