"""Links and state, without widgets: parsing (malformed input included), settings from a link, the link round
trip of every panel's settings (clicked points included), hide=, and the dashboard state."""
import math
from dataclasses import dataclass

import pytest

from ntk_explorer.widgets import (PANELS, InfiniteSettings, LazySettings, LearnabilitySettings, SpectralSettings,
                                  WidthSettings)
from ntk_explorer.widgets.settings import (Angles, Choice, Flag, FloatRange, IntRange, LogRange, Settings, Text,
                                           setting, settings_from_params, settings_literal)
from ntk_explorer.widgets.state import (MAX_QUERY_LENGTH, DashboardState, LastResult, build_query, hidden_names,
                                        parse_query_string)

KEYS = ["lazy", "width", "infinite", "learnability", "spectral"]


def reject(text):
    if "(" in text and ")" not in text:
        raise ValueError("cannot parse it")


@dataclass(frozen=True)
class Toy(Settings):
    width: int = setting(256, Choice("width", (16, 64, 256, 1024), style="slider"))
    lr: float = setting(1.0, LogRange("lr", 1e-3, 1e2))
    steps: int = setting(400, IntRange("steps", 10, 3000, step=10))
    noise: float = setting(0.0, FloatRange("noise", 0.0, 0.5))
    activation: str = setting("erf", Choice("activation", ("erf", "relu")))
    live: bool = setting(True, Flag("live"))
    target: str = setting("sin(3*t)", Text("target", validate=reject))
    points: tuple = setting(None, Angles("angles"))


def test_issue_example_parses_into_settings():
    text = "?panel=lazy&width=1024&lr=0.5&steps=500&activation=relu&target=sin(3*t)"
    state = parse_query_string(text, KEYS)
    assert state.panel == "lazy" and state.warnings == [] and state.hide == []
    assert state.params == {"width": "1024", "lr": "0.5", "steps": "500", "activation": "relu",
                            "target": "sin(3*t)"}
    settings, warnings = settings_from_params(LazySettings, state.params)
    assert warnings == []
    assert settings == LazySettings(width=1024, lr=0.5, steps=500, activation="relu")


def test_plus_is_literal_and_percent_escapes_decode():
    state = parse_query_string("target=sin(t)+0.5*cos(t)&x=a%20b")
    assert state.params["target"] == "sin(t)+0.5*cos(t)" and state.params["x"] == "a b"


@pytest.mark.parametrize("text, fragment", [
    ("panel=nope", "unknown panel"),
    ("width", "expected name=value"),
    ("=3", "expected name=value"),
    ("a=%ff%fe", "not valid UTF-8"),
    ("steps=1&steps=2", "given twice"),
    ("x=" + "1" * (MAX_QUERY_LENGTH + 1), "too long"),
])
def test_malformed_query_strings_warn_and_never_raise(text, fragment):
    state = parse_query_string(text, KEYS)
    assert any(fragment in w for w in state.warnings), state.warnings


def test_non_string_and_empty_inputs():
    assert parse_query_string(None).params == {}
    assert parse_query_string("").warnings == [] and parse_query_string("?&&").params == {}
    assert parse_query_string(b"panel=lazy").warnings  # bytes: warned about, ignored


@pytest.mark.parametrize("name, text", [
    ("steps", "abc"), ("steps", "1.5"), ("steps", "999999"), ("steps", "nan"), ("lr", "inf"), ("lr", "1e9"),
    ("lr", "-1"), ("noise", "0.9"), ("activation", "sigmoid"), ("live", "maybe"), ("target", "x" * 500),
    ("width", "-5"), ("width", "zero"), ("target", "sin("), ("points", "1,nan"), ("points", "a,b"),
    ("steps", "1\u200b"),
])
def test_malformed_values_fall_back_to_the_default_with_a_warning(name, text):
    settings, warnings = settings_from_params(Toy, {name: text})
    assert len(warnings) == 1 and name in warnings[0] and "kept the default" in warnings[0], warnings
    assert settings == Toy()


def test_unknown_names_snapping_and_bounds():
    settings, warnings = settings_from_params(Toy, {"bogus": "1", "width": "1000", "live": "off",
                                                    "activation": "RELU", "lr": "0.001"})
    assert any("unknown parameter 'bogus'" in w for w in warnings)
    assert settings.width == 1024 and any("nearest value 1024" in w for w in warnings)
    assert settings.live is False and settings.activation == "relu" and settings.lr == 0.001
    assert settings_from_params(Toy, {"lr": "100"})[0].lr == 100.0
    assert "between" in settings_from_params(Toy, {"lr": "0.0001"})[1][0]


def test_constructing_settings_checks_every_field():
    for bad in (dict(width=100), dict(lr=0.0), dict(steps=5), dict(activation="sigmoid"), dict(live="yes"),
                dict(target="sin("), dict(points=()), dict(points=[float("nan")]), dict(steps=2.5)):
        with pytest.raises(ValueError, match=next(iter(bad))):
            Toy(**bad)
    with pytest.raises(TypeError, match="no field bogus"):
        Toy().replace(bogus=1)
    normalised = Toy(points=[6.5, 0.25, -0.5])  # angles are taken mod 2π, rounded to 1e-6 and sorted
    assert normalised.points == (0.216815, 0.25, 5.783185)


