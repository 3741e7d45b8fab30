"""Robustness of the panels, headless (issue 8): slider storms, divergence, hostile links.

* Slider storm: 200 control changes within 10 s on a panel that retrains on every change ("live" on for the
  lazy-training panel; the spectral panel always does) → no exception anywhere (main thread, worker threads via
  threading.excepthook, the widgets logger, the status line), at most one worker thread alive at the end, and
  the final traces equal those of a fresh panel run once with the final settings (and, for the lazy panel, those
  of the core API through the panel's own code snippet).
* Divergence: lr above 2N/λ_max ends with "diverged at step k (lr > 2N/λ_max = …)" in the status; k is bounded
  by iterating the linearized residual r_{t+1} = (I − lr Θ_0/N) r_t by hand (Y. Chen, "Linearized Networks",
  eq. (14)); no figure receives a non-finite number.
* URL state fuzz: hostile query strings (unknown keys, wrong types, NaN/inf, negative and huge numbers, repeated
  keys, script injections, quotes, javascript: URLs, percent-encoding tricks, very long values) leave every
  control at its default, show a warning, and nothing reaches the dashboard's HTML unescaped (every HTML /
  HTMLMath widget is parsed: no tag outside a small allow-list, no on* attribute, no javascript: URL); the link's
  settings are parsed field by field from the panel's settings class (clicked angles included).
"""
import contextlib
import html
import logging
import math
import random
import re
import threading
import time
from html.parser import HTMLParser

import ipywidgets as W
import numpy as np
import pytest
import torch

from ntk_explorer.dynamics.closed_form import critical_learning_rates
from ntk_explorer.dynamics import DIVERGENCE_FACTOR
from ntk_explorer.plots.panels import trace_keys, trace_x
from ntk_explorer.widgets import Dashboard, LazySettings, LazyTrainingPanel, SpectralBiasPanel
from ntk_explorer.widgets.lazy_setup import LazySetup
from ntk_explorer.widgets.panel import widgets_under
from ntk_explorer.widgets.settings import Angles, Text, plain_text, settings_from_params
from ntk_explorer.widgets.state import parse_query_string

STORM_CHANGES = 200
STORM_SECONDS = 10.0

LAZY_START = dict(width=32, steps=40, depth=1, n=8, live=True)
LAZY_STORM = dict(width=[16, 32, 64, 128], lr=[0.1, 0.25, 0.5, 0.8, 1.0], steps=[10, 30, 60, 100, 150],
                  depth=[1, 2], activation=["erf", "relu", "tanh"], parameterization=["ntk", "standard", "mup"],
                  alpha=[0.5, 1.0, 2.0], seed=[0, 1, 2, 3], n=[4, 8, 12, 16], noise=[0.0, 0.05, 0.1],
                  bias=[0.0, 0.1, 0.2], radius=[0.8, 1.0, 1.25],
                  target=["sin(3*t)", "sin(t) + 0.5*cos(2*t)", "sign(sin(t))"])
SPECTRAL_START = dict(width=32, depth=1, n=8, steps=40)
SPECTRAL_STORM = dict(lr_ratio=[0.1, 0.3, 0.5, 0.7, 0.9], steps=[10, 30, 60, 100, 150], modes=[1, 3, 5, 8],
                      width=[16, 32, 64, 128], depth=[1, 2], activation=["relu", "erf", "tanh"],
                      bias=[0.0, 0.1, 0.2], n=[4, 8, 12, 16], seed=[0, 1, 2],
                      target=["sin(3*t)", "sin(t) + 0.5*cos(2*t)"])


def figure_arrays(panel) -> dict:
    """trace key → (x, y) as float arrays, for every trace of the panel's figure."""
    return {key: (trace_x(t), np.asarray(t.y if t.y is not None else [], dtype=float))
            for key, t in trace_keys(panel.figure).items()}


