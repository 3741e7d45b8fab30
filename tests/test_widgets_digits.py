"""The digits in the panels that offer data sets, headless.  Lazy training: the test accuracy of f and f^lin it plots
is the core's training run scored independently, the misclassified images it shows are the ones the outputs get
wrong, ten classes train ten outputs, the data switch hides what does not apply, and its reproducing code gives the
same numbers.  Width scaling: the sweep is ``width_sweep`` on the digits.  Learnability: the kernel is built on the
digit images and the learning curve is eigenlearning's prediction against measured kernel regression."""
import numpy as np
import pytest
import torch

from ntk_explorer.data import make_dataset, predicted_labels
from ntk_explorer.dynamics import train
from ntk_explorer.models import MLP
from ntk_explorer.plots.panels import trace_keys, trace_x
from ntk_explorer.widgets import LazySettings, LazyTrainingPanel
from ntk_explorer.widgets.lazy_setup import N_EVAL_DIGITS, recording

SMALL = dict(dataset="digits", width=64, steps=60, depth=1, n=12, activation="relu", lr=10.0, bias=0.1, seed=2,
             live=False)


def reference(cfg, classes):
    data = make_dataset("digits", n_train=cfg["n"], n_eval=N_EVAL_DIGITS, classes=classes, seed=0)
    model = MLP(64, cfg["width"], cfg["depth"], out_dim=data.out_dim, activation=cfg["activation"],
                sigma_b=cfg["bias"], seed=cfg["seed"])
    record_every, kernel_every = recording(cfg["steps"])
    trajectory = train(model, data.x_train, data.y_train, lr=cfg["lr"], steps=cfg["steps"], x_eval=data.x_eval,
                       record_every=record_every, kernel_every=kernel_every)
    return data, trajectory


def test_predicted_labels_decode_the_targets_of_the_digits():
    assert predicted_labels(np.array([0.3, -2.0, 0.0]), (3, 8)).tolist() == [3, 8, 3]  # f ≥ 0 is y = +1
    assert predicted_labels(torch.tensor([[0.1], [-0.1]]), (4, 9)).tolist() == [4, 9]
    assert predicted_labels(np.array([[0.1, 0.9, 0.0], [2.0, -1.0, 1.0]]), (0, 5, 7)).tolist() == [5, 0]
    data = make_dataset("digits", n_train=10, n_eval=30, classes=(1, 2, 6), seed=1)
    assert np.array_equal(predicted_labels(data.y_eval, data.classes), data.labels_eval)
    with pytest.raises(ValueError, match="two classes"):
        predicted_labels(np.zeros(3), (1, 2, 3))
    with pytest.raises(ValueError, match="shape"):
        predicted_labels(np.zeros((3, 2)), (1, 2, 3))


def test_two_digits_accuracy_curves_and_misclassified_images_equal_the_core_run():
    panel = LazyTrainingPanel(**SMALL)
    panel.run()
    assert panel.wait(120) == "done", panel.status.value
    data, trajectory = reference(SMALL, (3, 8))
    traces = trace_keys(panel.figure)
    y = data.y_eval.numpy()
    expected = [np.mean(np.where(f >= 0, 1.0, -1.0) == y) for f in trajectory.f_eval]  # sign against ±1, by hand
    expected_lin = [np.mean(np.where(f >= 0, 1.0, -1.0) == y) for f in trajectory.flin_eval]
    np.testing.assert_allclose(np.asarray(traces["accuracy"].y), expected, atol=1e-15)
    np.testing.assert_allclose(np.asarray(traces["accuracy_lin"].y), expected_lin, atol=1e-15)
    np.testing.assert_array_equal(trace_x(traces["accuracy"]), trajectory.step)
    assert len(traces["f"].y) == 0 and len(traces["target"].y) == 0  # nothing of the circle
    assert panel.figure.layout.annotations[0].text.startswith("Test accuracy")
    wrong = int(np.sum(np.where(trajectory.final.f_eval >= 0, 1, -1) != y))
    assert f"misclassifies at step 60: {wrong} of {N_EVAL_DIGITS}" in panel.thumbnails.value
    assert panel.thumbnails.value.count("<figure") == min(wrong, 8)
    assert f"test accuracy {expected[-1]:.3f} (f)" in panel.status.value
    csv_head = panel.to_csv().splitlines()[0]
    assert csv_head == "step,loss,loss_lin,discrepancy,kernel_drift,param_distance,test_accuracy,test_accuracy_lin"
    namespace = {}
    exec(panel.snippet().replace("print(trajectory.final)", ""), namespace)
    np.testing.assert_allclose(namespace["trajectory"].final.f_eval, trajectory.final.f_eval, rtol=1e-12)


