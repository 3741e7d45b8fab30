"""The panel registry: the one list of panels that the dashboard's tabs, link parsing and link building use.

Adding a panel is one file (a :class:`~ntk_explorer.widgets.panel.Panel` subclass with its settings class) and one
line in :data:`PANELS` below: ``"key": "ntk_explorer.widgets.module:ClassName"`` (the key is the panel's ``key``,
its name in links: ``?panel=key``).  Panels are imported when first asked for.  See CONTRIBUTING.md.
"""
from __future__ import annotations

import importlib
from collections.abc import Mapping

__all__ = ["PanelRegistry", "PANELS"]


class PanelRegistry(Mapping):
    """key → panel class, in tab order.  Entries are classes or ``"package.module:ClassName"`` strings,
    imported on first use; a loaded class must have ``key`` equal to its registry key."""

    def __init__(self, entries: dict):
        self._entries = dict(entries)

    def __getitem__(self, key: str):
        entry = self._entries[key]
        if isinstance(entry, str):
            module, _, name = entry.partition(":")
            entry = getattr(importlib.import_module(module), name)
            if getattr(entry, "key", None) != key:
                raise ValueError(f"panel {entry.__name__} has key {getattr(entry, 'key', None)!r} but is registered "
                                 f"as {key!r}")
            self._entries[key] = entry
        return entry

    def __iter__(self):
        return iter(self._entries)

    def __len__(self) -> int:
        return len(self._entries)

    def register(self, panel_class, key=None) -> None:
        """Adds a panel class (a class or a ``"module:Class"`` string) under ``key`` (default: its ``key``)."""
        key = key or panel_class.key
        if key in self._entries:
            raise ValueError(f"a panel is already registered as {key!r}")
        self._entries[key] = panel_class

    def unregister(self, key: str) -> None:
        del self._entries[key]

    def settings_class(self, key: str):
        """The settings dataclass of panel ``key`` (its ``Settings``)."""
        return self[key].Settings

    def create(self, key: str, settings=None, **overrides):
        """A new panel ``key`` at ``settings`` (default: the settings class defaults) with ``overrides``."""
        cls = self[key]
        return cls(**overrides) if settings is None else cls(settings, **overrides)


PANELS = PanelRegistry({
    "lazy": "ntk_explorer.widgets.lazy:LazyTrainingPanel",
    "width": "ntk_explorer.widgets.width:WidthScalingPanel",
    "infinite": "ntk_explorer.widgets.infinite:InfiniteWidthPanel",
    "learnability": "ntk_explorer.widgets.learnability:LearnabilityPanel",
    "spectral": "ntk_explorer.widgets.spectral:SpectralBiasPanel",
    "phase": "ntk_explorer.widgets.phase:LazyRichPanel",
})