def assert_nothing_non_finite(panel):
    """Every number the figure holds is finite: trace x/y (and error bars) and explicit axis ranges."""
    fig = panel.figure
    for trace in fig.data:
        arrays = [trace_x(trace), trace.y]
        error_y = getattr(trace, "error_y", None)
        if error_y is not None and error_y.array is not None:
            arrays.append(error_y.array)
        for values in arrays:
            if values is not None:
                values = np.asarray(values, dtype=float)
                assert np.isfinite(values).all(), (trace.meta, values[~np.isfinite(values)][:5])
    axes = [name for name in fig.layout.to_plotly_json() if name.startswith(("xaxis", "yaxis"))]
    assert len(axes) >= 2
    for axis in axes:
        limits = fig.layout[axis].range
        if limits is not None:
            assert all(v is None or math.isfinite(v) for v in limits), (axis, limits)


class _Records(logging.Handler):
    def __init__(self):
        super().__init__(level=logging.WARNING)
        self.records = []

    def emit(self, record):
        self.records.append(record)


@contextlib.contextmanager
def failures_captured(panel):
    """Collects what could go wrong out of sight: uncaught exceptions in any thread, warnings/errors logged by
    ntk_explorer.widgets (a failed run logs its traceback there) and every status line the panel showed."""
    seen = dict(thread_errors=[], statuses=[])
    previous_hook = threading.excepthook
    threading.excepthook = lambda args: seen["thread_errors"].append(
        f"{args.thread.name if args.thread else '?'}: {args.exc_type.__name__}: {args.exc_value}")
    handler, logger = _Records(), logging.getLogger("ntk_explorer.widgets")
    logger.addHandler(handler)
    observer = lambda change: seen["statuses"].append(change["new"])  # noqa: E731
    panel.status.observe(observer, names="value")
    try:
        yield seen
    finally:
        panel.status.unobserve(observer, names="value")
        logger.removeHandler(handler)
        threading.excepthook = previous_hook
        seen["log"] = [f"{r.levelname}: {r.getMessage()}" for r in handler.records]


def storm(panel, choices: dict, rng: random.Random) -> float:
    """STORM_CHANGES changes of randomly chosen controls to a different value, at random intervals (bursts of
    back-to-back changes, and pauses long enough for some runs to train and draw); returns the seconds taken."""
    names = list(choices)
    start = time.perf_counter()
    for _ in range(STORM_CHANGES):
        name = rng.choice(names)
        widget = panel.controls[name]
        widget.value = rng.choice([v for v in choices[name] if v != widget.value])
        time.sleep(rng.choice([0.0, 0.0, 0.005, 0.01, 0.02, 0.03, 0.1]))
    return time.perf_counter() - start


def run_storm(panel, choices, seed):
    """The storm, then the checks shared by every panel; returns the settings it ended with."""
    before_threads = set(threading.enumerate())
    first_run = panel.run_id
    with failures_captured(panel) as seen:
        seconds = storm(panel, choices, random.Random(seed))
        outcome = panel.wait(120)
    assert seconds < STORM_SECONDS, f"the storm took {seconds:.1f} s"
    assert panel.run_id == first_run + STORM_CHANGES  # every change started exactly one run
    assert seen["thread_errors"] == [] and seen["log"] == [], (seen["thread_errors"], seen["log"])
    assert panel.error is None
    errors = [s for s in seen["statuses"] if "ntk-status-error" in s or "failed" in s]
    assert errors == [], errors[:3]
    assert len(seen["statuses"]) > STORM_CHANGES  # one "running" line per run at least: the status was watched
    alive = [t for t in threading.enumerate() if t.name.startswith("ntk-run-") and t not in before_threads]
    assert len(alive) <= 1, [t.name for t in alive]
    assert f"Run #{panel.run_id} " in panel.status.value and outcome in ("done", "diverged")
    return outcome


def assert_same_traces(panel, fresh):
    mine, theirs = figure_arrays(panel), figure_arrays(fresh)
    assert mine.keys() == theirs.keys()
    for key in mine:
        for a, b in zip(mine[key], theirs[key]):
            np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-14, err_msg=str(key))


