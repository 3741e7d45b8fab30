"""The state of a panel and of the dashboard (the single source of truth the widgets show), and links.

:class:`PanelState`: a panel's current settings (a frozen settings dataclass), its last drawn frame and the names
of its hidden controls.  :class:`DashboardState`: the selected tab, the settings and hidden controls a link asked
for, and the warnings about what the link got wrong.  Both are plain objects: everything here is testable without
widgets or a browser.

Link format: ``?panel=lazy&width=1024&lr=0.5&steps=500&depth=2&activation=erf&parameterization=ntk&target=sin(3*t)``
plus ``hide=width,lr`` to hide named controls for a lesson and, for the lazy panel, ``points=0.1,0.5,2.25`` (the
clicked training angles).  ``panel`` and ``hide`` belong to the dashboard; every other name is a field of the
chosen panel's settings class (parsed by ``settings.settings_from_params``).  A ``+`` is kept literally (so
``sin(t)+cos(t)`` survives a hand-typed link); spaces must be written ``%20``.  Unknown or malformed parameters
never raise: they are skipped (the setting keeps its default) and reported as warnings for a visible line.
Hostile input is treated the same way: numbers must be plain ASCII decimals within the field's range (no NaN/inf,
no ``1_000``, no digits of other scripts), numbers beyond a selection slider's ends are refused rather than
snapped, a name given twice with different values is ambiguous and ignored, and values holding control or
invisible formatting characters (NUL, bidirectional overrides, zero-width spaces) are refused.  The warnings quote
the offending text; whoever shows them must escape it (the dashboard does, through ``guard_html``).
"""
from __future__ import annotations

import os
import threading
from dataclasses import dataclass, field
from typing import Any, Callable, Optional
from urllib.parse import quote, unquote

from .settings import Settings, settings_from_params, settings_query

__all__ = ["QueryState", "PanelState", "DashboardState", "LastResult", "parse_query_string", "hidden_names",
           "build_query", "read_query_string", "page_pending", "MAX_QUERY_LENGTH"]

MAX_QUERY_LENGTH = 4000


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


def page_pending() -> bool:
    """True in a kernel Voilà started ahead of its page (its kernel pool, ``--preheat_kernel``): the notebook runs
    before any page asks for it, and :func:`read_query_string` waits until one does."""
    return os.environ.get("VOILA_PREHEAT") == "True"


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


def hidden_names(settings_class, names, controlled=None) -> tuple:
    """(names to hide, warnings): the requested names that are fields with a control (``controlled``: the
    names of the panel's controls; default: every field of ``settings_class``), in order, without repeats."""
    allowed = list(settings_class.specs()) if controlled is None else list(controlled)
    hidden, warnings = [], []
    for name in names:
        if name not in allowed:
            warnings.append(f"hide: unknown control {name[:40]!r}")
        elif name not in hidden:
            hidden.append(name)
    return tuple(hidden), warnings


def build_query(panel: str, settings: Settings, hidden=()) -> str:
    """The query string ("panel=…&name=value…") that reproduces ``settings`` on panel ``panel`` (every field;
    floats written exactly, so the link gives back equal settings) and hides ``hidden``."""
    parts = [("panel", panel), *settings_query(settings)]
    if hidden:
        parts.append(("hide", ",".join(hidden)))
    return "&".join(f"{quote(k)}={quote(v, safe='()*,./-_~')}" for k, v in parts)


@dataclass
class PanelState:
    """What a panel shows: ``settings`` (its settings class), ``frame`` (the last frame drawn, a typed frame of
    the panel, None before the first) and ``hidden`` (names of hidden controls)."""
    settings: Settings
    frame: Any = None
    hidden: tuple = ()


@dataclass
class DashboardState:
    """The dashboard: ``selected`` (a panel key), ``settings`` (key → settings a link or another panel asked for,
    applied when that panel is built or shown), ``hidden`` (key → names of hidden controls) and ``warnings``
    (what a link got wrong, quoted: escape before showing)."""
    panels: tuple
    selected: str
    settings: dict = field(default_factory=dict)
    hidden: dict = field(default_factory=dict)
    warnings: list = field(default_factory=list)

    @classmethod
    def from_query(cls, text, registry) -> "DashboardState":
        """The state a link asks for, through ``registry`` (key → panel class with ``Settings`` and
        ``control_names()``); never raises on a malformed link."""
        query = parse_query_string(text, panels=list(registry))
        selected = query.panel or next(iter(registry))
        panel_class = registry[selected]
        settings, warnings = settings_from_params(panel_class.Settings, query.params)
        hidden, hide_warnings = hidden_names(panel_class.Settings, query.hide, panel_class.control_names())
        return cls(tuple(registry), selected, {selected: settings}, {selected: hidden},
                   query.warnings + warnings + hide_warnings)

    def select(self, key: str, settings: Optional[Settings] = None) -> None:
        if key not in self.panels:
            raise KeyError(f"no panel {key!r}; the dashboard has {', '.join(self.panels)}")
        self.selected = key
        if settings is not None:
            self.settings[key] = settings


class LastResult:
    """``build(key)`` remembered for the last key only (e.g. a network and its kernels, rebuilt only when the
    settings they depend on change).  Thread-safe; the key must be hashable and comparable."""

    def __init__(self, build: Callable):
        self._build, self._lock = build, threading.Lock()
        self._key = self._value = None
        self._filled = False

    def __call__(self, key):
        with self._lock:
            if self._filled and self._key == key:
                return self._value
        value = self._build(key)
        with self._lock:
            self._key, self._value, self._filled = key, value, True
        return value
