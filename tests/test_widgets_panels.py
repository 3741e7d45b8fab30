"""Width, infinite-width, learnability and spectral-bias panels and the Dashboard, headless: traces equal what the
core API returns for the same settings."""
import json

import numpy as np
import pytest

from ntk_explorer.kernels.analytic import analytic_kernels
from ntk_explorer.dynamics import train
from ntk_explorer.experiments import ensemble, gp_prediction, width_sweep
from ntk_explorer.kernels import empirical_ntk
from ntk_explorer.plots.panels import trace_keys, trace_x
from ntk_explorer.widgets import (Dashboard, InfiniteWidthPanel, LearnabilityPanel, SpectralBiasPanel,
                                  SpectralSettings, WidthScalingPanel)
from ntk_explorer import spectra as S
from ntk_explorer.widgets.lazy_setup import LazySetup
from ntk_explorer.widgets.spectral import mode_ranks
from ntk_explorer.widgets.state import parse_query_string


def y(panel, key):
    return np.asarray(trace_keys(panel.figure)[key].y, dtype=float)


def test_width_panel_equals_width_sweep():
    panel = WidthScalingPanel(min_width=16, max_width=64, seeds=2, steps=20, depth=1, n=8)
    panel.run()
    assert panel.wait(120) == "done", panel.status.value
    sweep = width_sweep([16, 32, 64], 2, progress=False, **panel.settings.sweep_config())
    traces = trace_keys(panel.figure)
    for metric in ("discrepancy", "kernel_drift", "param_distance"):
        np.testing.assert_allclose(np.asarray(traces[metric].x), [16, 32, 64])
        np.testing.assert_allclose(np.asarray(traces[metric].y), sweep.mean[metric], rtol=1e-10)
        np.testing.assert_allclose(np.asarray(traces[metric].error_y.array), sweep.std[metric], rtol=1e-10)
        assert f"slope {sweep.slopes[metric].slope:.2f}" in traces[metric].name
    for key, slope in (("ref_half", -0.5), ("ref_one", -1.0)):
        x, ref = np.asarray(traces[key].x, dtype=float), np.asarray(traces[key].y, dtype=float)
        np.testing.assert_allclose(np.diff(np.log(ref)) / np.diff(np.log(x)), slope)
    assert panel.progress.value == panel.progress.max == 6
    assert "width_sweep([16, 32, 64], s.seeds" in panel.snippet()
    lines = panel.to_csv().splitlines()
    assert lines[0].startswith("width,discrepancy_mean,discrepancy_std") and len(lines) == 4
    namespace = {}
    exec(panel.snippet().replace("print(sweep)", ""), namespace)  # the snippet reproduces the sweep
    np.testing.assert_allclose(namespace["sweep"].mean["discrepancy"], sweep.mean["discrepancy"], rtol=1e-12)


def test_infinite_width_panel_equals_kernels_gp_and_ensemble():
    panel = InfiniteWidthPanel(width=64, ensemble=3, steps=20, n=8, seed=1)
    panel.run()
    assert panel.wait(120) == "done", panel.status.value
    s = panel.settings
    config = s.experiment()
    data = config.dataset()
    model = config.model(1)
    x0 = data.x_eval
    np.testing.assert_allclose(y(panel, "empirical"), empirical_ntk(model, x0)[0].numpy(), rtol=1e-10)
    analytic = analytic_kernels(x0, depth=s.depth, activation=s.activation, sigma_b=s.bias).ntk
    np.testing.assert_allclose(y(panel, "analytic"), analytic[0].numpy(), rtol=1e-12)
    error = float(np.linalg.norm(empirical_ntk(model, x0).numpy() - analytic.numpy()) / np.linalg.norm(analytic))
    assert f"{error:.3g}" in panel.figure.layout.annotations[0].text  # the kernel subplot's title
    gp = gp_prediction(data.x_train, data.y_train, data.x_eval, lr=s.lr, t=s.steps, depth=s.depth,
                       activation=s.activation, sigma_b=s.bias)
    np.testing.assert_allclose(y(panel, "gp_mean"), gp.mean.numpy(), rtol=1e-10, atol=1e-14)
    band = y(panel, "gp_band")
    np.testing.assert_allclose(band[:len(x0)], gp.mean.numpy() + 2 * np.sqrt(gp.variance.numpy().clip(0)),
                               rtol=1e-10)
    result = ensemble(config, [1, 2, 3])
    np.testing.assert_allclose(y(panel, "ens_mean"), result.mean[-1], rtol=1e-10, atol=1e-14)
    assert panel.to_csv().splitlines()[0] == ("angle,ntk_analytic_slice,ntk_empirical_slice,gp_mean,gp_std,"
                                              "ensemble_mean,ensemble_std")
    namespace = {}
    exec(panel.snippet().replace("print(gp.mean, result.mean[-1])", ""), namespace)
    np.testing.assert_allclose(namespace["gp"].mean.numpy(), gp.mean.numpy(), rtol=1e-12)


