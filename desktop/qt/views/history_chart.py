"""Melanoma probability over a lesion's visits, painted with QPainter (no matplotlib in the app).

One paint function serves the window and the PDF so both show the same picture.
The axis is stretched below the card's alert level (the level sits half-way up), so a
rise from 2 % to 6 % towards an 8 % alert is visible rather than a flat line at the
bottom; the dashed line says the level in words. Colour is never the only cue: an alert
is a filled diamond, no alert a filled circle, an earlier result (before
re-classification) a hollow circle. A visit that could not be assessed has no point, only
a grey tick on the date axis. Dates are labelled as many as fit without overlapping.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

from PySide6.QtCore import QPointF, QRectF, QSize, Qt, Signal
from PySide6.QtGui import (
    QBrush,
    QColor,
    QFont,
    QFontMetrics,
    QFontMetricsF,
    QMouseEvent,
    QPainter,
    QPainterPath,
    QPaintEvent,
    QPen,
)
from PySide6.QtWidgets import QSizePolicy, QWidget

from desktop.history.service import SeriesPoint
from desktop.qt import followup_texts as words
from desktop.qt import history_texts, palette
from desktop.verdict import ALERT, CANNOT_ASSESS, CANNOT_ASSESS_SHORT, percent

THRESHOLD_HEIGHT = 0.5  # where the alert level sits on the axis (0 bottom, 1 top)


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


def axis_fraction(value: float, threshold: float | None) -> float:
    """Height on the axis (0..1) of a probability: piecewise linear, the alert level at
    THRESHOLD_HEIGHT, so the range below the level gets as much room as the range above."""
    v = max(0.0, min(1.0, float(value)))
    if threshold is None or not 0.0 < threshold < 1.0:
        return v
    if v <= threshold:
        return THRESHOLD_HEIGHT * v / threshold
    return THRESHOLD_HEIGHT + (1 - THRESHOLD_HEIGHT) * (v - threshold) / (1 - threshold)


def axis_ticks(threshold: float | None) -> list[float]:
    """Probabilities labelled on the axis: the ends, the alert level, half of it, and 50 %."""
    if threshold is None or not 0.0 < threshold < 1.0:
        return [0.0, 0.25, 0.5, 0.75, 1.0]
    ticks = {0.0, threshold / 2, threshold, 1.0}
    if 0.5 - threshold > 0.15:
        ticks.add(0.5)
    return sorted(ticks)


@dataclass(frozen=True)
class ChartLayout:
    """Where everything goes: shared by painting and by clicking a point."""

    plot: QRectF
    label_w: float
    threshold: float | None
    xs: tuple[float, ...]

    def y_of(self, value: float) -> float:
        return self.plot.bottom() - axis_fraction(value, self.threshold) * self.plot.height()


def chart_layout(
    rect: QRectF, series: Sequence[SeriesPoint], fm: QFontMetrics | QFontMetricsF, unit: float
) -> ChartLayout:
    """The plot area inside ``rect`` and the x of each visit in ``series``; ``fm`` is the
    painting device's (a PDF's metrics differ from the screen's)."""
    label_w = fm.horizontalAdvance("100.0 %") + 6 * unit
    plot = QRectF(
        rect.left() + label_w,
        rect.top() + fm.height() * 0.8,
        max(10.0, rect.width() - label_w - 12 * unit),
        max(10.0, rect.height() - fm.height() * 3.0),
    )
    thresholds = [s.threshold for s in series if s.threshold is not None]
    threshold = float(thresholds[-1]) if thresholds else None
    xs = tuple(plot.left() + x * plot.width() for x in _x_positions([s.date for s in series]))
    return ChartLayout(plot, label_w, threshold, xs)


