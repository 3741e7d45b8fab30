"""Panel settings: one frozen dataclass per panel whose fields carry their range, options and label.

A panel's settings class (``LazySettings``, ``WidthSettings``, …) declares each field with :func:`setting`, giving
the default and a *spec* (``specs``: :class:`IntRange`, :class:`FloatRange`, :class:`LogRange`, :class:`Choice`,
:class:`Text`, :class:`Flag`, :class:`Angles`).  Everything else is derived from the class, never written per
panel: the controls (:func:`make_controls`), the link (:func:`settings_query`, :func:`settings_from_params`), the
reproducing code (:func:`settings_literal`) and the exports.  Constructing a settings object checks every field
(``ValueError`` naming the field and its range); a link is parsed field by field and never raises: a bad value
keeps the default and becomes a warning.

Example::

    @dataclass(frozen=True)
    class ToySettings(Settings):
        width: int = setting(64, Choice("width n", (16, 64, 256), style="slider"))
        lr: float = setting(0.5, LogRange("learning rate η", 1e-3, 10.0))
"""
from __future__ import annotations

from dataclasses import MISSING, dataclass, field, fields, replace
from typing import Optional

from .specs import (MAX_TEXT_LENGTH, Angles, Choice, Flag, FloatRange, IntRange, LogRange, Spec, Text,
                    format_value, plain_text)

__all__ = ["Settings", "setting", "spec_of", "IntRange", "FloatRange", "LogRange", "Choice", "Text", "Flag",
           "Angles", "Spec", "make_controls", "settings_query", "settings_from_params", "settings_literal",
           "format_value", "plain_text", "MAX_TEXT_LENGTH"]


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
