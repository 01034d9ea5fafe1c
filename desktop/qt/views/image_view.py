"""The large photo, optionally with the heat-map overlay, scaled to fit without distortion."""

from __future__ import annotations

from PySide6.QtCore import QRect, QRectF, QSize, Qt
from PySide6.QtGui import QColor, QImage, QPainter, QPaintEvent
from PySide6.QtWidgets import QSizePolicy, QWidget

PLACEHOLDER = (
    "Drop a dermoscopy image, several images or a folder anywhere on this window\n"
    "or use File \u25b8 Open (Ctrl+O) or paste an image (Ctrl+V)"
)


class ImageView(QWidget):
    """Paints one QImage letter-boxed on a neutral dark grey (colour-neutral for skin tones)."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._photo: QImage | None = None
        self._overlay: QImage | None = None
        self._show_overlay = False
        self._message = PLACEHOLDER
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        self.setAccessibleName("Lesion image")
        self.setAutoFillBackground(False)

    def sizeHint(self) -> QSize:  # noqa: N802 (Qt naming)
        em = self.fontMetrics().height()
        return QSize(32 * em, 26 * em)

    def minimumSizeHint(self) -> QSize:  # noqa: N802
        em = self.fontMetrics().height()
        return QSize(12 * em, 10 * em)

    def set_images(self, photo: QImage | None, overlay: QImage | None = None) -> None:
        self._photo, self._overlay = photo, overlay
        self._message = "" if photo is not None else PLACEHOLDER
        self.update()

    def set_message(self, text: str) -> None:
        """Show text instead of an image (placeholder, loading, or why it cannot be shown)."""
        self._photo, self._overlay, self._message = None, None, text
        self.update()

    def set_show_overlay(self, show: bool) -> None:
        self._show_overlay = bool(show)
        self.update()

    @property
    def showing_overlay(self) -> bool:
        return self._show_overlay and self._overlay is not None

    @property
    def has_overlay(self) -> bool:
        return self._overlay is not None

    @property
    def photo(self) -> QImage | None:
        return self._photo

    @property
    def overlay(self) -> QImage | None:
        return self._overlay

    @property
    def message(self) -> str:
        return self._message

    def current_image(self) -> QImage | None:
        return self._overlay if self.showing_overlay else self._photo

    def paintEvent(self, event: QPaintEvent) -> None:  # noqa: N802
        painter = QPainter(self)
        painter.fillRect(self.rect(), QColor(38, 40, 43))
        image = self.current_image()
        if image is None or image.isNull():
            painter.setPen(QColor(220, 222, 225))
            margin = self.fontMetrics().height()
            painter.drawText(
                self.rect().adjusted(margin, margin, -margin, -margin),
                Qt.AlignmentFlag.AlignCenter | Qt.TextFlag.TextWordWrap,
                self._message,
            )
            painter.end()
            return
        painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform, True)
        area = self.rect()
        scaled = image.size().scaled(area.size(), Qt.AspectRatioMode.KeepAspectRatio)
        target = QRect(0, 0, scaled.width(), scaled.height())
        target.moveCenter(area.center())
        painter.drawImage(QRectF(target), image)
        painter.end()