def test_ten_digits_train_ten_outputs():
    cfg = {**SMALL, "n": 20, "classes": "0-9", "steps": 40}
    panel = LazyTrainingPanel(**cfg)
    panel.run()
    assert panel.wait(120) == "done", panel.status.value
    data, trajectory = reference(cfg, tuple(range(10)))
    labels = data.labels_eval
    expected = [np.mean(np.argmax(f, axis=1) == labels) for f in trajectory.f_eval]
    np.testing.assert_allclose(np.asarray(trace_keys(panel.figure)["accuracy"].y), expected, atol=1e-15)
    assert panel.frame.f.shape == (N_EVAL_DIGITS, 10)
    assert len(trace_keys(panel.figure)["spectrum0"].y) == 20 * 10  # Θ_0 is (N·O) × (N·O)
    closed = trace_keys(panel.figure)["flin_closed"]
    assert "test accuracy" in closed.hovertemplate and closed.y[0] == closed.y[1]
    labels = data.labels_eval
    flin_closed_accuracy = np.mean(np.argmax(panel.frame.flin_closed, axis=1) == labels)
    assert closed.y[0] == pytest.approx(flin_closed_accuracy, abs=1e-15)
    assert closed.y[0] == pytest.approx(trace_keys(panel.figure)["accuracy_lin"].y[-1], abs=0.01)  # = the trained


def test_the_data_switch_sets_the_rate_and_shows_only_what_applies():
    panel = LazyTrainingPanel(width=32, depth=1, n=8, steps=20, live=False)
    assert panel.controls["target"].layout.display is None and panel.controls["classes"].layout.display == "none"
    panel.controls["dataset"].value = "digits"  # what a user does: the control
    assert panel.settings.dataset == "digits" and panel.settings.lr == 10.0
    assert panel.controls["lr"].value == 10.0
    for name in ("target", "noise", "radius"):
        assert panel.controls[name].layout.display == "none", name
    assert panel.controls["classes"].layout.display is None and panel.preset.layout.display == "none"
    assert panel.wait(120) == "done"  # the preview at the new settings
    assert panel.figure.layout.xaxis.title.text == "GD step"
    panel.controls["dataset"].value = "circle"
    assert panel.settings.lr == 1.0 and panel.preset.layout.display is None
    assert panel.wait(120) == "done"
    assert panel.figure.layout.xaxis.title.text == "angle t on the unit circle"
    assert len(trace_keys(panel.figure)["accuracy"].y) == 0 and panel.thumbnails.value == ""
    assert LazySettings(dataset="digits", classes="0-9").problem().classes == tuple(range(10))


