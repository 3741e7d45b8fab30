"""Lazy-training panel, headless: its traces equal what the core API returns for the same settings."""
import math
import time

import numpy as np
import pytest
import torch

from ntk_explorer.data import make_dataset, parse_target
from ntk_explorer.dynamics import train
from ntk_explorer.dynamics.closed_form import critical_learning_rates, gd_mse_predictor
from ntk_explorer.kernels import empirical_ntk
from ntk_explorer.models import MLP
from ntk_explorer.plots.panels import trace_keys, trace_x
from ntk_explorer.widgets import Dashboard, LazySettings, LazyTrainingPanel
from ntk_explorer.widgets.lazy_setup import N_EVAL, recording

SMALL = dict(width=64, steps=60, depth=1, n=8, activation="erf", lr=0.8, bias=0.2, seed=3, live=False)


def traces(panel):
    """trace key → (x, y) of the panel's one figure."""
    return {key: (trace_x(t), np.asarray(t.y if t.y is not None else [], dtype=float))
            for key, t in trace_keys(panel.figure).items()}


def reference(cfg):
    data = make_dataset("circle", n_train=cfg["n"], n_eval=N_EVAL, target=cfg.get("target", "sin(3*t)"), seed=0)
    model = MLP(2, cfg["width"], cfg["depth"], activation=cfg["activation"], sigma_b=cfg["bias"], seed=cfg["seed"])
    record_every, kernel_every = recording(cfg["steps"])
    trajectory = train(model, data.x_train, data.y_train, lr=cfg["lr"] * model.lr_scale, steps=cfg["steps"],
                       x_eval=data.x_eval, record_every=record_every, kernel_every=kernel_every)
    return data, model, trajectory


class Points:
    """What plotly hands a click callback: the indices of the clicked points."""

    def __init__(self, i):
        self.point_inds = [i]


@pytest.fixture
def panel():
    p = LazyTrainingPanel(**SMALL)
    yield p
    p.stop()


