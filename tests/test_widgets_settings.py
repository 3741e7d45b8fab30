"""The panel contract (issue 12): ``Panel.Settings``, ``panel.settings``, ``Panel(**overrides)``, ``Panel(settings)``,
``panel.apply(settings)`` (one run), settings through a link, ``hide=`` per control, the panel registry (with the
example panel of CONTRIBUTING.md), one FigureWidget per panel and one ``batch_update`` per frame (issue 11)."""
import contextlib
import json
import re
import sys
import threading
import types
from pathlib import Path

import numpy as np
import plotly.graph_objects as go
import pytest

from ntk_explorer.data import circle_points
from ntk_explorer.kernels import empirical_ntk
from ntk_explorer.models import MLP
from ntk_explorer.plots.panels import trace_keys
from ntk_explorer.widgets import PANELS, Dashboard, LazySettings, LazyTrainingPanel
from ntk_explorer.widgets.panel import widgets_under
from ntk_explorer.widgets.settings import Angles, Choice, Flag, Text

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # `pytest` (not `python -m pytest`) does not put the repository root on sys.path
    sys.path.insert(0, str(ROOT))

from benchmarks.bench_widgets import CommRecorder  # noqa: E402  (the benchmark's message counter)

KEYS = list(PANELS)


def other_value(spec, default):
    """A valid value of ``spec`` other than ``default``, on the cheap side of the range."""
    if isinstance(spec, Choice):
        return min((o for o in spec.options if o != default), key=lambda o: (isinstance(o, str), o))
    if isinstance(spec, Flag):
        return not default
    if isinstance(spec, Angles):
        return (0.5, 1.5, 4.0)
    if isinstance(spec, Text):
        return next(text for text in ("sin(2*t)", "x") if spec.check(text))
    value = spec.low if spec.low != default else spec.high
    return spec.check(value)


def overrides_for(settings_class) -> dict:
    defaults = settings_class()
    return {name: other_value(spec, getattr(defaults, name)) for name, spec in settings_class.specs().items()}


@pytest.mark.parametrize("key", KEYS)
def test_a_panel_builds_at_given_settings(key):
    cls = PANELS[key]
    overrides = overrides_for(cls.Settings)
    assert all(overrides[name] != getattr(cls.Settings(), name) for name in overrides)
    panel = cls(**overrides)
    assert isinstance(panel.settings, cls.Settings) and panel.settings == cls.Settings(**overrides)
    for name, widget in panel.controls.items():  # the controls show the settings
        assert widget.value == getattr(panel.settings, name), name
    settings = cls.Settings(**overrides)
    assert cls(settings).settings == settings
    first = next(iter(cls.control_names()))
    mixed = cls(settings, **{first: getattr(cls.Settings(), first)})
    assert mixed.settings == settings.replace(**{first: getattr(cls.Settings(), first)})
    assert cls().settings == cls.Settings() and panel.run_id == 0  # building starts nothing
    with pytest.raises(TypeError, match="takes a"):
        cls(LazySettings() if key != "lazy" else PANELS["width"].Settings())
    with pytest.raises(TypeError, match="no field"):
        cls(bogus=1)
    with pytest.raises(ValueError, match=first):
        cls(**{first: object()})


@pytest.mark.parametrize("key", KEYS)
def test_apply_moves_every_field_with_one_run(key):
    cls = PANELS[key]
    panel = cls()
    panel.activated = True  # as if shown: apply then does what a control change does
    target = cls.Settings(**overrides_for(cls.Settings))
    before = panel.run_id
    started = panel.apply(target)
    expected = 1 if panel.auto_run else 0  # panels with a Run button start nothing on a change
    assert panel.run_id == before + expected and started == (panel.run_id if expected else None)
    assert panel.settings == target
    assert all(w.value == getattr(target, name) for name, w in panel.controls.items())
    assert panel.apply(run=False) is None and panel.run_id == before + expected
    assert panel.apply(run=True) == before + expected + 1  # the full run, once
    panel.stop()
    assert panel.wait(300) in ("done", "stopped", "diverged", "error")