def test_slider_storm_on_the_lazy_panel_with_live_on():
    panel = LazyTrainingPanel(**LAZY_START)
    panel.run()
    panel.wait(60)
    outcome = run_storm(panel, LAZY_STORM, seed=8)
    final = panel.settings
    assert all(panel.controls[name].value == getattr(final, name) for name in panel.controls)
    fresh = LazyTrainingPanel(final)
    fresh.run()
    assert fresh.wait(60) == outcome
    assert fresh.settings == final
    assert_same_traces(panel, fresh)
    assert panel.frame.setup.model.width == final.width
    if outcome == "done":  # the core API (through the panel's reproducing snippet) gives the same network output
        namespace = {}
        exec(panel.snippet().replace("print(trajectory.final)", ""), namespace)
        f = trace_keys(panel.figure)["f"].y
        np.testing.assert_allclose(f, namespace["trajectory"].final.f_eval, rtol=1e-10, atol=1e-12)
    assert_nothing_non_finite(panel)


def test_slider_storm_on_the_spectral_panel():
    panel = SpectralBiasPanel(**SPECTRAL_START)
    panel.run()
    panel.wait(60)
    outcome = run_storm(panel, SPECTRAL_STORM, seed=5)
    fresh = SpectralBiasPanel(panel.settings)
    fresh.run()
    assert fresh.wait(60) == outcome
    assert_same_traces(panel, fresh)
    assert_nothing_non_finite(panel)


# ------------------------------------------------------------------------------------------------ divergence
HEADLINE = re.compile(r"diverged at step (\d+) \(lr > 2N/λ_max = ([0-9.e+-]+); lr = ([0-9.e+-]+)\)")


def linear_divergence_step(k_train, r0, lr) -> int:
    """First step t at which the linearized model's loss exceeds DIVERGENCE_FACTOR × its initial loss, iterating
    r_{t+1} = (I − lr Θ_0/N) r_t by hand (Y. Chen, "Linearized Networks", eq. (14), discretised)."""
    k, r = k_train.numpy(), np.asarray(r0, dtype=np.float64)
    n, threshold = len(r), DIVERGENCE_FACTOR * float(r @ r)
    for t in range(1, 10_000):
        r = r - (lr / n) * (k @ r)
        if not float(r @ r) <= threshold:
            return t
    raise AssertionError("the linearized model did not diverge")


def test_lazy_divergence_is_a_visible_message_and_no_figure_holds_a_non_finite_number():
    panel = LazyTrainingPanel(width=64, depth=1, n=8, steps=300, activation="erf", bias=0.2, seed=3, live=False)
    setup = LazySetup.build(panel.settings.problem())
    diverge = critical_learning_rates(setup.k_train).diverge
    lr = 2.5 * diverge
    panel.apply(lr=lr, run=False)
    with failures_captured(panel) as seen:
        panel.run()
        assert panel.wait(60) == "diverged"
    status = html.unescape(panel.status.value)
    found = HEADLINE.search(status)
    assert found, status
    step, shown_diverge, shown_lr = int(found.group(1)), float(found.group(2)), float(found.group(3))
    assert shown_diverge == pytest.approx(diverge, rel=1e-3) and shown_lr == pytest.approx(lr, rel=1e-3)
    bound = linear_divergence_step(setup.k_train, setup.f0_train - setup.y_train.numpy(), lr)
    assert 1 <= step <= bound  # f^lin crosses the threshold at `bound` (f may cross it first)
    assert "ntk-status-warning" in status and seen["log"] == [] and seen["thread_errors"] == []
    assert "diverges along the top eigenmode" in panel.warnings.value
    assert_nothing_non_finite(panel)
    # every frame drawn on the way was finite too (the last one is checked above; this checks the history)
    assert np.isfinite(panel.frame.history["loss"]).all()


