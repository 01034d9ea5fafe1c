"""Dialogs that fit the screen: a 1366x768 laptop at 150 % scaling offers 911x512 logical
pixels, less than a dialog sized in font heights asks for, and a dialog taller than the
screen hides its Close button below the taskbar.
"""

from __future__ import annotations

from PySide6.QtCore import QRect
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import QWidget

# A window manager's title bar and border, in font heights, when the frame is not known
# yet (a dialog before it is first shown).
FRAME_EM = (0.5, 2.0)


def available_geometry(widget: QWidget) -> QRect:
    """The usable part (no panels, no docks) of the screen the widget, or its parent, is on."""
    screen = widget.screen() or QGuiApplication.primaryScreen()
    parent = widget.parentWidget()
    if parent is not None and parent.screen() is not None:
        screen = parent.screen()
    return screen.availableGeometry() if screen is not None else QRect(0, 0, 1366, 768)


def fit_to_screen(widget: QWidget, available: QRect | None = None) -> None:
    """Shrink the widget (never below its minimum) and move it so that all of it, frame
    included, lies inside ``available`` (default: its screen's available geometry)."""
    area = available if available is not None else available_geometry(widget)
    frame, inner = widget.frameGeometry(), widget.geometry()
    extra_w, extra_h = frame.width() - inner.width(), frame.height() - inner.height()
    if not widget.isVisible() or extra_h <= 0:
        em = widget.fontMetrics().height()
        extra_w, extra_h = round(em * FRAME_EM[0]), round(em * FRAME_EM[1])
    width = max(widget.minimumWidth(), min(widget.width(), area.width() - extra_w))
    height = max(widget.minimumHeight(), min(widget.height(), area.height() - extra_h))
    widget.resize(width, height)
    x = area.left() + max(0, (area.width() - widget.width() - extra_w) // 2)
    y = area.top() + max(0, (area.height() - widget.height() - extra_h) // 2)
    widget.move(x, y)
