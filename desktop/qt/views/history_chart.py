"""Melanoma probability over a lesion's visits, painted with QPainter (no matplotlib in the app).

One paint function serves the window and the PDF so both show the same picture.
Colour is never the only cue: an alert is a filled diamond, no alert a filled
circle, an earlier result (before re-classification) a hollow circle, and an
image that could not be assessed a cross on the baseline with no number.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from typing import Any

from PySide6.QtCore import QPointF, QRectF, QSize, Qt
from PySide6.QtGui import QBrush, QColor, QFont, QPainter, QPainterPath, QPaintEvent, QPen
from PySide6.QtWidgets import QSizePolicy, QWidget

from desktop.qt import texts
from desktop.verdict import CANNOT_ASSESS, CANNOT_ASSESS_SHORT, percent

LEVEL_COLOURS = {
    "alert": "#b71c1c",
    "no_alert": "#37474f",
    CANNOT_ASSESS: "#9e9e9e",
}
LINE_COLOUR = "#3f6fb5"
THRESHOLD_COLOUR = "#b71c1c"
GRID_COLOUR = "#cfd8dc"


def _x_positions(dates: Sequence[str]) -> list[float]:
    """0..1 along the axis by real time between visits; evenly spaced if all on one day."""
    days = [date.fromisoformat(d).toordinal() for d in dates]
    if not days:
        return []
    lo, hi = min(days), max(days)
    if hi == lo:
        n = len(days)
        return [0.5] if n == 1 else [i / (n - 1) for i in range(n)]
    return [(d - lo) / (hi - lo) for d in days]


def paint_chart(
    p: QPainter,
    rect: QRectF,
    series: Sequence[dict[str, Any]],
    font: QFont,
    highlight: Sequence[int] = (),
    unit: float = 1.0,
) -> None:
    """Draw the chart into ``rect``; ``unit`` scales pens and markers (1 = one screen pixel)."""
    p.save()
    p.setRenderHint(QPainter.RenderHint.Antialiasing, True)
    p.setFont(font)
    fm_h = p.fontMetrics().height()
    left = p.fontMetrics().horizontalAdvance("100 %") + 6 * unit
    plot = QRectF(
        rect.left() + left,
        rect.top() + fm_h * 0.6,
        max(10.0, rect.width() - left - 10 * unit),
        max(10.0, rect.height() - fm_h * 2.4),
    )
    p.setPen(QPen(QColor(GRID_COLOUR), unit))
    for frac in (0.0, 0.25, 0.5, 0.75, 1.0):
        y = plot.bottom() - frac * plot.height()
        p.drawLine(QPointF(plot.left(), y), QPointF(plot.right(), y))
    p.setPen(QColor("#455a64"))
    for frac in (0.0, 0.5, 1.0):
        y = plot.bottom() - frac * plot.height()
        p.drawText(
            QRectF(rect.left(), y - fm_h / 2, left - 4 * unit, fm_h),
            Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter,
            percent(frac),
        )
    if not series:
        p.drawText(plot, Qt.AlignmentFlag.AlignCenter, texts.NO_VISITS_YET)
        p.restore()
        return
    thresholds = [s["threshold"] for s in series if s.get("threshold") is not None]
    if thresholds:
        th = float(thresholds[-1])
        y = plot.bottom() - th * plot.height()
        pen = QPen(QColor(THRESHOLD_COLOUR), unit, Qt.PenStyle.DashLine)
        p.setPen(pen)
        p.drawLine(QPointF(plot.left(), y), QPointF(plot.right(), y))
        p.drawText(
            QRectF(plot.left() + 4 * unit, y - fm_h, plot.width(), fm_h),
            Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignBottom,
            texts.chart_threshold(th * 100),
        )
    xs = [plot.left() + x * plot.width() for x in _x_positions([s["date"] for s in series])]

    def y_of(v: float) -> float:
        return plot.bottom() - max(0.0, min(1.0, float(v))) * plot.height()

    line = QPainterPath()
    started = False
    for x, s in zip(xs, series, strict=True):
        if s["value"] is None:
            continue
        pt = QPointF(x, y_of(s["value"]))
        if started:
            line.lineTo(pt)
        else:
            line.moveTo(pt)
            started = True
    p.setPen(QPen(QColor(LINE_COLOUR), 2 * unit))
    p.setBrush(Qt.BrushStyle.NoBrush)
    p.drawPath(line)
    r = 4.5 * unit
    for x, s in zip(xs, series, strict=True):
        for old in s.get("earlier", []):
            p.setPen(QPen(QColor("#78909c"), unit))
            p.setBrush(Qt.BrushStyle.NoBrush)
            p.drawEllipse(QPointF(x, y_of(old)), r, r)
        colour = QColor(LEVEL_COLOURS.get(s["level"], "#37474f"))
        if s["visit_id"] in highlight:
            p.setPen(QPen(QColor("#ffb300"), 3 * unit))
            p.setBrush(Qt.BrushStyle.NoBrush)
            y = y_of(s["value"]) if s["value"] is not None else plot.bottom()
            p.drawEllipse(QPointF(x, y), r * 2, r * 2)
        if s["value"] is None:
            p.setPen(QPen(colour, 2 * unit))
            y = plot.bottom()
            p.drawLine(QPointF(x - r, y - r), QPointF(x + r, y + r))
            p.drawLine(QPointF(x - r, y + r), QPointF(x + r, y - r))
            continue
        pt = QPointF(x, y_of(s["value"]))
        p.setPen(QPen(colour, unit))
        p.setBrush(QBrush(colour))
        if s["level"] == "alert":
            diamond = QPainterPath()
            d = r * 1.4
            diamond.moveTo(pt + QPointF(0, -d))
            diamond.lineTo(pt + QPointF(d, 0))
            diamond.lineTo(pt + QPointF(0, d))
            diamond.lineTo(pt + QPointF(-d, 0))
            diamond.closeSubpath()
            p.drawPath(diamond)
        else:
            p.drawEllipse(pt, r, r)
    p.setPen(QColor("#455a64"))
    first, last = series[0]["date"], series[-1]["date"]
    base = plot.bottom() + 4 * unit
    p.drawText(QRectF(plot.left(), base, plot.width(), fm_h), Qt.AlignmentFlag.AlignLeft, first)
    if last != first:
        p.drawText(QRectF(plot.left(), base, plot.width(), fm_h), Qt.AlignmentFlag.AlignRight, last)
    p.drawText(
        QRectF(plot.left(), base, plot.width(), fm_h),
        Qt.AlignmentFlag.AlignHCenter,
        texts.CHART_AXIS,
    )
    p.restore()


class MelanomaChart(QWidget):
    """The chart as a widget; ``set_series`` takes ``desktop.history.service.melanoma_series``."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._series: list[dict[str, Any]] = []
        self._highlight: tuple[int, ...] = ()
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Preferred)
        self.setAccessibleName(texts.CHART_NAME)

    def sizeHint(self) -> QSize:  # noqa: N802
        em = self.fontMetrics().height()
        return QSize(30 * em, 9 * em)

    def minimumSizeHint(self) -> QSize:  # noqa: N802
        em = self.fontMetrics().height()
        return QSize(12 * em, 6 * em)

    def set_series(self, series: Sequence[dict[str, Any]], highlight: Sequence[int] = ()) -> None:
        self._series = list(series)
        self._highlight = tuple(highlight)
        values = [
            f"{s['date']}: " + (CANNOT_ASSESS_SHORT if s["value"] is None else percent(s["value"]))
            for s in self._series
        ]
        self.setAccessibleDescription("; ".join(values))
        self.update()

    @property
    def series(self) -> list[dict[str, Any]]:
        return list(self._series)

    def paintEvent(self, event: QPaintEvent) -> None:  # noqa: N802
        p = QPainter(self)
        p.fillRect(self.rect(), QColor("#ffffff"))
        paint_chart(
            p,
            QRectF(self.rect()).adjusted(4, 4, -4, -4),
            self._series,
            self.font(),
            self._highlight,
        )
        p.end()