def test_spectral_divergence_is_a_visible_message_and_no_figure_holds_a_non_finite_number():
    panel = SpectralBiasPanel(width=32, depth=1, n=8, steps=300, lr_ratio=1.4)
    panel.run()
    assert panel.wait(60) == "diverged"
    found = HEADLINE.search(html.unescape(panel.status.value))
    assert found, panel.status.value
    setup = LazySetup.build(panel.settings.problem())
    diverge = critical_learning_rates(setup.k_train).diverge
    assert float(found.group(2)) == pytest.approx(diverge, rel=1e-3)
    assert float(found.group(3)) == pytest.approx(1.4 * diverge, rel=1e-3)
    assert "Training diverged — diverged at step" in panel.message.value
    assert_nothing_non_finite(panel)


# ------------------------------------------------------------------------------------------------ URL fuzz
MARK = "XSS"
INJECTIONS = [f"<script>alert('{MARK}')</script>", f"\"><img src=x onerror=alert('{MARK}')>",
              f"'><svg onload=alert('{MARK}')>", f"javascript:alert('{MARK}')", f"</div><b onclick=x>{MARK}</b>",
              f"\" onmouseover=\"alert('{MARK}')", f"{MARK}' -- \"", "`${alert(1)}`", "{{7*7}}", "<!--", "]]>"]
ENCODED = ["%3Cscript%3Ealert(1)%3C%2Fscript%3E", "%253Cscript%253E", "%C0%BCscript%C0%BE", "%00", "1%00",
           "%E2%80%AE1", "1%E2%80%8B", "%EF%BC%91%EF%BC%92", "%", "%zz", "%u003Cscript%u003E", "%0A%0D",
           "&lt;script&gt;"]
NUMBERS = ["nan", "NaN", "-nan", "inf", "-inf", "Infinity", "1e400", "-1e400", "1e308", "-1e308", "-5", "-0.001",
           "99999999999999999999", "9" * 300, "1_000", "٣", "0x10", "1e", "1,5", "[1]", "None", "True" + "x",
           "__import__('os').system('touch /tmp/x')", "", " "]
HUGE = ["x" * 300, "<" * 250, "9" * 1000]


def hostile_values(spec):
    """Values that must be refused for this field: every injection and encoding trick; numbers and words for
    selections, checkboxes and numbers; for free text, what the target parser refuses; for angles, what is no
    finite number."""
    if isinstance(spec, Text):  # plain numbers are valid target expressions
        return INJECTIONS + ENCODED + HUGE + ["nan", "inf", "1_000x", "__import__('os')", "t.__class__",
                                              "lambda: 1", "9**9**9", "", "sin(t)\u202e"]
    if isinstance(spec, Angles):  # any finite number is an angle
        return INJECTIONS + ENCODED + HUGE + ["nan", "inf", "-inf", "1e400", "", "1,,2", "0x10", "1_000", "٣"]
    return INJECTIONS + ENCODED + HUGE + NUMBERS


def test_every_hostile_value_of_every_field_keeps_the_default_with_a_warning():
    defaults, count = LazySettings(), 0
    for name, spec in LazySettings.specs().items():
        for raw in hostile_values(spec):
            state = parse_query_string(f"{name}={raw}")
            if name not in state.params:  # refused by the parser itself (invalid UTF-8, length, …)
                assert state.warnings, raw
                continue
            settings, warnings = settings_from_params(LazySettings, state.params)
            text = state.params[name]
            assert len(warnings) == 1 and name in warnings[0] and "kept the default" in warnings[0], \
                (name, text, warnings)
            assert settings == defaults, (name, text)
            count += 1
    assert count > 500