def test_learnability_panel_theory_conservation_zero_sum_and_measurement():
    panel = LearnabilityPanel(domain="hypercube", dim=5, n=8, mode=1, boost=4.0, trials=20)
    panel.run()
    assert panel.wait(120) == "done", panel.status.value
    domain = S.hypercube(5)
    K = domain.analytic_kernel(depth=2, activation="relu")
    es = S.eigensystem(K, domain)
    lam, m = es.level_eigenvalues.numpy(), es.multiplicities.numpy()
    L = S.learnability(lam, 8, m)
    np.testing.assert_allclose(y(panel, "modes"), L[lam > 0], rtol=1e-12)
    original, scaled = y(panel, "original"), y(panel, "scaled")
    np.testing.assert_allclose(original, m * L, rtol=1e-12)
    assert original.sum() == pytest.approx(8, abs=1e-9) and scaled.sum() == pytest.approx(8, abs=1e-9)
    # zero-sum: the boosted mode gained; every other mode's learnability fell (Simon et al. 2021)
    th = panel.frame.theory
    assert th.L_boosted > L[1]
    others = np.delete(np.arange(len(lam)), 1)
    assert np.all(th.L_others_after[others] < L[others])
    assert "every other mode fell" in panel.summary.value
    family = es.family.numpy()
    first = [int(np.flatnonzero(family == k)[0]) for k in range(len(lam))]
    mean, _ = S.empirical_learnability(K, domain, es.eigenfunctions[:, first], 8, trials=20)
    np.testing.assert_allclose(y(panel, "kernel"), mean.numpy(), rtol=1e-10)
    namespace = {}
    exec(panel.snippet().replace("print(", "total = ("), namespace)
    assert float(namespace["total"]) == pytest.approx(8, abs=1e-9)


def test_spectral_panel_equals_mode_dynamics_and_divergence_is_a_message():
    panel = SpectralBiasPanel(width=64, depth=1, n=8, steps=40, modes=3, lr_ratio=0.4)
    panel.run()
    assert panel.wait(120) == "done", panel.status.value
    setup = LazySetup.build(panel.settings.problem())
    lr = 0.4 * setup.rates().diverge
    trajectory = train(setup.model, setup.x_train, setup.y_train, lr=lr, steps=40, x_eval=setup.x_eval,
                       record_every=1)
    measured = np.abs(S.project_residuals(setup.k_train, trajectory.f_train - setup.y_train.numpy()).numpy())
    theory = np.abs(S.mode_residuals(setup.k_train, setup.f0_train, setup.y_train, lr, 40).projections.numpy())
    for slot, i in enumerate(mode_ranks(8, 3)):
        np.testing.assert_allclose(y(panel, f"measured{slot}"), measured[:, i], rtol=1e-8, atol=1e-13)
        np.testing.assert_allclose(y(panel, f"theory{slot}"), theory[:, i], rtol=1e-10, atol=1e-15)
        np.testing.assert_allclose(trace_x(trace_keys(panel.figure)[f"measured{slot}"]), np.arange(41))
    namespace = {}
    exec(panel.snippet().replace("print(modes.eigenvalues, modes.decay[-1])", ""), namespace)
    np.testing.assert_allclose(np.abs(namespace["modes"].projections.numpy()), theory, rtol=1e-10, atol=1e-15)
    assert panel.apply(lr_ratio=1.3, steps=400) == panel.run_id  # a change retrains: one run
    assert panel.wait(120) == "diverged"
    assert "Training diverged" in panel.message.value and "critical learning rate" in panel.message.value
    for trace in panel.figure.data:
        assert np.isfinite(np.asarray(trace.y, dtype=float)).all()


