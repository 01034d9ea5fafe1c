"""The Recent files list, kept in QSettings.

Patient photos are private: the list holds only files and folders that can still be
read (a moved, deleted or unreadable one is dropped the next time the list is read),
and it can be cleared from the menu.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import QSettings

MAX_RECENT = 10
RECENT_KEY = "recent_files"


def readable(path: str) -> bool:
    """An existing file or folder this user may read."""
    p = Path(path)
    try:
        return (p.is_file() or p.is_dir()) and os.access(p, os.R_OK)
    except OSError:
        return False


class RecentFiles:
    """Most recent first, at most ``limit`` entries, readable ones only."""

    def __init__(
        self,
        settings: QSettings,
        limit: int = MAX_RECENT,
        is_readable: Callable[[str], bool] = readable,
    ) -> None:
        self._settings = settings
        self._limit = limit
        self._readable = is_readable

    def _stored(self) -> list[str]:
        value = self._settings.value(RECENT_KEY, [])
        if isinstance(value, str):
            value = [value] if value else []
        return [str(v) for v in (value or []) if str(v)]

    def paths(self) -> list[str]:
        """The list, pruned of entries that are gone or unreadable (and saved pruned)."""
        stored = self._stored()
        kept = [p for p in stored if self._readable(p)][: self._limit]
        if kept != stored:
            self._settings.setValue(RECENT_KEY, kept)
        return kept

    def add(self, path: str | os.PathLike[str]) -> None:
        """Put ``path`` first; a path that cannot be read is not remembered at all."""
        p = Path(path)
        text = str(p.resolve()) if p.exists() else str(p)
        if not self._readable(text):
            return
        items = [text] + [q for q in self.paths() if q != text]
        self._settings.setValue(RECENT_KEY, items[: self._limit])

    def clear(self) -> None:
        self._settings.setValue(RECENT_KEY, [])
        self._settings.sync()
