"""The large photo with an optional heat-map layer (fit, 1:1, zoom and pan are
:class:`desktop.qt.views.zoom_pan.ZoomPanView`'s, the timeline's too).

The heat-map is a separate transparent layer painted over the photo at the
chosen opacity, so moving the opacity slider only repaints; nothing is
re-blended. A photo that fits the view at actual pixels opens at 1:1, sharp,
rather than blown up and blurred; Fit (or +) enlarges it when the user asks.
"""

from __future__ import annotations

from PySide6.QtCore import QRect, QRectF
from PySide6.QtGui import QColor, QImage, QPainter, QPen
from PySide6.QtWidgets import QWidget

from desktop.heatmap import DEFAULT_OPACITY
from desktop.qt import palette, texts
from desktop.qt.views.zoom_pan import ZoomPanView


class ImageView(ZoomPanView):
    """The main window's photo, with the heat layer shown or hidden by the user."""

    HINT_EM = (32, 22)
    MINIMUM_EM = (12, 8)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._show_overlay = False
        self.set_message(texts.IMAGE_PLACEHOLDER)
        self.set_layer_opacity(DEFAULT_OPACITY)
        self.setAccessibleName(texts.IMAGE_VIEW_NAME)

    # Content ------------------------------------------------------------------------------
    def set_images(
        self, photo: QImage | None, heat: QImage | None = None, box: QRect | None = None
    ) -> None:
        """A new photo (and its heat layer over ``box``): 1:1 when it fits that way, else fit."""
        if photo is None:
            self.set_message(texts.IMAGE_PLACEHOLDER)
        else:
            self.set_image(photo)
            self.set_view(1.0, 0.5, 0.5)
            if self.fit_zoom() > 1.0:  # a small photo is not blown up by default
                self.set_view(1.0 / self.fit_zoom(), 0.5, 0.5)
        self.set_heat(heat, box)

    def set_heat(self, heat: QImage | None, box: QRect | None = None) -> None:
        """Swap the heat layer only (another class), keeping zoom and pan."""
        if heat is not None and box is None and self.image is not None:
            box = self.image.rect()
        self.set_layer(heat, box)

    def set_show_overlay(self, show: bool) -> None:
        self._show_overlay = bool(show)
        self.update()

    def set_opacity(self, opacity: float) -> None:
        self.set_layer_opacity(opacity)

    def layer_shown(self) -> bool:
        """The heat layer is painted while the user has it on, at any opacity."""
        return self.showing_overlay

    @property
    def opacity(self) -> float:
        return self.overlay[1]

    @property
    def showing_overlay(self) -> bool:
        return self._show_overlay and self.heat is not None

    @property
    def has_overlay(self) -> bool:
        return self.heat is not None

    @property
    def photo(self) -> QImage | None:
        return self.image

    @property
    def heat(self) -> QImage | None:
        return self.overlay[0]

    def current_image(self) -> QImage | None:
        """The photo as shown (with the heat layer at the current opacity when it is on)."""
        if self.image is None or not self.showing_overlay:
            return self.image
        return composite(self.image, self.heat, self.layer_box, self.opacity)


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