def toy_settings():
    return [LazySettings(width=1024, lr=10 ** -0.35, steps=730, depth=3, activation="tanh", parameterization="mup",
                         alpha=4.5, seed=12, target="sin(t) + 0.5*cos(2*t)", n=9, noise=0.05, bias=0.35,
                         radius=1.3, live=False, points=(0.1, 1.234567, 2 * math.pi / 3, 5.5)),
            WidthSettings(min_width=2048, max_width=32, seeds=4, activation="relu", parameterization="mup", depth=2,
                          steps=130, lr=0.37, n=12, target="sign(sin(t))", bias=0.25),
            InfiniteSettings(width=64, depth=2, activation="gelu", bias=0.15, ensemble=5, steps=70, lr=0.3, n=10,
                             target="exp(cos(t)) - 1.27", seed=3),
            LearnabilitySettings(domain="circle", dim=5, points=96, depth=3, activation="erf", bias=0.2, n=17,
                                 ridge=0.013, mode=3, boost=10 ** 0.55, measure=False, trials=35, networks=True,
                                 width=128),
            SpectralSettings(lr_ratio=0.87, steps=1230, modes=7, width=2048, depth=1, activation="softplus",
                             bias=0.05, n=21, target="sin(7*t)", seed=99)]


@pytest.mark.parametrize("settings", toy_settings(), ids=lambda s: type(s).__name__)
def test_every_panels_settings_round_trip_through_a_link(settings):
    key = next(k for k in PANELS if PANELS[k].Settings is type(settings))
    hidden = tuple(PANELS[key].control_names()[:2])
    query = build_query(key, settings, hidden)
    state = DashboardState.from_query("?" + query, PANELS)
    assert state.warnings == [], state.warnings
    assert state.selected == key and state.hidden == {key: hidden}
    assert state.settings[key] == settings  # every field, floats exactly, clicked points included


def test_a_link_carries_clicked_points_and_hostile_points_are_refused():
    settings = LazySettings(points=(0.5, 1.5, 3.0))
    query = build_query("lazy", settings)
    assert "points=0.5,1.5,3.0" in query
    parsed = DashboardState.from_query(query, PANELS)
    assert parsed.settings["lazy"].points == (0.5, 1.5, 3.0)
    assert "points" not in build_query("lazy", LazySettings())  # the preset grid: no points in the link
    for hostile in ("1e400", ",".join(["1"] * 65), "", "0x1", "<script>", "1,,2"):
        state = DashboardState.from_query(f"panel=lazy&points={hostile}", PANELS)
        assert state.settings["lazy"].points is None
        assert any("points" in w and "kept the default" in w for w in state.warnings), (hostile, state.warnings)
    assert DashboardState.from_query("panel=lazy&points=none", PANELS).warnings == []


def test_hide_accepts_controls_only_and_the_link_keeps_what_is_hidden():
    assert hidden_names(WidthSettings, ["min_width", "min_width", "nope"]) == \
        (("min_width",), ["hide: unknown control 'nope'"])
    assert hidden_names(LazySettings, ["points"], LazySettings.control_names())[0] == ()  # no control to hide
    state = DashboardState.from_query("panel=width&hide=min_width,nothing", PANELS)
    assert state.hidden == {"width": ("min_width",)} and state.warnings == ["hide: unknown control 'nothing'"]


def test_plus_and_spaces_survive_the_round_trip():
    settings = LazySettings(target="sin(t) + 0.5*cos(2*t)", lr=0.25)
    query = build_query("lazy", settings, hidden=["lr"])
    assert "%2B" in query and "%20" in query
    state = DashboardState.from_query(query, PANELS)
    assert state.settings["lazy"] == settings and state.hidden["lazy"] == ("lr",)


def test_dashboard_state_defaults_and_selection():
    state = DashboardState.from_query("", PANELS)
    assert state.selected == "lazy" and state.settings == {"lazy": LazySettings()} and state.warnings == []
    state.select("spectral", SpectralSettings(modes=2))
    assert state.selected == "spectral" and state.settings["spectral"].modes == 2
    with pytest.raises(KeyError):
        state.select("nope")


def test_settings_literal_is_python_that_builds_the_same_settings():
    for settings in toy_settings():
        namespace = {type(settings).__name__: type(settings)}
        source = settings_literal(settings, prefix="s = ")
        assert all(len(line) <= 100 for line in source.splitlines())
        exec(source, namespace)
        assert namespace["s"] == settings


def test_last_result_rebuilds_only_for_a_new_key():
    calls = []
    remembered = LastResult(lambda key: calls.append(key) or len(calls))
    assert [remembered("a"), remembered("a"), remembered("b"), remembered("a")] == [1, 1, 2, 3]
    assert calls == ["a", "b", "a"]