def _paint_axis(p: QPainter, rect: QRectF, lay: ChartLayout, unit: float) -> None:
    """Grid lines and their labels, then the dashed alert level with its words."""
    fm_h = p.fontMetrics().height()
    plot = lay.plot
    placed: list[float] = []
    for value in axis_ticks(lay.threshold):
        y = lay.y_of(value)
        p.setPen(QPen(QColor(palette.CHART_GRID), unit))
        p.drawLine(QPointF(plot.left(), y), QPointF(plot.right(), y))
        if any(abs(y - other) < fm_h for other in placed):
            continue  # too close to a label already written
        placed.append(y)
        p.setPen(QColor(palette.CHART_TEXT))
        digits = 1 if 0 < value < 0.1 and round(value * 100) != value * 100 else 0
        p.drawText(
            QRectF(rect.left(), y - fm_h / 2, lay.label_w - 4 * unit, fm_h),
            Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter,
            percent(value, digits),
        )
    if lay.threshold is None:
        return
    y = lay.y_of(lay.threshold)
    p.setPen(QPen(QColor(palette.CHART_THRESHOLD), unit * 1.5, Qt.PenStyle.DashLine))
    p.drawLine(QPointF(plot.left(), y), QPointF(plot.right(), y))
    label = words.chart_threshold(lay.threshold * 100)
    box = QRectF(
        plot.left() + 4 * unit, y - fm_h - unit, p.fontMetrics().horizontalAdvance(label), fm_h
    )
    p.fillRect(box.adjusted(-2 * unit, 0, 2 * unit, 0), QColor(palette.CHART_LABEL_BACKING))
    p.drawText(box, Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignBottom, label)


def _paint_points(
    p: QPainter, lay: ChartLayout, series: Sequence[SeriesPoint], highlight, unit: float
) -> None:
    """The line through the assessed visits, then a marker per visit (none if unassessable)."""
    line = QPainterPath()
    points = [(x, s) for x, s in zip(lay.xs, series, strict=True) if s.value is not None]
    for i, (x, s) in enumerate(points):
        pt = QPointF(x, lay.y_of(s.value))
        if i:
            line.lineTo(pt)
        else:
            line.moveTo(pt)
    p.setPen(QPen(QColor(palette.CHART_LINE), 2 * unit))
    p.setBrush(Qt.BrushStyle.NoBrush)
    p.drawPath(line)
    r = 4.5 * unit
    for x, s in points:
        for old in s.earlier:
            p.setPen(QPen(QColor(palette.CHART_EARLIER), unit))
            p.setBrush(Qt.BrushStyle.NoBrush)
            p.drawEllipse(QPointF(x, lay.y_of(old)), r, r)
        pt = QPointF(x, lay.y_of(s.value))
        if s.visit_id in highlight:
            p.setPen(QPen(QColor(palette.CHART_HIGHLIGHT), 3 * unit))
            p.setBrush(Qt.BrushStyle.NoBrush)
            p.drawEllipse(pt, r * 2, r * 2)
        colour = QColor(palette.level_ink(s.level))
        p.setPen(QPen(colour, unit))
        p.setBrush(QBrush(colour))
        if s.level == ALERT:
            d = r * 1.4
            diamond = QPainterPath(pt + QPointF(0, -d))
            for corner in (QPointF(d, 0), QPointF(0, d), QPointF(-d, 0)):
                diamond.lineTo(pt + corner)
            diamond.closeSubpath()
            p.drawPath(diamond)
        else:
            p.drawEllipse(pt, r, r)


def date_labels(xs: Sequence[float], dates: Sequence[str], width_of, gap: float) -> list[int]:
    """Which visits get their date written: the last, the first, then the others in turn,
    each only where it does not overlap one already placed."""
    order = [len(dates) - 1, 0, *range(1, len(dates) - 1)] if dates else []
    placed: list[tuple[float, float]] = []
    chosen = []
    for i in dict.fromkeys(order):
        half = width_of(dates[i]) / 2 + gap
        lo, hi = xs[i] - half, xs[i] + half
        if all(hi <= a or lo >= b for a, b in placed):
            placed.append((lo, hi))
            chosen.append(i)
    return sorted(chosen)


def _paint_dates(
    p: QPainter, rect: QRectF, lay: ChartLayout, series: Sequence[SeriesPoint], unit: float
) -> None:
    """A tick per visit (grey where it could not be assessed), the dates that fit, the title."""
    fm = p.fontMetrics()
    fm_h = fm.height()
    base = lay.plot.bottom()
    dates = [s.date for s in series]
    for x, s in zip(lay.xs, series, strict=True):
        grey = s.value is None
        p.setPen(
            QPen(QColor(palette.level_ink(CANNOT_ASSESS) if grey else palette.CHART_TEXT), unit)
        )
        p.drawLine(QPointF(x, base), QPointF(x, base + 4 * unit))
    p.setPen(QColor(palette.CHART_TEXT))
    for i in date_labels(lay.xs, dates, fm.horizontalAdvance, 3 * unit):
        w = fm.horizontalAdvance(dates[i]) + 2
        left = min(max(lay.xs[i] - w / 2, rect.left()), rect.right() - w)
        p.drawText(QRectF(left, base + 5 * unit, w, fm_h), Qt.AlignmentFlag.AlignLeft, dates[i])
    caption = history_texts.CHART_AXIS
    if lay.threshold is not None:
        caption += f" ({words.CHART_SCALE_NOTE})"
    p.drawText(
        QRectF(lay.plot.left(), base + 5 * unit + fm_h, lay.plot.width(), fm_h),
        Qt.AlignmentFlag.AlignHCenter,
        caption,
    )


