"""The File menu's Recent files and Samples lists, filled from what the controller passes."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

from PySide6.QtWidgets import QMenu

from desktop.qt import texts


def fill_recent_menu(
    menu: QMenu,
    paths: Sequence[str],
    open_path: Callable[[str], object],
    clear: Callable[[], object],
) -> None:
    """One entry per path (the first nine numbered for the keyboard), then Clear."""
    menu.clear()
    if not paths:
        menu.addAction(texts.NO_RECENT).setEnabled(False)
        return
    for i, p in enumerate(paths):
        label = f"&{i + 1} {Path(p).name or p}" if i < 9 else Path(p).name
        action = menu.addAction(label)
        action.setToolTip(p)
        action.setStatusTip(p)
        action.triggered.connect(lambda _=False, p=p: open_path(p))
    menu.addSeparator()
    menu.addAction(texts.CLEAR_RECENT).triggered.connect(lambda _=False: clear())


def fill_samples_menu(
    menu: QMenu,
    samples: Sequence[tuple[Path, str]],
    open_path: Callable[[Path], object],
    open_all: Callable[[], object],
    enabled: bool,
) -> None:
    """One entry per shipped sample (path, entry text), then "Open all" when there are
    several."""
    menu.clear()
    if not samples:
        menu.addAction(texts.NO_SAMPLES).setEnabled(False)
        return
    for p, text in samples:
        menu.addAction(text).triggered.connect(lambda _=False, p=p: open_path(p))
    if len(samples) > 1:
        menu.addSeparator()
        menu.addAction(texts.OPEN_ALL_SAMPLES).triggered.connect(lambda _=False: open_all())
    menu.setEnabled(enabled)