def test_dashboard_query_string_link_and_tabs():
    dash = Dashboard("?panel=spectral&lr_ratio=0.3&steps=50&width=64&n=8&bogus=1&modes=x&hide=seed,nope")
    spectral = dash.panels["spectral"]
    assert dash.tabs.selected_index == 4 and dash.selected == "spectral"
    assert spectral.settings == SpectralSettings(lr_ratio=0.3, steps=50, width=64, n=8)
    assert spectral.controls["lr_ratio"].value == 0.3 and spectral.controls["steps"].value == 50
    assert spectral.controls["seed"].layout.display == "none"
    assert "bogus" in dash.notice.value and "modes" in dash.notice.value and "nope" in dash.notice.value
    assert spectral.wait(120) == "done"  # the selected panel ran once, with the link's settings
    assert spectral.run_id == 1
    state = parse_query_string(dash.update_link())
    assert state.panel == "spectral" and state.params["lr_ratio"] == "0.3" and state.hide == ["seed"]
    assert list(dash.panels) == ["spectral"]  # the other tabs are built when first shown
    dash.tabs.selected_index = 0
    lazy = dash.panels["lazy"]
    assert lazy.wait(120) == "done" and lazy.run_id == 1
    assert "ready" in lazy.status.value


def test_every_panel_figure_keeps_tick_labels_without_overflow_checks():
    """plotly's default "hide past div" re-measures every tick label once per label on each live redraw (about
    30% of a frame's drawing time in the browser, RESULTS §6); every axis of every registered panel opts out."""
    from ntk_explorer.widgets.registry import PANELS
    for key in PANELS:
        layout = PANELS.create(key, None).figure.layout
        axes = [name for name in layout if name.startswith(("xaxis", "yaxis"))]
        assert axes, key
        assert {name: layout[name].ticklabeloverflow for name in axes} == dict.fromkeys(axes, "allow"), key


def _shown(dash):
    """What a page shows of ``dash``: selected tab, the selected panel's settings, hidden controls, which
    controls are displayed, the link warnings, and the traces its (finished) first run drew."""
    panel = dash.panels[dash.selected]
    assert panel.wait(120) in ("done", "diverged"), panel.status.value
    traces = json.loads(panel.figure.to_json())["data"]
    return (dash.selected, dash.tabs.selected_index, panel.settings, panel.state.hidden,
            {name: w.layout.display for name, w in panel.controls.items()}, dash.notice.value, traces)


@pytest.mark.parametrize("link", ["", "panel=lazy&lr=0.5&width=64&steps=40&hide=seed,depth",
                                  "?panel=spectral&lr_ratio=0.3&steps=50&width=64&n=8&bogus=1&hide=seed,nope"])
def test_open_link_shows_what_a_dashboard_built_from_that_link_shows(link):
    """A kernel started ahead of its page builds the dashboard at the defaults and then opens the page's link:
    the page must show exactly what ``Dashboard(link)`` shows."""
    ahead = Dashboard("")
    ahead.open_link(link)
    assert _shown(ahead) == _shown(Dashboard(link))


def test_a_kernel_started_ahead_builds_and_runs_before_the_page_asks(monkeypatch):
    import ntk_explorer.widgets.dashboard as dashboard_module
    monkeypatch.setenv("VOILA_PREHEAT", "True")

    class Recording(dict):  # the registry, remembering which panels were created
        def __init__(self):
            super().__init__(dashboard_module.PANELS)
            self.built = []

        def create(self, key, settings):
            self.built.append(key)
            return dashboard_module.PANELS.create(key, settings)
    registry, page = Recording(), {}

    def page_arrives():  # Voilà's read of the page's link: by then the first tab is built and running
        page["built before the link"] = list(registry.built)
        return page["link"]
    monkeypatch.setattr(dashboard_module, "read_query_string", page_arrives)
    page["link"] = ""
    plain = Dashboard(panels=registry)
    assert page["built before the link"] == ["lazy"]
    lazy = plain.panels["lazy"]
    assert lazy.wait(120) == "done" and lazy.run_id == 1  # a plain link: the run started ahead is the page's
    page["link"] = "panel=lazy&width=64&steps=40"
    linked = Dashboard(panels=registry)
    assert _shown(linked) == _shown(Dashboard("panel=lazy&width=64&steps=40"))
    assert linked.panels["lazy"].run_id == 1  # a panel built again at the link's settings, as a page expects
    assert registry.built == ["lazy", "lazy", "lazy"]


def test_closing_a_panel_stops_its_run_and_closes_all_its_widgets():
    from ntk_explorer.widgets.panel import widgets_under
    dash = Dashboard("panel=lazy&steps=4000&width=64")
    panel = dash.panels["lazy"]
    panel.run()
    widgets = widgets_under(panel.widget)
    assert panel.figure in widgets and all(c in widgets for c in panel.controls.values())
    assert all(w.comm is not None for w in widgets)
    panel.close()
    assert panel.wait(0) == "stopped" and all(w.comm is None for w in widgets)
    dash.open_link("panel=lazy&width=32")  # the dashboard builds the tab again
    assert dash.panels["lazy"] is not panel and dash.panels["lazy"].wait(120) == "done"
