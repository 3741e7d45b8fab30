"""Shareable state: the URL query string sets the initial controls, and the current controls give a link back.

Format: ``?panel=lazy&width=1024&lr=0.5&steps=500&depth=2&activation=erf&parameterization=ntk&target=sin(3*t)``
plus ``hide=width,lr`` to hide named controls for a lesson.  ``panel`` and ``hide`` belong to the dashboard;
every other name is a key of the chosen panel's ``controls``.  A ``+`` is kept literally (so ``sin(t)+cos(t)``
survives a hand-typed link); spaces must be written ``%20``.  Unknown or malformed parameters never raise: they
are skipped (the control keeps its default) and reported as warnings for a visible line.  Hostile input is
treated the same way: numbers must be plain ASCII decimals within the control's range (no NaN/inf, no
``1_000``, no digits of other scripts), numbers beyond a selection slider's ends are refused rather than snapped,
a name given twice with different values is ambiguous and ignored, and values holding control or invisible
formatting characters (NUL, bidirectional overrides, zero-width spaces) are refused.  The warnings quote the
offending text; whoever shows them must escape it (the dashboard does, through ``guard_html``).
"""
from __future__ import annotations

import math
import os
import re
import unicodedata
from dataclasses import dataclass, field
from urllib.parse import quote, unquote

import ipywidgets as W

__all__ = ["QueryState", "parse_query_string", "coerce", "apply_params", "hide_controls", "build_query",
           "read_query_string", "MAX_QUERY_LENGTH"]

MAX_QUERY_LENGTH = 4000
MAX_TEXT_LENGTH = 200
_TRUE, _FALSE = {"1", "true", "yes", "on"}, {"0", "false", "no", "off"}
_DECIMAL = re.compile(r"[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")


@dataclass
class QueryState:
    """A parsed query string: the panel key (None when absent), panel parameters name → raw text (in order),
    names to hide, and human-readable warnings about what was ignored."""
    panel: str | None = None
    params: dict = field(default_factory=dict)
    hide: list = field(default_factory=list)
    warnings: list = field(default_factory=list)


def read_query_string() -> str:
    """The page's query string in Voilà (``voila.utils.get_query_string``, which also works with preheated
    kernels), else the ``QUERY_STRING`` environment variable, else ""."""
    try:
        from voila.utils import get_query_string
        text = get_query_string()
        if text:
            return text
    except Exception:  # not running under Voilà (or an old Voilà): fall back to the environment
        pass
    return os.environ.get("QUERY_STRING", "")


def parse_query_string(text, panels=None) -> QueryState:
    """Splits ``text`` ("?a=1&b=2" or "a=1&b=2") into a :class:`QueryState`.  ``panels``: the allowed panel keys
    (an unknown one is a warning).  Never raises on malformed input."""
    state = QueryState()
    if text is None:
        return state
    if not isinstance(text, str):
        state.warnings.append(f"ignored a query string of type {type(text).__name__}")
        return state
    text = text.strip().lstrip("?")
    if len(text) > MAX_QUERY_LENGTH:
        state.warnings.append(f"the link's parameters are too long ({len(text)} characters); ignored them")
        return state
    seen = _collect(text, state)
    for name, value in seen.items():
        if name == "panel":
            if panels is not None and value not in panels:
                state.warnings.append(f"unknown panel {value[:40]!r}; choose one of {', '.join(panels)}")
            else:
                state.panel = value
        else:
            state.params[name] = value
    return state


def _collect(text: str, state: QueryState) -> dict:
    """name → decoded value of the parts of ``text``, in order; ``hide`` values go to ``state.hide``; malformed
    parts, and names given twice with different values (ambiguous: neither is used), become warnings."""
    seen, conflicting = {}, set()
    for part in filter(None, text.split("&")):
        name, sep, raw = part.partition("=")
        try:
            name, value = unquote(name, errors="strict").strip().lower(), unquote(raw, errors="strict").strip()
        except UnicodeDecodeError:
            state.warnings.append(f"ignored {part[:40]!r}: not valid UTF-8")
            continue
        if not name or not sep:
            state.warnings.append(f"ignored {part[:40]!r}: expected name=value")
        elif name == "hide":  # several hide= parameters add up
            state.hide.extend(h.strip().lower() for h in value.split(",") if h.strip())
        elif name not in seen:
            seen[name] = value
        elif value == seen[name]:
            state.warnings.append(f"{name[:40]!r} was given twice; used it once")
        elif name not in conflicting:
            conflicting.add(name)
            state.warnings.append(f"{name[:40]!r} was given twice with different values; ignored it (kept the "
                                  f"default)")
    return {name: value for name, value in seen.items() if name not in conflicting}


def _number(text: str, kind):
    if not _DECIMAL.fullmatch(text):
        raise ValueError("it is not a plain decimal number")
    value = float(text)
    if not math.isfinite(value):
        raise ValueError("it is not a finite number")
    if kind is int:
        if not value.is_integer():
            raise ValueError("it must be a whole number")
        return int(value)
    return value


