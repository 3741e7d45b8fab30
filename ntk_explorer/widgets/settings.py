"""Panel settings: one frozen dataclass per panel whose fields carry their range, options and label.

A panel's settings class (``LazySettings``, ``WidthSettings``, …) declares each field with :func:`setting`, giving
the default and a *spec* (:class:`IntRange`, :class:`FloatRange`, :class:`LogRange`, :class:`Choice`,
:class:`Text`, :class:`Flag`, :class:`Angles`).  Everything else is derived from the class, never written per
panel: the controls (:func:`make_controls`), the link (:func:`settings_query`, :func:`settings_from_params`), the
reproducing code (:func:`settings_literal`) and the exports.  Constructing a settings object checks every field
(``ValueError`` naming the field and its range); a link is parsed field by field and never raises: a bad value
keeps the default and becomes a warning.

Example::

    @dataclass(frozen=True)
    class ToySettings(Settings):
        width: int = setting(64, Choice((16, 64, 256), "width n", style="slider"))
        lr: float = setting(0.5, LogRange(1e-3, 10.0, "learning rate η"))
"""
from __future__ import annotations

import math
import re
import unicodedata
from dataclasses import MISSING, dataclass, field, fields, replace
from typing import Callable, Optional

__all__ = ["Settings", "setting", "spec_of", "IntRange", "FloatRange", "LogRange", "Choice", "Text", "Flag",
           "Angles", "make_controls", "settings_query", "settings_from_params", "settings_literal",
           "format_value", "MAX_TEXT_LENGTH"]

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


def setting(default, spec: Spec):
    """A settings field: its default and its :class:`Spec` (kept in the field's metadata)."""
    return field(default=default, metadata={"spec": spec})


def spec_of(settings_class, name: str) -> Spec:
    for f in fields(settings_class):
        if f.name == name:
            return f.metadata["spec"]
    raise KeyError(name)


@dataclass(frozen=True)
class Settings:
    """Base class of the panels' settings dataclasses (subclasses are ``@dataclass(frozen=True)`` and declare
    every field with :func:`setting`).  Construction checks every field against its spec."""

    def __post_init__(self):
        for f in fields(self):
            spec = f.metadata.get("spec")
            if spec is None:
                raise TypeError(f"{type(self).__name__}.{f.name} must be declared with setting(default, spec)")
            try:
                value = spec.check(getattr(self, f.name))
            except ValueError as error:
                raise ValueError(f"{type(self).__name__}.{f.name}: {error}") from None
            object.__setattr__(self, f.name, value)

    @classmethod
    def specs(cls) -> dict:
        """field name → :class:`Spec`, in declaration order."""
        return {f.name: f.metadata["spec"] for f in fields(cls)}

    @classmethod
    def control_names(cls) -> list:
        """Names of the fields shown as controls (in order)."""
        return [name for name, spec in cls.specs().items() if spec.has_control]

    @classmethod
    def defaults(cls) -> dict:
        return {f.name: f.default for f in fields(cls) if f.default is not MISSING}

    def replace(self, **changes):
        """A copy with ``changes`` (checked); TypeError naming the valid fields for an unknown name."""
        unknown = sorted(set(changes) - set(self.specs()))
        if unknown:
            raise TypeError(f"{type(self).__name__} has no field {', '.join(unknown)}; it has "
                            f"{', '.join(self.specs())}")
        return replace(self, **changes)

    def as_dict(self) -> dict:
        """field → value (tuples as lists: JSON-ready)."""
        return {name: (list(v) if isinstance(v, tuple) else v)
                for name, v in ((f.name, getattr(self, f.name)) for f in fields(self))}


def make_controls(settings: Settings) -> dict:
    """field name → control widget showing ``settings`` (fields without a control are left out)."""
    controls = {}
    for name, spec in settings.specs().items():
        widget = spec.widget(getattr(settings, name))
        if widget is not None:
            controls[name] = widget
    return controls


def settings_query(settings: Settings) -> list:
    """(name, text) pairs that reproduce ``settings`` in a link: every field, None-valued ones left out."""
    return [(name, format_value(getattr(settings, name))) for name in settings.specs()
            if getattr(settings, name) is not None]


def _shown(value) -> str:
    return f"{value:.6g}" if isinstance(value, float) else str(value)


def settings_from_params(settings_class, params: dict, base: Optional[Settings] = None):
    """(settings, warnings): ``base`` (default: the class defaults) with every parameter of ``params`` (name →
    raw text from a link) that parses; unknown names and malformed or out-of-range values are skipped with a
    warning quoting them (whoever shows a warning must escape it)."""
    settings = settings_class() if base is None else base
    specs, values, warnings = settings_class.specs(), {}, []
    for name, text in params.items():
        spec = specs.get(name)
        if spec is None:
            warnings.append(f"unknown parameter {name[:40]!r} ignored (this panel has: {', '.join(specs)})")
            continue
        try:
            value, note = spec.parse(plain_text(text))
        except (ValueError, TypeError, OverflowError, ZeroDivisionError) as error:
            warnings.append(f"{name}={text[:60]!r} ignored ({error}); kept the default "
                            f"{_shown(getattr(settings, name))}")
            continue
        values[name] = value
        if note:
            warnings.append(f"{name}: {note}")
    return replace(settings, **values), warnings


def settings_literal(settings: Settings, prefix: str = "", width: int = 100) -> str:
    """Python source ``prefix + LazySettings(width=256, lr=1.0, …)`` that builds ``settings``, wrapped at
    ``width`` characters with continuation lines aligned after the opening parenthesis."""
    head = f"{prefix}{type(settings).__name__}("
    parts = [f"{f.name}={getattr(settings, f.name)!r}" for f in fields(settings)]
    lines, line = [], head
    for i, part in enumerate(parts):
        piece = part + (", " if i < len(parts) - 1 else ")")
        if len(line) + len(piece.rstrip()) > width and line != head:
            lines.append(line.rstrip())
            line = " " * len(head)
        line += piece
    lines.append(line)
    return "\n".join(lines)
