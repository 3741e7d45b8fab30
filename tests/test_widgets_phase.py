"""The lazy-vs-rich panel without a browser: its cells are the core's phase diagram, they fill live, Stop ends a run
within one cell, its settings survive a link, a click on a cell opens the lazy-training tab there, and its export and
reproducing code give the core's numbers."""
import math
import time

import numpy as np
import pytest

import ntk_explorer.widgets.phase as phase_module
from ntk_explorer import lazy_rich_phase
from ntk_explorer.experiments import PHASE_MEASURES, alpha_sqrt_width_isolines
from ntk_explorer.plots.panels import trace_keys
from ntk_explorer.widgets import PANELS, Dashboard, LazySettings
from ntk_explorer.widgets.phase import LazyRichPanel, LazyRichSettings, digit_classes

SMALL = dict(min_width=16, max_width=32, min_scale=0.3, max_scale=3.0, steps=20, n_train=8, n_eval=16)


def core_diagram(settings):
    return lazy_rich_phase(settings.widths(), settings.scales(), progress=False, **settings.phase_arguments())


def test_the_grid_and_the_core_arguments_follow_the_settings():
    s = LazyRichSettings(min_width=128, max_width=16, min_scale=10.0, max_scale=0.1, classes="0-9")
    assert s.widths() == [16, 32, 64, 128] and s.scales() == [0.1, 0.3, 1.0, 3.0, 10.0]
    assert s.phase_arguments()["classes"] == tuple(range(10)) and "target" not in s.phase_arguments()
    circle = s.replace(dataset="circle", target="cos(2*t)")
    assert circle.phase_arguments()["target"] == "cos(2*t)" and "classes" not in circle.phase_arguments()
    assert digit_classes("3,8") == (3, 8) and digit_classes("0,1,2") == (0, 1, 2)
    assert PANELS["phase"] is LazyRichPanel and LazyRichPanel.title == "Lazy vs rich"


def test_cells_are_the_core_diagram_and_fill_live():
    panel = LazyRichPanel(**{**SMALL, "steps": 200, "min_width": 32, "max_width": 64})
    drawn = []
    original = panel.draw

    def draw(frame):
        drawn.append(len(frame.diagram.cells))
        original(frame)
    panel.draw = draw
    panel.run()
    assert panel.wait(300) == "done"
    total = 2 * 3
    assert drawn[0] == 0 and drawn[-1] == total and drawn == sorted(drawn)
    assert any(0 < k < total for k in drawn)  # the heat map was drawn while cells were still missing
    expected = core_diagram(panel.settings)
    diagram = panel.frame.diagram
    for measure in PHASE_MEASURES:
        np.testing.assert_allclose(diagram[measure], expected[measure], rtol=1e-10, atol=1e-14, err_msg=measure)
    cells = trace_keys(panel.figure)["cells"]
    z = np.asarray(cells.z, dtype=np.float64)
    np.testing.assert_allclose(z, np.log10(expected["kernel_drift"]).T, rtol=1e-12)  # rows α, columns n; log colour
    assert cells.text[1][0] == f"{expected['kernel_drift'][0, 1]:.3g}"  # α = scales[1], n = widths[0]
    np.testing.assert_allclose(cells.x, [32 / math.sqrt(2), math.sqrt(32 * 64), 64 * math.sqrt(2)], rtol=1e-14)
    lines = alpha_sqrt_width_isolines(expected.widths, expected.scales)
    drawn_lines = trace_keys(panel.figure)["isolines"]
    np.testing.assert_allclose(np.asarray(drawn_lines.x)[:len(lines[0].widths)], lines[0].widths, rtol=1e-14)
    assert list(trace_keys(panel.figure)["isoline_labels"].text) == [f"α√n = {line.level:g}" for line in lines]
    assert panel.progress.value == panel.progress.max == total
    run = panel.run_id
    panel.apply(measure="test_accuracy")  # another measure: redrawn from the same cells, no new run
    assert panel.run_id == run
    np.testing.assert_allclose(np.asarray(cells.z, dtype=np.float64), expected["test_accuracy"].T, rtol=1e-12)
    assert panel.figure.layout.title.text.startswith("test accuracy of f")