def test_hiding_min_width_does_not_hide_max_width():
    dash = Dashboard("panel=width&hide=min_width")
    controls = dash.panels["width"].controls
    assert controls["min_width"].layout.display == "none"
    assert controls["max_width"].layout.display is None
    assert dash.warnings == []
    for key in KEYS:  # every control has a Layout of its own
        layouts = [id(w.layout) for w in PANELS[key]().controls.values()]
        assert len(layouts) == len(set(layouts)), key


def test_irrelevant_controls_are_hidden_and_hide_survives_a_change_of_domain():
    panel = PANELS["learnability"](domain="circle")
    assert panel.controls["dim"].layout.display == "none" and panel.controls["points"].layout.display is None
    panel.hide(["points"])
    panel.controls["domain"].value = "hypercube"
    panel.controls["domain"].value = "circle"
    assert panel.controls["points"].layout.display == "none"  # hidden by the link, whatever the domain
    panel.stop()
    panel.wait(120)


@pytest.mark.parametrize("key", KEYS)
def test_one_figure_widget_per_panel(key):
    panel = PANELS[key]()
    figures = [w for w in widgets_under(panel.widget) if isinstance(w, go.FigureWidget)]
    assert figures == [panel.figure]
    assert len({t.meta for t in panel.figure.data}) == len(panel.figure.data)  # every trace has its own key


def test_one_batch_update_per_frame_and_the_messages_it_sends():
    panel = LazyTrainingPanel(width=32, depth=1, n=8, steps=200)
    calls, draws, depth = [], [], [0]
    original_batch, original_draw = panel.figure.batch_update, panel.draw

    @contextlib.contextmanager
    def batch_update():  # plotly's trace.update() nests batch_update(): count the outermost ones
        if depth[0] == 0:
            calls.append(threading.get_ident())
        depth[0] += 1
        try:
            with original_batch():
                yield
        finally:
            depth[0] -= 1

    def draw(frame):
        draws.append(frame.step)
        original_draw(frame)
    panel.figure.batch_update, panel.draw = batch_update, draw
    recorder = CommRecorder()
    with recorder.active():
        panel.run()
        assert panel.wait(120) == "done"
    assert len(draws) >= 3 and len(calls) == len(draws)  # one batch_update per drawn frame, nothing outside
    assert set(calls) != {threading.get_ident()}  # drawn in the worker thread
    mine = [m[4] for m in recorder.messages if m[0] == "comm_msg" and m[1] == panel.figure.comm.comm_id]
    updates = [d for d in mine if "_py2js_update" in d.get("state", {}) and d["state"]["_py2js_update"]]
    assert len(updates) <= len(draws)  # at most one plotly update message per frame (none if nothing changed)
    assert not [d for d in mine if any(k in d.get("state", {}) for k in ("_py2js_restyle", "_py2js_relayout"))]
    synced = [d for d in mine if set(d.get("state", {})) & {"_widget_data", "_widget_layout"}]
    assert len(synced) <= 2  # none per frame (figure.py may sync the state a later view starts from, once)
    assert len(mine) - len(synced) <= 4 * len(draws)  # per frame: the update, its reset, plotly's 2 edit counters
    index = {t.meta: i for i, t in enumerate(panel.figure.data)}
    for update in (d["state"]["_py2js_update"] for d in updates[-3:]):  # late frames of the run
        assert update["layout_data"] == {}  # no layout change per frame
        assert sent(update, index["loss"], "y") is not None  # the loss grew ...
        assert sent(update, index["loss"], "x") is None  # ... and travels as y with x0/dx: no x array resent
        assert sent(update, index["f"], "y") is not None and sent(update, index["f"], "x") is None


