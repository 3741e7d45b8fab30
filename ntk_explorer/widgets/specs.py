"""Specs of settings fields: what a field may hold, how a link writes and reads it, and which control shows it.

:class:`IntRange` (slider or number box), :class:`FloatRange` (linear slider), :class:`LogRange` (logarithmic
slider), :class:`Choice` (dropdown, selection slider or toggle buttons), :class:`Text` (a text box, with an optional
validator), :class:`Flag` (a checkbox) and :class:`Angles` (angles on the circle, no control).  Each spec checks a
value (``check``: ValueError naming what is allowed), parses a link's text strictly (``parse``: plain ASCII decimals,
no NaN/inf, refused rather than guessed) and builds its control (``widget``; ipywidgets is imported only there).
"""
from __future__ import annotations

import math
import re
import unicodedata
from dataclasses import dataclass
from typing import Callable, Optional

__all__ = ["Spec", "IntRange", "FloatRange", "LogRange", "Choice", "Text", "Flag", "Angles", "plain_text",
           "parse_number", "format_value", "MAX_TEXT_LENGTH", "LABEL_STYLE"]

MAX_TEXT_LENGTH = 200
TAU = 2 * math.pi
CONTROL_WIDTH = "310px"
LABEL_STYLE = {"description_width": "118px"}
_TRUE, _FALSE = {"1", "true", "yes", "on"}, {"0", "false", "no", "off"}
_DECIMAL = re.compile(r"[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")


def _layout():
    import ipywidgets as W
    return W.Layout(width=CONTROL_WIDTH)  # a fresh Layout per control: hiding one control never hides another


def plain_text(text: str) -> str:
    """``text`` unchanged, or ValueError when it holds control or invisible formatting characters."""
    if any(unicodedata.category(c) in ("Cc", "Cf", "Cs", "Co", "Cn") for c in text):
        raise ValueError("it contains control or invisible formatting characters")
    return text


def parse_number(text: str, integer: bool):
    """A plain ASCII decimal (no NaN/inf, no ``1_000``, no digits of other scripts) as int or float."""
    if not _DECIMAL.fullmatch(text):
        raise ValueError("it is not a plain decimal number")
    value = float(text)
    if not math.isfinite(value):
        raise ValueError("it is not a finite number")
    if integer:
        if not value.is_integer():
            raise ValueError("it must be a whole number")
        return int(value)
    return value


def format_value(value) -> str:
    """How a value is written in a link: floats exactly (shortest repr), booleans as true/false."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, tuple):
        return ",".join(format_value(v) for v in value)
    return str(value)


@dataclass(frozen=True)
class Spec:
    """What a settings field may hold and how it is shown.  ``label``: the control's description."""
    label: str

    def check(self, value):
        """The value normalised (e.g. numpy ints to int), or ValueError saying what is allowed."""
        raise NotImplementedError

    def parse(self, text: str):
        """(value, note or None) from a link's text; ValueError with the reason when malformed."""
        raise NotImplementedError

    def widget(self, value):
        """The control showing ``value`` (ipywidgets), or None for a field without a control."""
        raise NotImplementedError

    def read(self, widget_value):
        """The settings value for a control's value."""
        return self.check(widget_value)

    @property
    def has_control(self) -> bool:
        return True


@dataclass(frozen=True)
class _Interval(Spec):
    low: float = 0.0
    high: float = 1.0
    integer = False

    def check(self, value):
        if isinstance(value, bool) or not isinstance(value, (int, float)) and not hasattr(value, "__index__") \
                and not hasattr(value, "__float__"):
            raise ValueError(f"expected a number, got {value!r}"[:120])
        number = float(value)
        if self.integer:
            if not number.is_integer():
                raise ValueError(f"expected a whole number, got {value!r}")
            number = int(number)
        if not (math.isfinite(number) and self.low <= number <= self.high):
            raise ValueError(f"must lie between {self.low:g} and {self.high:g}, got {value!r}")
        return number

    def parse(self, text: str):
        value = parse_number(text, self.integer)
        if not self.low - 1e-12 * abs(self.low) <= value <= self.high + 1e-12 * abs(self.high):
            raise ValueError(f"it must lie between {self.low:g} and {self.high:g}")
        return self.check(min(max(value, self.low), self.high)), None


@dataclass(frozen=True)
class IntRange(_Interval):
    """A whole number in [low, high]: a slider with ``step``, or a number box when ``box``."""
    step: int = 1
    box: bool = False
    integer = True

    def widget(self, value):
        import ipywidgets as W
        if self.box:
            return W.BoundedIntText(value=value, min=self.low, max=self.high, description=self.label,
                                    style=LABEL_STYLE, layout=_layout())
        return W.IntSlider(value=value, min=self.low, max=self.high, step=self.step, description=self.label,
                           continuous_update=False, style=LABEL_STYLE, layout=_layout())


