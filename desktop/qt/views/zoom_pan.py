"""The one zoom/pan photo widget: the main window's image view and the timeline's two visits.

One rule for both:

- the view is ``(zoom, cx, cy)``: zoom relative to fitting the whole photo (1 = fit), and
  ``cx, cy`` the photo point at the centre as fractions of its width and height, so two
  photos of different sizes can share one view (:func:`link_views`);
- the wheel and + / - zoom by :data:`ZOOM_STEP` around the cursor (the centre for keys);
  the zoom stays between the smaller and the larger of "fit" and "actual pixels" (1:1),
  and at most :data:`MAX_ZOOM` screen pixels per photo pixel beyond them;
- 0 fits, double-click swaps between actual pixels (at the clicked point) and fit;
- drag or the arrow keys pan, only when the photo is larger than the view, and never past
  its edges;
- fit stays fit when the view is resized; any other zoom keeps its screen pixels per photo
  pixel (1:1 stays 1:1);
- a new photo keeps the view (the same part of the photo, at the same zoom relative to
  fit); the main window then chooses its own start (:meth:`ImageView.set_images`).

A second picture (a heat-map, an aligned earlier visit) can be laid over the photo, over
all of it or over a box of its pixels, at an opacity.
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
from PySide6.QtWidgets import QCheckBox, QSizePolicy, QWidget

from desktop.qt import history_texts, palette, texts

ZOOM_STEP = 1.25
MAX_ZOOM = 16.0  # screen (device) pixels per photo pixel, unless fitting needs more
BACKGROUND = QColor(palette.PHOTO_BACKGROUND)  # neutral dark grey: keeps skin tones true


class ZoomPanView(QWidget):
    """A photo letter-boxed on neutral grey that zooms and pans (see the module's rule)."""

    viewChanged = Signal(float, float, float)  # (zoom, cx, cy) after the user moved it
    zoomChanged = Signal()  # any change of zoom: a new photo, a resize, the user
    HINT_EM = (20, 16)  # preferred and smallest size, in lines of text
    MINIMUM_EM = (8, 6)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._image: QImage | None = None
        self._layer: QImage | None = None  # drawn over the photo, e.g. the earlier visit
        self._layer_box: QRect | None = None  # where, in photo pixels (None: all of it)
        self._layer_opacity = 0.0
        self._message = texts.NO_IMAGE
        self._fit = True
        self._zoom = 1.0  # device pixels per photo pixel when not fitting (without a photo
        # fit is 1, so this is then the zoom relative to fit: the view a new photo keeps)
        self._cx, self._cy = 0.5, 0.5
        self._drag: QPointF | None = None
        self.zoom_readout = False  # paint "2.0×" in a corner while zoomed in (timeline)
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)  # arrows pan; the focus ring shows it
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        self.setAutoFillBackground(False)

    def sizeHint(self) -> QSize:  # noqa: N802 (Qt naming)
        return self._em_size(*self.HINT_EM)

    def minimumSizeHint(self) -> QSize:  # noqa: N802
        return self._em_size(*self.MINIMUM_EM)

    def _em_size(self, w: int, h: int) -> QSize:
        em = self.fontMetrics().height()
        return QSize(w * em, h * em)

    # Content ------------------------------------------------------------------------------
    @property
    def image(self) -> QImage | None:
        return self._image

    @property
    def message(self) -> str:
        return self._message

    def set_image(self, image: QImage | None) -> None:
        """Show ``image``, keeping the view (see the module's rule)."""
        image = image if image is not None and not image.isNull() else None
        self._swap(image, "" if image is not None else texts.IMAGE_NOT_SHOWN)

    def set_message(self, text: str) -> None:
        """Words instead of a photo (placeholder, loading, or why it cannot be shown)."""
        self._layer = self._layer_box = None
        self._swap(None, text)

    def _swap(self, image: QImage | None, message: str) -> None:
        zoom = self.view()[0]  # relative to fit, kept across photos
        self._image, self._message = image, message
        self._zoom = zoom * self.fit_zoom()
        self._clamp()
        self.update()
        self.zoomChanged.emit()

    def set_overlay(self, image: QImage | None, opacity: float = 0.0) -> None:
        """A second picture faded over the whole photo (an aligned earlier visit)."""
        self.set_layer(image, None)
        self.set_layer_opacity(opacity)

    @property
    def overlay(self) -> tuple[QImage | None, float]:
        return self._layer, self._layer_opacity

    @property
    def layer_box(self) -> QRect | None:
        return self._layer_box

    def set_layer(self, image: QImage | None, box: QRect | None = None) -> None:
        """The picture over ``box`` of the photo (None: all of it); zoom and pan stay."""
        self._layer = image if image is not None and not image.isNull() else None
        self._layer_box = box
        self.update()

    def set_layer_opacity(self, opacity: float) -> None:
        self._layer_opacity = min(1.0, max(0.0, float(opacity)))
        self.update()

    def layer_shown(self) -> bool:
        """Whether the layer is painted (here: whenever it is not fully transparent)."""
        return self._layer is not None and self._layer_opacity > 0

    # The view -----------------------------------------------------------------------------
    @property
    def fitting(self) -> bool:
        return self._fit

    def _dpr(self) -> float:
        return max(1.0, float(self.devicePixelRatioF()))

    def fit_zoom(self) -> float:
        """Device pixels per photo pixel at which the whole photo fills the view."""
        if self._image is None:
            return 1.0
        dpr = self._dpr()
        w, h = self.width() * dpr, self.height() * dpr
        return max(1e-6, min(w / self._image.width(), h / self._image.height()))

    def zoom(self) -> float:
        """Device pixels per photo pixel now: 1.0 is actual pixels (1:1)."""
        return self.fit_zoom() if self._fit else self._zoom

    def view(self) -> tuple[float, float, float]:
        """(zoom relative to fit, cx, cy): what a linked view copies."""
        return (1.0 if self._fit else self._zoom / self.fit_zoom()), self._cx, self._cy

    def set_view(self, zoom: float, cx: float, cy: float, emit: bool = False) -> None:
        """Move to a view; ``emit`` tells linked views (a move the user made)."""
        old = self.view()
        fit = self.fit_zoom()
        absolute = fit * float(zoom)
        low, high = min(fit, 1.0), max(fit, MAX_ZOOM)
        absolute = min(high, max(low, absolute))
        self._zoom, self._fit = absolute, abs(absolute / fit - 1.0) < 1e-9
        self._cx, self._cy = float(cx), float(cy)
        self._clamp()
        self.update()
        if self.view() != old:
            self.zoomChanged.emit()
            if emit:
                self.viewChanged.emit(*self.view())

    def zoom_fit(self) -> None:
        self.set_view(1.0, 0.5, 0.5, emit=True)

    reset = zoom_fit

    def zoom_actual(self) -> None:
        """One photo pixel on one screen pixel, centred where the view is now."""
        self.set_zoom(1.0)

    def zoom_in(self) -> None:
        self.zoom_by(ZOOM_STEP)

    def zoom_out(self) -> None:
        self.zoom_by(1 / ZOOM_STEP)

    def set_zoom(self, zoom: float, anchor: QPointF | None = None) -> None:
        """Zoom to ``zoom`` device pixels per photo pixel, keeping the photo point under
        ``anchor`` (view coordinates; default: the centre) still."""
        self.zoom_by(zoom / self.zoom(), anchor)

    def zoom_by(self, factor: float, anchor: QPointF | None = None) -> None:
        """Zoom by ``factor``, keeping the photo point under ``anchor`` still."""
        before = self.image_rect()
        if self._image is None or before.width() <= 0 or before.height() <= 0:
            return
        anchor = anchor if anchor is not None else QRectF(self.rect()).center()
        u = (anchor.x() - before.left()) / before.width()
        v = (anchor.y() - before.top()) / before.height()
        fit = self.fit_zoom()
        zoom = min(max(fit, MAX_ZOOM), max(min(fit, 1.0), self.zoom() * factor)) / fit
        scale = zoom / self.view()[0]
        c = QRectF(self.rect()).center()
        cx = u - (anchor.x() - c.x()) / (before.width() * scale)
        cy = v - (anchor.y() - c.y()) / (before.height() * scale)
        self.set_view(zoom, cx, cy, emit=True)

    def pan_by(self, dx: float, dy: float) -> None:
        """Move the photo by (dx, dy) view pixels (never past its edges)."""
        r = self.image_rect()
        if r.width() <= 0 or r.height() <= 0:
            return
        zoom, cx, cy = self.view()
        self.set_view(zoom, cx - dx / r.width(), cy - dy / r.height(), emit=True)

    def _clamp(self) -> None:
        """Keep the photo covering the view where it can (no panning into empty space)."""
        if self._image is None:
            return
        rect = self.image_rect()
        for attr, extent, view in (
            ("_cx", rect.width(), self.width()),
            ("_cy", rect.height(), self.height()),
        ):
            if extent <= view:
                setattr(self, attr, 0.5)
            else:
                half = view / 2 / extent
                setattr(self, attr, min(1 - half, max(half, getattr(self, attr))))

    def image_rect(self) -> QRectF:
        """Where the whole photo lands, in view coordinates."""
        if self._image is None:
            return QRectF()
        scale = self.zoom() / self._dpr()
        w, h = self._image.width() * scale, self._image.height() * scale
        c = QRectF(self.rect()).center()
        return QRectF(c.x() - self._cx * w, c.y() - self._cy * h, w, h)

    def can_pan(self) -> bool:
        """Whether the photo is larger than the view (so dragging moves it)."""
        if self._image is None or self._fit:
            return False
        rect = self.image_rect()
        return rect.width() > self.width() or rect.height() > self.height()

    # Events -------------------------------------------------------------------------------
    def resizeEvent(self, event) -> None:  # noqa: N802
        super().resizeEvent(event)
        self._clamp()
        self.zoomChanged.emit()

    def wheelEvent(self, event: QWheelEvent) -> None:  # noqa: N802
        steps = event.angleDelta().y() / 120
        if self._image is None or not steps:
            event.ignore()
            return
        self.zoom_by(ZOOM_STEP**steps, event.position())
        event.accept()

    def mousePressEvent(self, event: QMouseEvent) -> None:  # noqa: N802
        if event.button() == Qt.MouseButton.LeftButton and self.can_pan():
            self._drag = event.position()
            self.setCursor(Qt.CursorShape.ClosedHandCursor)
            event.accept()
            return
        super().mousePressEvent(event)

    def mouseMoveEvent(self, event: QMouseEvent) -> None:  # noqa: N802
        if self._drag is not None:
            delta = event.position() - self._drag
            self._drag = event.position()
            self.pan_by(delta.x(), delta.y())
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
        if self._image is None:
            return
        if abs(self.zoom() - 1.0) > 1e-6:
            self.set_zoom(1.0, event.position())
        else:
            self.zoom_fit()

    def keyPressEvent(self, event: QKeyEvent) -> None:  # noqa: N802
        step = max(self.width(), self.height()) / 10
        zooms = {
            Qt.Key.Key_Plus: self.zoom_in,
            Qt.Key.Key_Equal: self.zoom_in,
            Qt.Key.Key_Minus: self.zoom_out,
            Qt.Key.Key_0: self.zoom_fit,
        }
        moves = {
            Qt.Key.Key_Left: (step, 0),
            Qt.Key.Key_Right: (-step, 0),
            Qt.Key.Key_Up: (0, step),
            Qt.Key.Key_Down: (0, -step),
        }
        key = event.key()
        if key in zooms and self._image is not None:
            zooms[key]()
        elif key in moves and self.can_pan():
            self.pan_by(*moves[key])
        else:
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
        if self._image is None:
            painter.setPen(QColor(palette.PHOTO_TEXT))
            margin = self.fontMetrics().height()
            painter.drawText(
                self.rect().adjusted(margin, margin, -margin, -margin),
                Qt.AlignmentFlag.AlignCenter | Qt.TextFlag.TextWordWrap,
                self._message,
            )
        else:
            self._paint_photo(painter)
        if self.hasFocus():
            painter.setPen(QPen(self.palette().highlight().color(), 3))
            painter.setBrush(Qt.BrushStyle.NoBrush)
            painter.drawRect(QRectF(self.rect()).adjusted(1.5, 1.5, -1.5, -1.5))
        painter.end()

    def _paint_photo(self, painter: QPainter) -> None:
        assert self._image is not None
        rect = self.image_rect()
        # Shrinking and fitting are filtered; zoomed in on purpose, the true pixels show.
        smooth = self._fit or self.zoom() < 1.0
        painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform, smooth)
        painter.drawImage(rect, self._image)
        if self.layer_shown() and self._layer is not None:
            box, scale = rect, self.zoom() / self._dpr()
            if self._layer_box is not None:
                b = self._layer_box
                box = QRectF(
                    rect.x() + b.x() * scale,
                    rect.y() + b.y() * scale,
                    b.width() * scale,
                    b.height() * scale,
                )
            painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform, True)
            painter.setOpacity(self._layer_opacity)
            painter.drawImage(box, self._layer)
            painter.setOpacity(1.0)
            if self._layer_box is not None and self._layer_box != self._image.rect():
                # the model saw only this square: say so
                painter.setPen(QPen(QColor(palette.WHITE), 1))
                painter.drawRect(box.adjusted(0, 0, -1, -1))
        relative = self.view()[0]
        if self.zoom_readout and relative > 1.0:
            painter.setPen(QColor(palette.PHOTO_TEXT))
            painter.drawText(
                QRectF(self.rect()).adjusted(6, 4, -6, -4),
                Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignTop,
                history_texts.zoom_factor(relative),
            )


def link_views(a: ZoomPanView, b: ZoomPanView, linked: QCheckBox | None = None) -> None:
    """Zooming or panning one view moves the other to the same place (unless unticked)."""

    def follow(target: ZoomPanView):
        def apply(zoom: float, cx: float, cy: float) -> None:
            if linked is None or linked.isChecked():
                target.set_view(zoom, cx, cy, emit=False)

        return apply

    a.viewChanged.connect(follow(b))
    b.viewChanged.connect(follow(a))
    if linked is not None:
        linked.toggled.connect(lambda on: on and b.set_view(*a.view()))