def sent(update, trace_index, prop):
    """What a plotly update message sets ``prop`` of trace ``trace_index`` to (None: not sent)."""
    if trace_index not in update["style_traces"] or prop not in update["style_data"]:
        return None
    value = update["style_data"][prop][update["style_traces"].index(trace_index)]
    return None if value == "_undefined_" else value


def test_another_panel_opens_the_lazy_tab_at_a_width_and_output_scale():
    dash = Dashboard("panel=spectral&width=32&n=8&steps=20&depth=1")
    spectral = dash.panels["spectral"]
    spectral.wait(120)
    lazy = spectral.open_panel("lazy", width=64, alpha=4.0, steps=20, depth=1, n=8)
    assert dash.selected == "lazy" and dash.tabs.selected_index == KEYS.index("lazy")
    assert lazy.settings == LazySettings(width=64, alpha=4.0, steps=20, depth=1, n=8)
    assert lazy.run_id == 1  # the first display's run, at those settings
    assert lazy.wait(120) == "done"
    dash.show("lazy", width=128, alpha=2.0)  # shown already: what a control change does (live: retrain)
    assert lazy.run_id == 2 and lazy.settings.width == 128
    assert lazy.wait(120) == "done" and "done: 20 steps" in lazy.status.value
    assert re.search(r"width=128&.*alpha=2\.0", dash.link_query())
    with pytest.raises(RuntimeError, match="not inside a Dashboard"):
        LazyTrainingPanel().open_panel("width")


def contributing_example():
    """The python block of CONTRIBUTING.md that defines the example panel, as an importable module."""
    text = (ROOT / "CONTRIBUTING.md").read_text()
    code = next(block for block in re.findall(r"```python\n(.*?)```", text, re.S) if "class SlicePanel" in block)
    line = next(block for block in re.findall(r"```python\n(.*?)```", text, re.S) if "SlicePanel\"" in block)
    module = types.ModuleType("ntk_contributing_slice")
    exec(compile(code, "CONTRIBUTING.md", "exec"), module.__dict__)
    return module, line.strip()


def test_the_contributing_example_is_one_file_and_one_registry_line():
    module, line = contributing_example()
    key = re.fullmatch(r'"(\w+)": "([\w.]+):(\w+)",', line).group(1)
    assert key == "slice" and line.endswith('"ntk_explorer.widgets.slice:SlicePanel",')
    sys.modules[module.__name__] = module  # stands in for ntk_explorer/widgets/slice.py
    PANELS.register(f"{module.__name__}:SlicePanel", key="slice")
    try:
        assert list(PANELS)[-1] == "slice" and PANELS["slice"] is module.SlicePanel
        panel = PANELS.create("slice", width=256)
        assert panel.settings == module.SliceSettings(width=256)
        dash = Dashboard("panel=slice&width=1024&seed=3&hide=seed")  # the dashboard model renders it
        assert dash.tabs.titles[-1] == "NTK slice" and dash.selected == "slice" and dash.warnings == []
        shown = dash.panels["slice"]
        assert shown.settings == module.SliceSettings(width=1024, seed=3)
        assert shown.controls["seed"].layout.display == "none"
        assert shown.wait(60) == "done"
        x, _ = circle_points(64)
        expected = empirical_ntk(MLP(2, 1024, 1, seed=3), x)[0].numpy()
        np.testing.assert_allclose(np.asarray(trace_keys(shown.figure)["ntk"].y), expected, rtol=1e-12)
        assert Dashboard("?" + dash.link_query()).panels["slice"].settings == shown.settings
        assert json.loads(shown.to_json())["data"]["ntk_slice"][0] == pytest.approx(expected[0])
        namespace = {}
        exec(shown.snippet(), namespace)
        np.testing.assert_allclose(namespace["ntk"].numpy(), expected, rtol=1e-12)
        shown.apply(width=16, run=True)
        assert shown.wait(60) == "done" and shown.run_id == 2
    finally:
        PANELS.unregister("slice")
        del sys.modules[module.__name__]
    assert "slice" not in PANELS