# ------------------------------------------------------------------------------------------ width scaling
def test_width_panel_on_the_digits_equals_width_sweep():
    from ntk_explorer.experiments import width_sweep
    from ntk_explorer.widgets import WidthScalingPanel, WidthSettings
    panel = WidthScalingPanel(min_width=32, max_width=64, seeds=2, steps=20, n=12)
    panel.controls["dataset"].value = "digits"  # the control: the rate follows the data set
    assert panel.settings.lr == 10.0 and panel.controls["lr"].value == 10.0
    assert panel.controls["target"].layout.display == "none" and panel.controls["classes"].layout.display is None
    panel.apply(classes="0,1,2", run=True)
    assert panel.wait(300) == "done", panel.status.value
    expected = width_sweep([32, 64], 2, depth=1, activation="erf", parameterization="ntk", sigma_b=0.1, n_train=12,
                           n_eval=128, lr=10.0, steps=20, record_every=1, kernel_every=5, domain="digits",
                           classes=(0, 1, 2), progress=False)
    columns = panel.export_columns()
    for metric in ("discrepancy", "kernel_drift", "param_distance"):
        np.testing.assert_allclose(columns[f"{metric}_mean"], expected.mean[metric], rtol=1e-10, err_msg=metric)
    namespace = {}
    exec(panel.snippet().replace("print(sweep)", ""), namespace)
    assert namespace["s"] == panel.settings == WidthSettings(min_width=32, max_width=64, seeds=2, steps=20, n=12,
                                                              dataset="digits", classes="0,1,2", lr=10.0)
    np.testing.assert_allclose(namespace["sweep"].mean["kernel_drift"], expected.mean["kernel_drift"], rtol=1e-10)


# ------------------------------------------------------------------------------------------ learnability
def test_learnability_panel_on_the_digits_predicts_and_measures_the_learning_curve():
    from ntk_explorer import spectra as S
    from ntk_explorer.widgets import LearnabilityPanel
    panel = LearnabilityPanel(domain="digits", classes="4,9", images=96, n=16, trials=30, depth=1)
    assert panel.controls["images"].layout.display is None and panel.controls["dim"].layout.display == "none"
    panel.run()
    assert panel.wait(300) == "done", panel.status.value
    data = make_dataset("digits", n_train=96, n_eval=2, classes=(4, 9), seed=0)
    domain = S.points(data.x_train)
    K = domain.analytic_kernel(depth=1, activation="relu", sigma_b=0.0)
    from ntk_explorer.kernels import analytic_kernels
    torch.testing.assert_close(K, analytic_kernels(data.x_train, depth=1, activation="relu").ntk, rtol=1e-12,
                               atol=1e-14)  # the NTK of the digit images themselves
    es = S.eigensystem(K, domain)
    ns = np.array([2, 4, 8, 16, 32, 64])
    predicted = S.predicted_mse(es.level_eigenvalues, es.level_power(data.y_train).sqrt(), ns, es.multiplicities)
    measured = S.kernel_learning_curve(K, domain, data.y_train, ns, trials=30)
    traces = trace_keys(panel.figure)
    np.testing.assert_array_equal(traces["curve_theory"].x, ns)
    np.testing.assert_allclose(traces["curve_theory"].y, predicted, rtol=1e-10)
    np.testing.assert_allclose(traces["curve_kernel"].y, measured.mean, rtol=1e-10)
    assert len(traces["original"].y) == 0  # no conservation bars over 96 one-image levels
    assert panel.figure.layout.xaxis2.type == "log" and "Learning curve" in panel.figure.layout.annotations[1].text
    # what the plot shows: for n ≪ M the theory is within a few standard errors and 15 % of kernel regression; as n
    # nears M = 96 (n = 64) the measured error sits well above it (eigenlearning's approximations assume n ≪ M)
    small = ns <= 96 // 4
    z = np.abs(predicted - measured.mean) / measured.stderr
    assert np.all(z[small] < 4) and np.all(np.abs(predicted / measured.mean - 1)[small] < 0.15)
    assert measured.mean[-1] > 1.5 * predicted[-1]
    assert predicted[-1] < 0.3 * predicted[0]  # the labels are learned
    namespace = {"print": lambda *args, **kwargs: None}
    exec(panel.snippet(), namespace)
    np.testing.assert_allclose(namespace["predicted"], predicted, rtol=1e-10)
    np.testing.assert_allclose(namespace["measured"].mean, measured.mean, rtol=1e-10)
    panel.apply(domain="hypercube", dim=4)  # back to a symmetric domain: the conservation bars again
    assert panel.wait(300) == "done"
    assert panel.figure.layout.xaxis2.type == "linear" and len(traces["curve_theory"].y) == 0
    assert len(traces["original"].y) > 0
