"""Query-string state: parsing (including malformed input), applying to controls, and the link round trip."""
import ipywidgets as W
import pytest

from ntk_explorer.widgets.state import (MAX_QUERY_LENGTH, apply_params, build_query, coerce, hide_controls,
                                        parse_query_string)

PANELS = ["lazy", "width", "infinite", "learnability", "spectral"]


def controls():
    return {"width": W.SelectionSlider(options=[16, 64, 256, 1024], value=256),
            "lr": W.FloatLogSlider(value=1.0, base=10, min=-3, max=2),
            "steps": W.IntSlider(value=400, min=10, max=3000),
            "noise": W.FloatSlider(value=0.0, min=0.0, max=0.5),
            "activation": W.Dropdown(options=["erf", "relu"], value="erf"),
            "live": W.Checkbox(value=True),
            "target": W.Text(value="sin(3*t)")}


def test_issue_example_parses_and_applies():
    text = "?panel=lazy&width=1024&lr=0.5&steps=500&activation=relu&target=sin(3*t)"
    state = parse_query_string(text, PANELS)
    assert state.panel == "lazy" and state.warnings == [] and state.hide == []
    assert state.params == {"width": "1024", "lr": "0.5", "steps": "500", "activation": "relu",
                            "target": "sin(3*t)"}
    c = controls()
    assert apply_params(c, state.params) == []
    assert (c["width"].value, c["lr"].value, c["steps"].value) == (1024, 0.5, 500)
    assert c["activation"].value == "relu" and c["target"].value == "sin(3*t)"


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
    state = parse_query_string(text, PANELS)
    assert any(fragment in w for w in state.warnings), state.warnings


def test_non_string_and_empty_inputs():
    assert parse_query_string(None).params == {}
    assert parse_query_string("").warnings == [] and parse_query_string("?&&").params == {}
    assert parse_query_string(b"panel=lazy").warnings  # bytes: warned about, ignored


@pytest.mark.parametrize("name, text", [
    ("steps", "abc"), ("steps", "1.5"), ("steps", "999999"), ("steps", "nan"), ("lr", "inf"), ("lr", "1e9"),
    ("lr", "-1"), ("noise", "0.9"), ("activation", "sigmoid"), ("live", "maybe"), ("target", "x" * 500),
    ("width", "-5"), ("width", "zero"),
])
def test_malformed_values_fall_back_to_the_default_with_a_warning(name, text):
    c = controls()
    before = c[name].value
    warnings = apply_params(c, {name: text})
    assert len(warnings) == 1 and name in warnings[0] and "kept the default" in warnings[0]
    assert c[name].value == before


def test_unknown_names_and_snapping_and_validators():
    c = controls()
    warnings = apply_params(c, {"bogus": "1", "width": "1000", "live": "off", "activation": "RELU"})
    assert any("unknown parameter 'bogus'" in w for w in warnings)
    assert c["width"].value == 1024 and any("nearest value 1024" in w for w in warnings)
    assert c["live"].value is False and c["activation"].value == "relu"

    def reject(value):
        raise ValueError("cannot parse it")
    warnings = apply_params(c, {"target": "sin("}, validators={"target": reject})
    assert c["target"].value == "sin(3*t)" and "cannot parse it" in warnings[0]


def test_coerce_respects_log_slider_bounds():
    lr = W.FloatLogSlider(value=1.0, base=10, min=-3, max=2)
    assert coerce(lr, "100")[0] == 100.0 and coerce(lr, "0.001")[0] == 0.001
    with pytest.raises(ValueError, match="between"):
        coerce(lr, "0.0001")


def test_hide_and_link_round_trip():
    c = controls()
    assert hide_controls(c, ["lr", "nothing"]) == ["hide: unknown control 'nothing'"]
    assert c["lr"].layout.display == "none"
    c["target"].value = "sin(t) + 0.5*cos(2*t)"
    c["lr"].value = 0.25
    query = build_query("lazy", c, hidden=["lr"])
    assert "%2B" in query and "%20" in query  # '+' and spaces survive as escapes
    state = parse_query_string(query, PANELS)
    assert state.panel == "lazy" and state.hide == ["lr"] and state.warnings == []
    fresh = controls()
    assert apply_params(fresh, state.params) == []
    assert {k: w.value for k, w in fresh.items()} == {k: w.value for k, w in c.items()}