def test_random_query_strings_never_raise_and_only_valid_values_get_through():
    rng = random.Random(2024)
    defaults, specs = LazySettings(), LazySettings.specs()
    names = list(specs) + ["panel", "hide", "PANEL", "Width", "bogus", "", "%3Cscript%3E", "on" + "load"]
    pieces = INJECTIONS + ENCODED + NUMBERS + ["1", "0.5", "64", "relu", "true", "sin(t)", "lazy", "width,lr"]
    for _ in range(400):
        parts = []
        for _ in range(rng.randint(1, 6)):
            sep = rng.choice(["=", "=", "=", "==", ""])
            parts.append(f"{rng.choice(names)}{sep}{rng.choice(pieces)}")
        query = rng.choice(["", "?", "??"]) + rng.choice(["&", "&", "&&", ";"]).join(parts)
        state = parse_query_string(query, ["lazy", "width", "infinite", "learnability", "spectral"])
        settings, warnings = settings_from_params(LazySettings, state.params)
        for name, text in state.params.items():
            spec = specs.get(name)
            if spec is None:
                assert any(repr(name[:40]) in w for w in warnings), (query, warnings)
                continue
            try:
                expected, _ = spec.parse(plain_text(text))
            except (ValueError, TypeError, OverflowError):
                assert getattr(settings, name) == getattr(defaults, name), query
                assert any(w.startswith(f"{name}=") for w in warnings), query
            else:
                assert getattr(settings, name) == expected, query
        for value in settings.as_dict().values():
            if isinstance(value, float):
                assert math.isfinite(value)


ALLOWED_TAGS = {"div", "span", "b", "i", "em", "strong", "ul", "li", "a", "small", "sub", "sup", "br", "table", "tr",
                "td", "th", "p", "style", "code", "pre"}