def paint_chart(
    p: QPainter,
    rect: QRectF,
    series: Sequence[SeriesPoint],
    font: QFont,
    highlight: Sequence[int] = (),
    unit: float = 1.0,
) -> None:
    """Draw the chart into ``rect``; ``unit`` scales pens and markers (1 = one screen pixel)."""
    p.save()
    p.setRenderHint(QPainter.RenderHint.Antialiasing, True)
    p.setFont(font)
    lay = chart_layout(rect, series, p.fontMetrics(), unit)
    _paint_axis(p, rect, lay, unit)
    if not series:
        p.setPen(QColor(palette.CHART_TEXT))
        p.drawText(lay.plot, Qt.AlignmentFlag.AlignCenter, history_texts.NO_VISITS_YET)
    else:
        _paint_points(p, lay, series, tuple(highlight), unit)
        _paint_dates(p, rect, lay, series, unit)
    p.restore()


class MelanomaChart(QWidget):
    """The chart as a widget; ``set_series`` takes ``desktop.history.service.melanoma_series``.

    Clicking a point emits ``visitClicked`` with its visit id (the timeline then shows it).
    """

    visitClicked = Signal(int)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._series: list[SeriesPoint] = []
        self._highlight: tuple[int, ...] = ()
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Preferred)
        self.setAccessibleName(history_texts.CHART_NAME)
        self.setToolTip(words.CHART_CLICK_TIP)

    def sizeHint(self) -> QSize:  # noqa: N802
        em = self.fontMetrics().height()
        return QSize(30 * em, 9 * em)

    def minimumSizeHint(self) -> QSize:  # noqa: N802
        em = self.fontMetrics().height()
        return QSize(12 * em, 6 * em)

    def set_series(self, series: Sequence[SeriesPoint], highlight: Sequence[int] = ()) -> None:
        self._series = list(series)
        self._highlight = tuple(highlight)
        values = [
            f"{s.date}: "
            + (CANNOT_ASSESS_SHORT if s.value is None else s.text or percent(s.value, 1))
            for s in self._series
        ]
        self.setAccessibleDescription("; ".join(values))
        self.update()

    @property
    def series(self) -> list[SeriesPoint]:
        return list(self._series)

    def _area(self) -> QRectF:
        return QRectF(self.rect()).adjusted(4, 4, -4, -4)

    def point_positions(self) -> dict[int, QPointF]:
        """Visit id -> where its point is drawn; a visit that could not be assessed has none."""
        lay = chart_layout(self._area(), self._series, self.fontMetrics(), 1.0)
        return {
            s.visit_id: QPointF(x, lay.y_of(s.value))
            for x, s in zip(lay.xs, self._series, strict=True)
            if s.value is not None
        }

    def visit_at(self, pos: QPointF) -> int | None:
        """The visit whose point is nearest ``pos``, within a finger's reach of it."""
        reach = self.fontMetrics().height() * 1.2
        best, best_d = None, reach
        for visit_id, pt in self.point_positions().items():
            d = ((pt.x() - pos.x()) ** 2 + (pt.y() - pos.y()) ** 2) ** 0.5
            if d <= best_d:
                best, best_d = visit_id, d
        return best

    def mousePressEvent(self, event: QMouseEvent) -> None:  # noqa: N802
        visit_id = self.visit_at(event.position())
        if visit_id is not None and event.button() == Qt.MouseButton.LeftButton:
            self.visitClicked.emit(visit_id)
            event.accept()
            return
        super().mousePressEvent(event)

    def paintEvent(self, event: QPaintEvent) -> None:  # noqa: N802
        p = QPainter(self)
        p.fillRect(self.rect(), QColor(palette.CHART_BACKGROUND))
        paint_chart(p, self._area(), self._series, self.font(), self._highlight)
        p.end()