def test_export_columns_and_the_reproducing_code_equal_the_core_result():
    panel = LazyRichPanel(**SMALL, dataset="circle", target="sin(2*t)", parameterization="mup")
    panel.run()
    assert panel.wait(300) == "done"
    expected = core_diagram(panel.settings)
    columns = panel.export_columns()
    rows = expected.rows()
    assert list(columns)[:4] == ["width", "scale", "alpha_sqrt_width", "n_diverged"] and len(rows) == 2 * 3
    for name, values in columns.items():
        np.testing.assert_allclose(values, [row[name] for row in rows], rtol=1e-10, err_msg=name)
    assert panel.to_csv().splitlines()[0].startswith("width,scale,alpha_sqrt_width,n_diverged,kernel_drift")
    namespace = {}
    exec(panel.snippet(), namespace)
    np.testing.assert_allclose(namespace["diagram"]["kernel_drift"], expected["kernel_drift"], rtol=1e-10)
    assert namespace["diagram"].settings.parameterization == "mup"


def test_stop_ends_the_run_within_one_cell(monkeypatch):
    panel = LazyRichPanel(**{**SMALL, "max_width": 512})
    real = phase_module.lazy_rich_phase_stream

    class StopAfterFirstCell:  # the user presses Stop while the second cell trains
        def __init__(self, *args, **kwargs):
            self.stream = real(*args, **kwargs)

        def __getattr__(self, name):
            return getattr(self.stream, name)

        def __iter__(self):
            for i, cell in enumerate(self.stream):
                yield cell
                if i == 0:
                    panel.stop()
    monkeypatch.setattr(phase_module, "lazy_rich_phase_stream", StopAfterFirstCell)
    panel.run()
    assert panel.wait(300) == "stopped"
    assert len(panel.frame.diagram.cells) == 1 and panel.frame.n_cells == 6 * 3  # the finished cell stays drawn
    assert "stopped" in panel.status.value
    z = np.asarray(trace_keys(panel.figure)["cells"].z, dtype=np.float64)
    assert np.isfinite(z).sum() == 1


def test_stop_button_during_a_real_run():
    panel = LazyRichPanel(**{**SMALL, "max_width": 2048, "steps": 100})
    panel.run()
    seen = 0
    while panel.running and seen == 0:  # wait for the first cell, then press Stop
        time.sleep(0.01)
        seen = 0 if panel.frame is None else len(panel.frame.diagram.cells)
    panel.stop_button.click()
    assert panel.wait(300) == "stopped"
    assert seen <= len(panel.frame.diagram.cells) <= seen + 1 < panel.frame.n_cells


def test_settings_survive_a_link():
    settings = LazyRichSettings(measure="alignment_change", parameterization="mup", min_width=8, max_width=64,
                                min_scale=0.03, max_scale=1.0, dataset="circle", classes="0-9",
                                target="sin(2*t) + 0.5*cos(t)", n_train=12, n_eval=40, steps=30, depth=2,
                                activation="erf", seeds=2)
    panel = LazyRichPanel(settings)
    dash = Dashboard("?" + panel.link_query())
    try:
        assert dash.selected == "phase" and dash.warnings == []
        assert dash.panels["phase"].settings == settings
    finally:
        dash.panels["phase"].stop()
        dash.panels["phase"].wait(300)


def click(panel, row: int, column: int):
    """What plotly.js sends when a heat-map cell is clicked: its [row, column] (rows are α, columns n)."""
    index = list(panel.figure.data).index(trace_keys(panel.figure)["cells"])
    panel.figure._js2py_pointsCallback = dict(
        event_type="plotly_click", points=dict(trace_indexes=[index], point_indexes=[[row, column]], xs=[0.0],
                                               ys=[0.0]), device_state=None, selector=None)