class _Audit(HTMLParser):
    """Collects what a browser would execute or navigate to: unexpected tags, on* handlers, script URLs."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.problems = []

    def handle_starttag(self, tag, attrs):
        if tag not in ALLOWED_TAGS:
            self.problems.append(f"tag <{tag}>")
        for name, value in attrs:
            if name.startswith("on"):
                self.problems.append(f"handler {name}={value!r}")
            if name in ("href", "src", "action", "formaction", "style") and value:
                lowered = re.sub(r"\s", "", value).lower()
                if lowered.startswith(("javascript:", "vbscript:")) or "expression(" in lowered \
                        or "url(" in lowered or MARK.lower() in lowered:
                    self.problems.append(f"{name}={value!r}")

    handle_startendtag = handle_starttag


def html_problems(dashboard) -> list:
    """Problems in every HTML/HTMLMath/Label value and every HTML-enabled description of the dashboard."""
    problems = []
    for widget in widgets_under(dashboard.widget):
        texts = []
        if isinstance(widget, (W.HTML, W.HTMLMath)):
            texts.append(widget.value)
        if isinstance(widget, W.Label) and MARK in widget.value and "<" in widget.value:
            problems.append(f"Label holds markup: {widget.value[:80]!r}")
        if getattr(widget, "description_allow_html", False):
            texts.append(widget.description)
        for text in texts:
            audit = _Audit()
            audit.feed(text)
            audit.close()
            problems += [f"{type(widget).__name__}: {p}" for p in audit.problems]
            if isinstance(widget, W.HTMLMath) and MARK in text:  # MathJax would typeset (\href{…}) user text
                problems.append(f"HTMLMath holds user text: {text[:80]!r}")
    for panel in dashboard.panels.values():  # plotly renders a subset of HTML in titles and trace names
        fig = panel.figure
        texts = [fig.layout.title.text or ""] + [a.text or "" for a in fig.layout.annotations] + \
            [t.name or "" for t in fig.data]
        problems += [f"figure text {t!r}" for t in texts if MARK in t or "<" in t]
    return problems


HOSTILE_QUERIES = [
    f"panel=<script>alert('{MARK}')</script>",
    "panel=lazy&panel=width",
    "panel=lazy%00",
    f"panel=lazy&width={INJECTIONS[1]}",
    "panel=lazy&width=64&width=128",
    "width=nan&lr=inf&steps=-5&depth=1e400&alpha=-inf&seed=-1&n=99999999999999999999&noise=NaN",
    "lr=1e308&steps=1_000&n=٣&radius=0x10&bias=1e-400x&live=maybe&activation=<b>relu</b>",
    f"target={INJECTIONS[0]}",
    "target=%3Cscript%3Ealert('XSS')%3C%2Fscript%3E",
    "target=%253Cimg%2520src%253Dx%2520onerror%253Dalert('XSS')%253E",
    "target=sin(t)%E2%80%AE&seed=%00",
    "target=__import__('os').system('touch%20/tmp/XSS')",
    f"target={'x' * 300}",
    "lr=%C0%BC&steps=%&n=%zz",
    f"{INJECTIONS[0]}=1&%3Cimg%20src%3Dx%20onerror%3Dalert('XSS')%3E=2",
    f"hide={INJECTIONS[1]},{INJECTIONS[0]}",
    f"activation=javascript:alert('{MARK}')&parameterization=\"'`",
    "x=" + "A" * 5000,
    "&&&===&&;;" + MARK,
    "width=8192e5&steps=3000.5&depth=2.0001",
    f"live=<script>{MARK}</script>&target=\"onmouseover=\"alert('XSS')",
    "panel=width&min_width=-16&max_width=1e9&seeds=nan&target=<script>XSS</script>",
]


@pytest.mark.parametrize("query", HOSTILE_QUERIES)
def test_hostile_links_give_defaults_a_visible_warning_and_no_unescaped_html(query):
    dash = Dashboard(query)
    panel = dash.panels[dash.selected]
    assert panel.wait(60) in ("done", "stopped", "idle")
    defaults = Dashboard("panel=" + dash.selected).panels[dash.selected]
    assert dash.selected in ("lazy", "width")
    assert panel.settings == defaults.settings == type(panel.settings)(), query
    assert all(w.layout.display != "none" for name, w in panel.controls.items()
               if panel.relevant(name))  # nothing hidden by a bad hide= (controls that do not apply stay hidden)
    assert dash.warnings and "Link:" in dash.notice.value and 'role="note"' in dash.notice.value
    assert "ntk-status-error" not in panel.status.value
    dash.update_link()
    assert html_problems(dash) == []
    assert MARK not in dash.link.value and "<" not in dash.link.value


def test_the_audit_catches_unescaped_markup():
    """The checker used above fails on the mistakes it guards against (so the test above can fail)."""
    dash = Dashboard("panel=width")
    dash.notice.value = f"<div>{INJECTIONS[1]}</div>"
    assert any("img" in p for p in html_problems(dash))
    dash.notice.value = '<a href="javascript:alert(1)">x</a>'
    assert html_problems(dash)
    dash.notice.value = "<div>fine</div>"
    dash.panels["width"].figure.layout.title.text = f"<b>{MARK}</b>"
    assert html_problems(dash)


def test_the_query_string_from_the_environment_goes_through_the_same_checks(monkeypatch):
    monkeypatch.setenv("QUERY_STRING", f"panel=lazy&target={INJECTIONS[0]}&steps=nan")
    dash = Dashboard()
    dash.panels["lazy"].wait(60)
    assert len(dash.warnings) == 2 and html_problems(dash) == []
    assert dash.panels["lazy"].settings.target == "sin(3*t)"


def test_the_dashboard_takes_its_torch_threads_from_the_server_environment(monkeypatch):
    saved = torch.get_num_threads()
    try:
        monkeypatch.setenv("NTK_EXPLORER_TORCH_THREADS", "2")  # what `ntk-explorer dashboard` sets for its kernels
        dash = Dashboard("panel=width")
        assert torch.get_num_threads() == 2 and dash.torch_threads == 2
        assert 'data-torch-threads="2"' in dash.widget.children[0].value
        monkeypatch.setenv("NTK_EXPLORER_TORCH_THREADS", "lots")  # malformed: left alone
        torch.set_num_threads(1)
        assert Dashboard("panel=width").torch_threads == 1
    finally:
        torch.set_num_threads(saved)
