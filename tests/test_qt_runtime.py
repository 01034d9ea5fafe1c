"""The Qt binding itself: no reference-count leak on Python's ``None``.

PySide6 6.12.0 on Python 3.11 drops one reference to ``None`` on every void-returning Qt
method (``QLabel.setText``, ``QPainter.drawLine``, ``QWidget.update``...), so the app died
with "Fatal Python error: none_dealloc: deallocating None" after about 1,700 repaints.
6.11.3 (pinned in pyproject.toml) is clean. On Python 3.12+ ``None`` is immortal and its
count never moves, so these tests pass there whatever the binding does.
"""

from __future__ import annotations

import sys

from PySide6.QtCore import Qt
from PySide6.QtGui import QImage, QPainter, QPen
from PySide6.QtWidgets import QLabel, QWidget

CALLS = 5_000
TOLERANCE = 100


def none_refs_lost(call, n=CALLS):
    """References to None lost over n calls; stops early once past TOLERANCE, so a leaking
    binding fails the test instead of deallocating None and aborting the whole run."""
    before = sys.getrefcount(None)
    for i in range(n):
        call()
        if i % 50 == 0 and before - sys.getrefcount(None) > TOLERANCE:
            break
    return before - sys.getrefcount(None)


def test_widget_calls_keep_none_alive(qapp):
    label = QLabel()
    widget = QWidget()
    assert none_refs_lost(lambda: label.setText("x")) < TOLERANCE
    assert none_refs_lost(widget.update) < TOLERANCE


def test_painter_calls_keep_none_alive(qapp):
    image = QImage(32, 32, QImage.Format.Format_ARGB32)
    painter = QPainter(image)
    pen = QPen(Qt.GlobalColor.red)
    try:

        def paint():
            painter.save()
            painter.setPen(pen)
            painter.drawLine(0, 0, 31, 31)
            painter.restore()

        assert none_refs_lost(paint) < TOLERANCE
    finally:
        painter.end()
