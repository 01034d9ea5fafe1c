"""The large photo with an optional heat-map layer: fit, 1:1, zoom and pan.

The heat-map is a separate transparent layer painted over the photo at the
chosen opacity, so moving the opacity slider only repaints; nothing is
re-blended. A photo that fits the view at actual pixels opens at 1:1, sharp,
rather than blown up and blurred; Fit (or +) enlarges it when the user asks.
"""

from __future__ import annotations

from PySide6.QtCore import QPointF, QRect, QRectF, QSize, Qt, Signal
from PySide6.QtGui import (
    QColor,
    QImage,
    QKeyEvent,
    QMouseEvent,
    QPainter,
    QPaintEvent,
    QPen,
    QWheelEvent,
)
from PySide6.QtWidgets import QSizePolicy, QWidget

from desktop.heatmap import DEFAULT_OPACITY
from desktop.qt import palette, texts

ZOOM_STEP = 1.25
MIN_ZOOM = 0.05  # image pixels per screen pixel
MAX_ZOOM = 16.0
BACKGROUND = QColor(palette.PHOTO_BACKGROUND)


class ImageView(QWidget):
    """Paints one photo, letter-boxed on neutral grey, with an optional heat layer."""

    zoomChanged = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._photo: QImage | None = None
        self._heat: QImage | None = None
        self._box: QRect | None = None  # where the heat layer goes, in photo pixels
        self._show_overlay = False
        self._opacity = DEFAULT_OPACITY
        self._message = texts.IMAGE_PLACEHOLDER
        self._fit = True
        self._zoom = 1.0  # screen (device) pixels per image pixel when not fitting
        self._center = QPointF()  # image point shown at the middle of the view
        self._drag: QPointF | None = None
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)  # arrows pan; the focus ring shows it
        self.setAccessibleName(texts.IMAGE_VIEW_NAME)
        self.setAutoFillBackground(False)

    def sizeHint(self) -> QSize:  # noqa: N802 (Qt naming)
        em = self.fontMetrics().height()
        return QSize(32 * em, 22 * em)

    def minimumSizeHint(self) -> QSize:  # noqa: N802
        em = self.fontMetrics().height()
        return QSize(12 * em, 8 * em)

    # Content ------------------------------------------------------------------------------
    def set_images(
        self, photo: QImage | None, heat: QImage | None = None, box: QRect | None = None
    ) -> None:
        """A new photo (and its heat layer over ``box``): 1:1 when it fits that way, else fit."""
        self._photo = photo
        self._message = "" if photo is not None else texts.IMAGE_PLACEHOLDER
        self._fit, self._zoom = True, 1.0
        if photo is not None:
            self._center = QPointF(photo.width() / 2, photo.height() / 2)
            self._fit = self.fit_zoom() < 1.0  # a small photo is not blown up by default
        self.set_heat(heat, box)
        self.zoomChanged.emit()

    def set_heat(self, heat: QImage | None, box: QRect | None = None) -> None:
        """Swap the heat layer only (another class), keeping zoom and pan."""
        self._heat = heat
        if heat is not None and box is None and self._photo is not None:
            box = self._photo.rect()
        self._box = box
        self.update()

    def set_message(self, text: str) -> None:
        """Show text instead of an image (placeholder, loading, or why it cannot be shown)."""
        self._photo, self._heat, self._box, self._message = None, None, None, text
        self._fit = True
        self.update()
        self.zoomChanged.emit()

    def set_show_overlay(self, show: bool) -> None:
        self._show_overlay = bool(show)
        self.update()

    def set_opacity(self, opacity: float) -> None:
        self._opacity = min(1.0, max(0.0, float(opacity)))
        self.update()

    @property
    def opacity(self) -> float:
        return self._opacity

    @property
    def showing_overlay(self) -> bool:
        return self._show_overlay and self._heat is not None

    @property
    def has_overlay(self) -> bool:
        return self._heat is not None

    @property
    def photo(self) -> QImage | None:
        return self._photo

    @property
    def heat(self) -> QImage | None:
        return self._heat

    @property
    def message(self) -> str:
        return self._message

    def current_image(self) -> QImage | None:
        """The photo as shown (with the heat layer at the current opacity when it is on)."""
        if self._photo is None or not self.showing_overlay:
            return self._photo
        return composite(self._photo, self._heat, self._box, self._opacity)

    # Zoom and pan -------------------------------------------------------------------------
    @property
    def fitting(self) -> bool:
        return self._fit

    def _dpr(self) -> float:
        return max(1.0, float(self.devicePixelRatioF()))

    def fit_zoom(self) -> float:
        """Device pixels per image pixel at which the whole photo fills the view."""
        if self._photo is None or self._photo.isNull():
            return 1.0
        dpr = self._dpr()
        w, h = self.width() * dpr, self.height() * dpr
        return min(w / self._photo.width(), h / self._photo.height())

    def zoom(self) -> float:
        """Device pixels per image pixel now: 1.0 is actual pixels (1:1)."""
        return self.fit_zoom() if self._fit else self._zoom

    def zoom_fit(self) -> None:
        self._fit = True
        if self._photo is not None:
            self._center = QPointF(self._photo.width() / 2, self._photo.height() / 2)
        self.update()
        self.zoomChanged.emit()

    def zoom_actual(self) -> None:
        """One image pixel on one screen pixel, centred where the view is now."""
        self.set_zoom(1.0)

    def zoom_in(self) -> None:
        self.set_zoom(self.zoom() * ZOOM_STEP)

    def zoom_out(self) -> None:
        self.set_zoom(self.zoom() / ZOOM_STEP)

    def set_zoom(self, zoom: float, anchor: QPointF | None = None) -> None:
        """Zoom to ``zoom``, keeping the image point under ``anchor`` (view coordinates) still."""
        if self._photo is None:
            return
        new = min(MAX_ZOOM, max(MIN_ZOOM, zoom))
        if anchor is not None:
            point = self._to_image(anchor)
            offset = (anchor - QPointF(self.rect().center())) * self._dpr()
            self._center = point - offset / new
        self._fit, self._zoom = False, new
        self._clamp_center()
        self.update()
        self.zoomChanged.emit()

    def pan(self, dx: float, dy: float) -> None:
        """Move the view by (dx, dy) screen pixels."""
        if self._fit or self._photo is None:
            return
        scale = self._zoom / self._dpr()
        self._center -= QPointF(dx / scale, dy / scale)
        self._clamp_center()
        self.update()

    def _clamp_center(self) -> None:
        if self._photo is None:
            return
        scale = self._zoom / self._dpr()  # logical pixels per image pixel
        half_w, half_h = self.width() / (2 * scale), self.height() / (2 * scale)
        iw, ih = self._photo.width(), self._photo.height()
        x = iw / 2 if 2 * half_w >= iw else min(max(self._center.x(), half_w), iw - half_w)
        y = ih / 2 if 2 * half_h >= ih else min(max(self._center.y(), half_h), ih - half_h)
        self._center = QPointF(x, y)

    def image_rect(self) -> QRectF:
        """Where the whole photo lands in view coordinates."""
        if self._photo is None:
            return QRectF()
        scale = self.zoom() / self._dpr()
        w, h = self._photo.width() * scale, self._photo.height() * scale
        centre = QPointF(self.rect().center()) + QPointF(0.5, 0.5)
        if self._fit:
            return QRectF(centre.x() - w / 2, centre.y() - h / 2, w, h)
        top_left = centre - self._center * scale
        return QRectF(top_left.x(), top_left.y(), w, h)

    def _to_image(self, pos: QPointF) -> QPointF:
        rect = self.image_rect()
        scale = self.zoom() / self._dpr()
        return QPointF((pos.x() - rect.x()) / scale, (pos.y() - rect.y()) / scale)

    def _can_pan(self) -> bool:
        if self._photo is None or self._fit:
            return False
        rect = self.image_rect()
        return rect.width() > self.width() or rect.height() > self.height()

    # Events -------------------------------------------------------------------------------
    def resizeEvent(self, event) -> None:  # noqa: N802
        super().resizeEvent(event)
        if not self._fit:
            self._clamp_center()
        self.zoomChanged.emit()

    def wheelEvent(self, event: QWheelEvent) -> None:  # noqa: N802
        steps = event.angleDelta().y() / 120
        if self._photo is None or not steps:
            event.ignore()
            return
        self.set_zoom(self.zoom() * ZOOM_STEP**steps, event.position())
        event.accept()

    def mousePressEvent(self, event: QMouseEvent) -> None:  # noqa: N802
        if event.button() == Qt.MouseButton.LeftButton and self._can_pan():
            self._drag = event.position()
            self.setCursor(Qt.CursorShape.ClosedHandCursor)
            event.accept()
            return
        super().mousePressEvent(event)

    def mouseMoveEvent(self, event: QMouseEvent) -> None:  # noqa: N802
        if self._drag is not None:
            delta = event.position() - self._drag
            self._drag = event.position()
            self.pan(delta.x(), delta.y())
            event.accept()
            return
        super().mouseMoveEvent(event)

    def mouseReleaseEvent(self, event: QMouseEvent) -> None:  # noqa: N802
        if self._drag is not None:
            self._drag = None
            self.unsetCursor()
        super().mouseReleaseEvent(event)

    def mouseDoubleClickEvent(self, event: QMouseEvent) -> None:  # noqa: N802
        """Double-click swaps between fit and actual pixels at the clicked point."""
        if self._photo is None:
            return
        if self._fit or abs(self._zoom - 1.0) > 1e-6:
            self.set_zoom(1.0, event.position())
        else:
            self.zoom_fit()

    def keyPressEvent(self, event: QKeyEvent) -> None:  # noqa: N802
        step = max(self.width(), self.height()) / 10
        moves = {
            Qt.Key.Key_Left: (step, 0),
            Qt.Key.Key_Right: (-step, 0),
            Qt.Key.Key_Up: (0, step),
            Qt.Key.Key_Down: (0, -step),
        }
        if event.key() in moves and self._can_pan():
            self.pan(*moves[event.key()])
            return
        super().keyPressEvent(event)

    def focusInEvent(self, event) -> None:  # noqa: N802
        super().focusInEvent(event)
        self.update()

    def focusOutEvent(self, event) -> None:  # noqa: N802
        super().focusOutEvent(event)
        self.update()

    def paintEvent(self, event: QPaintEvent) -> None:  # noqa: N802
        painter = QPainter(self)
        painter.fillRect(self.rect(), BACKGROUND)
        photo = self._photo
        if photo is None or photo.isNull():
            painter.setPen(QColor(palette.PHOTO_TEXT))
            margin = self.fontMetrics().height()
            painter.drawText(
                self.rect().adjusted(margin, margin, -margin, -margin),
                Qt.AlignmentFlag.AlignCenter | Qt.TextFlag.TextWordWrap,
                self._message,
            )
        else:
            rect = self.image_rect()
            # Shrinking and fitting are filtered; zoomed in on purpose, the true pixels show.
            smooth = self._fit or self.zoom() < 1.0
            painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform, smooth)
            painter.drawImage(rect, photo)
            if self.showing_overlay and self._heat is not None and self._box is not None:
                scale = self.zoom() / self._dpr()
                box = QRectF(
                    rect.x() + self._box.x() * scale,
                    rect.y() + self._box.y() * scale,
                    self._box.width() * scale,
                    self._box.height() * scale,
                )
                painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform, True)
                painter.setOpacity(self._opacity)
                painter.drawImage(box, self._heat)
                painter.setOpacity(1.0)
                if self._box != photo.rect():  # the model saw only this square: say so
                    painter.setPen(QPen(QColor(palette.WHITE), 1))
                    painter.drawRect(box.adjusted(0, 0, -1, -1))
        if self.hasFocus():
            pen = QPen(self.palette().highlight().color(), 3)
            painter.setPen(pen)
            painter.setBrush(Qt.BrushStyle.NoBrush)
            painter.drawRect(QRectF(self.rect()).adjusted(1.5, 1.5, -1.5, -1.5))
        painter.end()


def composite(photo: QImage, heat: QImage | None, box: QRect | None, opacity: float) -> QImage:
    """``photo`` with ``heat`` painted over ``box`` at ``opacity`` (the PDF's heat-map image)."""
    out = photo.convertToFormat(QImage.Format.Format_RGB32)
    if heat is None or heat.isNull():
        return out
    target = box if box is not None else out.rect()
    painter = QPainter(out)
    painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform, True)
    painter.setOpacity(min(1.0, max(0.0, opacity)))
    painter.drawImage(QRectF(target), heat)
    painter.setOpacity(1.0)
    if target != out.rect():
        width = max(1, round(min(out.width(), out.height()) / 300))
        painter.setPen(QPen(QColor(palette.WHITE), width))
        painter.drawRect(QRectF(target).adjusted(0, 0, -1, -1))
    painter.end()
    return out
