"""What the window remembers between runs: size and place, splitters, heat-map settings.

Restoring always ends with the window fitted to the screen it is on, so a size saved on
a big monitor (or at another scaling) never opens taller than the screen.
"""

from __future__ import annotations

from PySide6.QtCore import QByteArray, QRect, QSettings
from PySide6.QtGui import QGuiApplication

from desktop.heatmap import DEFAULT_OPACITY
from desktop.qt.main_window import MainWindow

GEOMETRY_KEY = "window/geometry"
DETAIL_SPLITTER_KEY = "window/detail_splitter"
BATCH_SHARE_KEY = "window/batch_share"  # share of the height the batch table gets
HEATMAP_KEY = "heatmap/show"
OPACITY_KEY = "heatmap/opacity"  # percent


def _bytes(value: object) -> QByteArray | None:
    if isinstance(value, QByteArray) and not value.isEmpty():
        return value
    if isinstance(value, bytes | bytearray) and value:
        return QByteArray(bytes(value))
    return None


def _bool(value: object, default: bool) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str):
        return value.strip().lower() in ("true", "1", "yes")
    return default


def _int(value: object, default: int, low: int, high: int) -> int:
    try:
        number = int(value)  # type: ignore[call-overload]
    except (TypeError, ValueError):
        return default
    return min(high, max(low, number))


class WindowState:
    """Reads and writes the window's remembered layout in ``settings``."""

    def __init__(self, settings: QSettings) -> None:
        self.settings = settings

    @property
    def heatmap_on(self) -> bool:
        return _bool(self.settings.value(HEATMAP_KEY), False)

    @property
    def opacity_percent(self) -> int:
        return _int(self.settings.value(OPACITY_KEY), round(DEFAULT_OPACITY * 100), 10, 100)

    def save_heatmap(self, on: bool, opacity_percent: int) -> None:
        self.settings.setValue(HEATMAP_KEY, bool(on))
        self.settings.setValue(OPACITY_KEY, int(opacity_percent))

    def restore(self, window: MainWindow, available: QRect | None = None) -> None:
        """Size, place and splitters as last saved, then fitted inside ``available``."""
        available = available if available is not None else available_geometry(window)
        geometry = _bytes(self.settings.value(GEOMETRY_KEY))
        if geometry is None or not window.restoreGeometry(geometry):
            window.first_run_geometry(available)
        state = _bytes(self.settings.value(DETAIL_SPLITTER_KEY))
        if state is not None:
            window.detail_splitter.restoreState(state)
        window.batch_share = _int(self.settings.value(BATCH_SHARE_KEY), 50, 15, 85) / 100
        window.fit_into(available)

    def save(self, window: MainWindow) -> None:
        self.settings.setValue(GEOMETRY_KEY, window.saveGeometry())
        self.settings.setValue(DETAIL_SPLITTER_KEY, window.detail_splitter.saveState())
        if window.batch_panel.isVisible():
            sizes = window.main_splitter.sizes()
            if len(sizes) == 2 and sum(sizes) > 0:
                self.settings.setValue(BATCH_SHARE_KEY, round(100 * sizes[1] / sum(sizes)))
        self.settings.sync()


def available_geometry(window: MainWindow) -> QRect:
    """The available area of the screen the window is on (or the primary screen)."""
    screen = window.screen() or QGuiApplication.primaryScreen()
    return screen.availableGeometry() if screen is not None else QRect(0, 0, 1280, 720)