@dataclass(frozen=True)
class FloatRange(_Interval):
    """A number in [low, high] on a linear slider with ``step``."""
    step: float = 0.01

    def widget(self, value):
        import ipywidgets as W
        return W.FloatSlider(value=value, min=self.low, max=self.high, step=self.step, description=self.label,
                             continuous_update=False, style=LABEL_STYLE, layout=_layout())


@dataclass(frozen=True)
class LogRange(_Interval):
    """A positive number in [low, high] on a logarithmic slider (``step`` in decades)."""
    step: float = 0.05

    def widget(self, value):
        import ipywidgets as W
        return W.FloatLogSlider(value=value, base=10, min=math.log10(self.low), max=math.log10(self.high),
                                step=self.step, description=self.label, continuous_update=False,
                                style=LABEL_STYLE, layout=_layout(), readout_format=".3g")


@dataclass(frozen=True)
class Choice(Spec):
    """One of ``options`` (a tuple of str or of numbers): a dropdown, a selection slider or toggle buttons."""
    options: tuple = ()
    style: str = "dropdown"

    def check(self, value):
        for option in self.options:
            if value == option and type(option) is not bool and not isinstance(value, bool):
                return option
        raise ValueError(f"must be one of {', '.join(map(str, self.options))}; got {value!r}"[:200])

    def parse(self, text: str):
        for option in self.options:
            if text.lower() == str(option).lower():
                return option, None
        numeric = all(isinstance(o, (int, float)) and not isinstance(o, bool) for o in self.options)
        if numeric:
            target = parse_number(text, integer=False)
            if not min(self.options) <= target <= max(self.options):
                raise ValueError(f"it must lie between {min(self.options)} and {max(self.options)}")
            nearest = min(self.options, key=lambda v: abs(math.log(v / target)) if target > 0 else abs(v - target))
            return nearest, f"{text} is not on the slider; using the nearest value {nearest}"
        raise ValueError(f"choose one of {', '.join(map(str, self.options[:12]))}")

    def widget(self, value):
        import ipywidgets as W
        common = dict(options=list(self.options), value=value, description=self.label)
        if self.style == "slider":
            return W.SelectionSlider(**common, continuous_update=False, style=LABEL_STYLE, layout=_layout())
        if self.style == "toggle":
            return W.ToggleButtons(**common, style=dict(LABEL_STYLE, button_width="80px"), layout=_layout())
        return W.Dropdown(**common, style=LABEL_STYLE, layout=_layout())


@dataclass(frozen=True)
class Text(Spec):
    """Free text of at most ``max_length`` plain characters; ``validate(text)`` raises ValueError when the
    text means nothing (e.g. ``ntk_explorer.data.parse_target`` for a target expression)."""
    max_length: int = MAX_TEXT_LENGTH
    validate: Optional[Callable] = None

    def check(self, value):
        if not isinstance(value, str):
            raise ValueError(f"expected text, got {type(value).__name__}")
        if len(value) > self.max_length:
            raise ValueError(f"it is longer than {self.max_length} characters")
        plain_text(value)
        if self.validate is not None:
            self.validate(value)
        return value

    def parse(self, text: str):
        return self.check(text), None

    def widget(self, value):
        import ipywidgets as W
        return W.Text(value=value, description=self.label, continuous_update=False, style=LABEL_STYLE,
                      layout=_layout())


@dataclass(frozen=True)
class Flag(Spec):
    """True or False: a checkbox."""

    def check(self, value):
        if value not in (True, False) or not isinstance(value, (bool, int)):
            raise ValueError(f"expected True or False, got {value!r}")
        return bool(value)

    def parse(self, text: str):
        if text.lower() in _TRUE:
            return True, None
        if text.lower() in _FALSE:
            return False, None
        raise ValueError("use true or false")

    def widget(self, value):
        import ipywidgets as W
        return W.Checkbox(value=value, description=self.label, indent=False, layout=_layout())


@dataclass(frozen=True)
class Angles(Spec):
    """None, or up to ``max_count`` angles on the circle (radians, sorted, rounded to 1e-6 so that a link
    carries them exactly).  No control: the panel sets them (clicks on a plot)."""
    max_count: int = 64

    def check(self, value):
        if value is None:
            return None
        try:
            angles = [float(a) for a in value]
        except (TypeError, ValueError):
            raise ValueError(f"expected None or a sequence of angles, got {value!r}"[:120]) from None
        if not all(math.isfinite(a) for a in angles):
            raise ValueError("angles must be finite numbers")
        if not 1 <= len(angles) <= self.max_count:
            raise ValueError(f"expected between 1 and {self.max_count} angles, got {len(angles)}")
        return tuple(sorted(round(a % TAU, 6) % TAU for a in angles))

    def parse(self, text: str):
        if text.lower() == "none":
            return None, None
        if not text:
            raise ValueError("no angles given (write none for the preset grid)")
        return self.check([parse_number(part.strip(), integer=False) for part in text.split(",")]), None

    def widget(self, value):
        return None

    @property
    def has_control(self) -> bool:
        return False