def test_a_click_on_a_cell_opens_the_lazy_tab_at_that_width_and_scale():
    dash = Dashboard("panel=phase&min_width=16&max_width=64&min_scale=0.03&max_scale=1&steps=20&n_train=8"
                     "&n_eval=16&dataset=circle&target=cos(t)&depth=1&activation=erf")
    phase = dash.panels["phase"]
    assert phase.wait(300) == "done"
    lr = phase.frame.diagram.settings.lr
    click(phase, 2, 1)  # α = 0.3, n = 32
    lazy = dash.panels["lazy"]
    assert dash.selected == "lazy" and dash.tabs.selected_index == list(PANELS).index("lazy")
    expected = LazySettings(width=32, alpha=0.3, parameterization="ntk", depth=1, activation="erf", steps=20,
                            bias=0.0, target="cos(t)", n=8, lr=lr)
    assert lazy.settings == expected
    assert lazy.run_id == 1 and lazy.wait(300) == "done"  # it trains there at once
    assert "done: 20 steps" in lazy.status.value
    assert "Opened Lazy training at width 32, α = 0.3" in phase.status.value
    click(phase, 0, 0)  # α = 0.03 lies below the lazy tab's range: clipped, and said so
    assert lazy.settings.width == 16 and lazy.settings.alpha == LazySettings.specs()["alpha"].low
    assert "α = 0.03 → 0.1" in phase.status.value
    assert lazy.wait(300) == "done" and lazy.run_id == 2
    overrides, notes = phase.lazy_settings_for(8, 1.0)  # a width below the lazy slider's: its nearest width
    assert overrides["width"] == 16 and notes == ["width 8 → 16 (the lazy tab's nearest width)"]
    overrides, notes = phase.lazy_settings_for(48, 1.0)
    assert overrides["width"] in (32, 64) and "width 48 →" in notes[0]


def test_digits_cells_open_the_lazy_tab_on_the_digits():
    panel = LazyRichPanel(**{**SMALL, "n_train": 100, "classes": "0-9"})
    overrides, notes = panel.lazy_settings_for(32, 3.0)
    assert overrides["width"] == 32 and overrides["alpha"] == 3.0 and "lr" not in overrides  # no run yet: no rate
    assert overrides["dataset"] == "digits" and overrides["classes"] == "0-9" and overrides["n"] == 64
    assert notes == ["100 training points → 64 (the lazy tab's largest)"]
    LazySettings(**overrides)  # valid lazy settings
    with pytest.raises(RuntimeError, match="not inside a Dashboard"):
        panel.open_cell(0, 0)
    dash = Dashboard("panel=phase&min_width=16&max_width=32&min_scale=1&max_scale=3&steps=20&n_train=8&n_eval=16")
    phase = dash.panels["phase"]
    assert phase.wait(300) == "done"
    lazy = phase.open_cell(1, 0)  # n = 32, α = 1 on the digits 3 and 8: the lazy tab follows their test accuracy
    assert lazy.settings.dataset == "digits" and lazy.settings.classes == "3,8" and lazy.settings.n == 8
    assert lazy.settings.lr == pytest.approx(phase.frame.diagram.settings.lr)
    assert lazy.wait(300) == "done" and "test accuracy" in lazy.status.value


def test_the_static_figures_draw_the_core_diagram():
    from ntk_explorer.plots import figures
    settings = LazyRichSettings(**SMALL)
    diagram = core_diagram(settings)
    heat = figures.phase_diagram_figure(diagram, "param_movement")
    z = np.asarray(trace_keys(heat)["cells"].z, dtype=np.float64)
    np.testing.assert_allclose(z, np.log10(diagram["param_movement"]).T, rtol=1e-12)
    collapse = figures.phase_collapse_figure({"ntk": diagram})
    points = collapse.data[0]
    np.testing.assert_allclose(points.x, diagram.alpha_sqrt_width.ravel(), rtol=1e-14)
    np.testing.assert_allclose(points.y, diagram["kernel_drift"].ravel(), rtol=1e-14)
    reference = collapse.data[1]  # slope −1 on log–log axes
    slope = np.diff(np.log(reference.y)) / np.diff(np.log(reference.x))
    np.testing.assert_allclose(slope, -1.0, rtol=1e-12)