def _selection(widget, text: str):
    """The option of a selection widget matching ``text`` by value or label (case-insensitive); a number not
    among numeric options snaps to the nearest one (the note says so)."""
    options = [(str(label), value) for label, value in _options(widget)]
    for label, value in options:
        if text.lower() in (str(value).lower(), label.lower()):
            return value, None
    numeric = [value for _, value in options if isinstance(value, (int, float)) and not isinstance(value, bool)]
    if numeric and len(numeric) == len(options):
        target = _number(text, float)
        if not min(numeric) <= target <= max(numeric):
            raise ValueError(f"it must lie between {min(numeric)} and {max(numeric)}")
        nearest = min(numeric, key=lambda v: abs(math.log(v / target)) if target > 0 else abs(v - target))
        return nearest, f"{text} is not on the slider; using the nearest value {nearest}"
    shown = ", ".join(label for label, _ in options[:12])
    raise ValueError(f"choose one of {shown}")


def _options(widget):
    labels, values = widget._options_labels, widget._options_values
    return list(zip(labels, values))


def coerce(widget, text: str):
    """Converts query text to a valid value for ``widget``: returns (value, note or None); raises ValueError
    with the reason when the text is malformed or out of range."""
    if any(unicodedata.category(c) in ("Cc", "Cf", "Cs", "Co", "Cn") for c in text):
        raise ValueError("it contains control or invisible formatting characters")
    if isinstance(widget, (W.Dropdown, W.SelectionSlider, W.ToggleButtons, W.RadioButtons, W.Select)):
        return _selection(widget, text)
    if isinstance(widget, (W.Checkbox, W.ToggleButton)):
        if text.lower() in _TRUE:
            return True, None
        if text.lower() in _FALSE:
            return False, None
        raise ValueError("use true or false")
    if isinstance(widget, (W.Text, W.Textarea, W.Combobox)):
        if len(text) > MAX_TEXT_LENGTH:
            raise ValueError(f"it is longer than {MAX_TEXT_LENGTH} characters")
        return text, None
    if isinstance(widget, W.FloatLogSlider):
        value, low, high = _number(text, float), widget.base ** widget.min, widget.base ** widget.max
    elif isinstance(widget, (W.IntSlider, W.BoundedIntText, W.IntText)):
        value, low, high = _number(text, int), getattr(widget, "min", -math.inf), getattr(widget, "max", math.inf)
    elif isinstance(widget, (W.FloatSlider, W.BoundedFloatText, W.FloatText)):
        value, low, high = _number(text, float), getattr(widget, "min", -math.inf), getattr(widget, "max", math.inf)
    else:
        raise ValueError(f"a {type(widget).__name__} cannot be set from a link")
    if not low * (1 - 1e-12) <= value <= high * (1 + 1e-12):
        raise ValueError(f"it must lie between {low:g} and {high:g}")
    return value, None


def apply_params(controls: dict, params: dict, validators=None) -> list:
    """Sets ``controls[name].value`` for each query parameter; returns warnings for what was skipped or
    adjusted.  ``validators``: optional name → callable(value) raising ValueError for semantic checks (e.g.
    parsing a target expression)."""
    warnings = []
    for name, text in params.items():
        widget = controls.get(name)
        if widget is None:
            warnings.append(f"unknown parameter {name[:40]!r} ignored (this panel has: {', '.join(controls)})")
            continue
        try:
            value, note = coerce(widget, text)
            if validators and name in validators:
                validators[name](value)
        except (ValueError, TypeError, OverflowError, ZeroDivisionError) as error:
            warnings.append(f"{name}={text[:60]!r} ignored ({error}); kept the default {_shown(widget.value)}")
            continue
        widget.value = value
        if note:
            warnings.append(f"{name}: {note}")
    return warnings


def hide_controls(controls: dict, names) -> list:
    """Hides the named controls (layout.display = "none"); returns warnings for unknown names."""
    warnings = []
    for name in names:
        widget = controls.get(name)
        if widget is None:
            warnings.append(f"hide: unknown control {name[:40]!r}")
        else:
            widget.layout.display = "none"
    return warnings


def _shown(value) -> str:
    if isinstance(value, float):
        return f"{value:.6g}"
    return str(value)


def build_query(panel: str, controls: dict, hidden=()) -> str:
    """The query string ("panel=…&name=value…") that reproduces the current controls (buttons excluded)."""
    parts = [("panel", panel)]
    for name, widget in controls.items():
        if isinstance(widget, W.Button):
            continue
        value = widget.value
        if isinstance(value, bool):
            text = "true" if value else "false"
        elif isinstance(value, float):
            text = f"{value:.6g}"
        else:
            text = str(value)
        parts.append((name, text))
    if hidden:
        parts.append(("hide", ",".join(hidden)))
    return "&".join(f"{quote(k)}={quote(v, safe='()*,./-_~')}" for k, v in parts)