def test_traces_equal_the_core_api(panel):
    assert panel.settings == LazySettings(**SMALL)
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
    np.testing.assert_allclose(tr["loss"][0], trajectory.step)  # drawn at the recorded steps (x0/dx)
    np.testing.assert_allclose(tr["loss"][1], trajectory.loss, rtol=1e-10)
    np.testing.assert_allclose(tr["loss_lin"][1], trajectory.loss_lin, rtol=1e-10)
    finite = np.isfinite(trajectory.kernel_drift)
    np.testing.assert_allclose(tr["kernel_drift"][0], trajectory.step[finite])
    np.testing.assert_allclose(tr["kernel_drift"][1], trajectory.kernel_drift[finite], rtol=1e-10)
    np.testing.assert_allclose(tr["discrepancy"][1], trajectory.discrepancy, rtol=1e-8, atol=1e-14)
    # closed form (Y. Chen, "Linearized Networks", eq. (19)) equals gd_mse_predictor, and matches f^lin trained
    # for the same steps
    k_train, k_eval = empirical_ntk(model, data.x_train), empirical_ntk(model, data.x_eval, data.x_train)
    with torch.no_grad():
        f0_train, f0_eval = model(data.x_train)[:, 0].numpy(), model(data.x_eval)[:, 0].numpy()
    predict = gd_mse_predictor(k_train, data.y_train.numpy(), SMALL["lr"])
    expected = predict(SMALL["steps"], f0_train, f0_eval, k_eval)[1]
    np.testing.assert_allclose(tr["flin_closed"][1], expected, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(tr["flin_closed"][1], trajectory.final.flin_eval, atol=1e-8)
    np.testing.assert_allclose(tr["spectrum0"][1], np.linalg.eigvalsh(k_train.numpy())[::-1], rtol=1e-10)
    # Θ_t's spectrum is the core's, at the last step where it computed the kernel drift (here the final step)
    assert SMALL["steps"] % recording(SMALL["steps"])[1] == 0
    np.testing.assert_allclose(tr["spectrum_t"][1], trajectory.final.ntk_eigenvalues, rtol=1e-12)
    assert trace_keys(panel.figure)["spectrum_t"].name == f"spectrum of Θ_t at step {SMALL['steps']}"
    assert not np.allclose(tr["spectrum_t"][1], tr["spectrum0"][1])  # the kernel moved
    assert "Run #" in panel.status.value and "done" in panel.status.value


def test_changing_a_slider_mid_run_cancels_and_the_final_traces_are_the_new_ones(panel):
    panel.apply(steps=3000, live=True, run=False)
    panel.controls["width"].value = 128  # live: starts a long run
    deadline = time.time() + 30
    while (panel.frame is None or panel.frame.step < 20) and time.time() < deadline:
        time.sleep(0.01)
    first_run = panel.run_id
    assert panel.frame.step >= 20 and panel.running  # it is really training
    panel.apply(steps=SMALL["steps"], run=False)
    panel.controls["width"].value = 32  # starts the second run, cancelling the first
    assert panel.run_id == first_run + 1
    assert panel.wait(60) == "done"
    _, _, trajectory = reference(dict(SMALL, width=32))
    np.testing.assert_allclose(traces(panel)["f"][1], trajectory.final.f_eval, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(traces(panel)["loss"][1], trajectory.loss, rtol=1e-10)
    assert panel.frame.setup.model.width == 32 and f"Run #{first_run + 1} done" in panel.status.value


def test_divergence_is_a_message_and_no_plot_holds_nan(panel):
    data, model, _ = reference(dict(SMALL, steps=1))
    diverge = critical_learning_rates(empirical_ntk(model, data.x_train)).diverge
    panel.apply(lr=min(100.0, 3 * diverge), steps=400, run=True)
    assert panel.wait(60) == "diverged"
    assert "diverged" in panel.status.value and "critical learning rate" in panel.status.value
    assert "diverges along the top eigenmode" in panel.warnings.value
    for x, y in traces(panel).values():
        assert np.isfinite(x).all() and np.isfinite(y).all()
    assert len(traces(panel)["flin_closed"][1]) == 0  # the unbounded closed form is not drawn


def test_teaching_guards(panel):
    panel.apply(radius=3.0)  # live is off: a change redraws the network at initialisation
    panel.wait(60)
    assert "far from 1" in panel.warnings.value
    data, model, _ = reference(dict(SMALL, steps=1, activation="relu"))  # well-conditioned: distinct rates
    rates = critical_learning_rates(empirical_ntk(model, data.x_train))
    assert rates.diverge > 1.01 * rates.converge
    panel.apply(radius=1.0, activation="relu", lr=0.5 * (rates.converge + rates.diverge))
    panel.wait(60)
    assert "expect oscillation" in panel.warnings.value and "far from 1" not in panel.warnings.value
    assert "ill-conditioned" not in panel.warnings.value
    panel.apply(activation="erf", bias=0.0, n=48, lr=0.1)  # odd kernel, many points: singular Θ_0
    panel.wait(60)
    assert "ill-conditioned" in panel.warnings.value


def test_preview_shows_the_closed_form_for_any_step_count_without_training(panel):
    panel.preview()
    panel.wait(60)
    before = traces(panel)
    np.testing.assert_array_equal(before["f"][1], before["f0"][1])
    panel.apply(steps=1000)
    panel.wait(60)
    after = traces(panel)
    assert not np.allclose(after["flin_closed"][1], before["flin_closed"][1])
    assert len(traces(panel)["loss"][1]) == 0  # nothing was trained


def test_clicking_adds_and_removes_training_points_and_the_link_carries_them(panel):
    panel.preview()
    panel.wait(60)
    fig = trace_keys(panel.figure)
    angle = float(trace_x(fig["target"])[5])
    first = panel.run_id
    panel._on_target_click(fig["target"], Points(5), None)  # what plotly calls on a click on the target curve
    assert panel.run_id == first + 1  # one run (a preview: live is off)
    panel.wait(60)
    x, y = traces(panel)["train"]
    assert len(x) == SMALL["n"] + 1 and np.isclose(x, angle, atol=1e-6).any()
    assert panel.settings.points is not None and len(panel.settings.points) == SMALL["n"] + 1
    np.testing.assert_allclose(y, parse_target("sin(3*t)")(np.stack([np.cos(x), np.sin(x)], 1)), atol=1e-12)
    link = panel.link_query()
    assert "points=" in link
    shared = Dashboard(link)  # the link opens the same settings, clicked points included
    other = shared.panels["lazy"]
    assert other.settings == panel.settings
    assert other.wait(60) == "done"
    np.testing.assert_array_equal(traces(other)["train"][0], x)
    np.testing.assert_array_equal(traces(other)["f0"][1], traces(panel)["f0"][1])
    panel._on_point_click(fig["train"], Points(0), None)
    panel.wait(60)
    assert len(traces(panel)["train"][0]) == SMALL["n"]
    panel.controls["n"].value = 10  # a new number of points: the preset grid again
    assert panel.settings.points is None and panel.settings.n == 10
    panel.wait(60)


def test_a_bad_target_is_refused_with_a_visible_error_and_the_settings_stay_valid(panel):
    before = panel.run_id
    panel.controls["target"].value = "sin(3*t"
    assert panel.run_id == before  # nothing started
    assert "ntk-status-error" in panel.status.value and "cannot parse" in panel.status.value
    assert panel.settings.target == "sin(3*t)"
    panel.controls["target"].value = "sin(2*t)"
    assert panel.settings.target == "sin(2*t)" and panel.run_id == before + 1
    panel.wait(60)


def test_export_and_the_snippet_reproduces_the_run(panel):
    panel.run()
    panel.wait(60)
    csv_text = panel.to_csv().splitlines()
    assert csv_text[0] == "step,loss,loss_lin,discrepancy,kernel_drift,param_distance"
    assert csv_text[1].startswith("0,")
    assert len(csv_text) == 1 + len(traces(panel)["loss"][1])
    exported = __import__("json").loads(panel.to_json())
    assert exported["panel"] == "lazy" and exported["settings"] == panel.settings.as_dict()
    assert exported["link"] == "?" + panel.link_query()
    assert "<html>" in panel.figure_html()
    namespace = {}
    exec(panel.snippet().replace("print(trajectory.final)", ""), namespace)
    assert namespace["s"] == panel.settings
    np.testing.assert_allclose(namespace["trajectory"].final.f_eval, traces(panel)["f"][1], rtol=1e-10)
    assert math.isfinite(namespace["trajectory"].final.loss)
