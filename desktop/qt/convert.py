"""Pillow/numpy <-> QImage without surprises (stride padding, ownership, alpha)."""

from __future__ import annotations

import numpy as np
from PIL import Image
from PySide6.QtGui import QImage


def pil_to_qimage(img: Image.Image) -> QImage:
    """An RGB (RGBA for a layer with alpha) QImage that owns its pixels (safe in a worker thread)."""
    if img.mode == "RGBA":
        data = img.tobytes()
        fmt = QImage.Format.Format_RGBA8888
        return QImage(data, img.width, img.height, img.width * 4, fmt).copy()
    rgb = img.convert("RGB")
    data = rgb.tobytes()
    qimg = QImage(data, rgb.width, rgb.height, rgb.width * 3, QImage.Format.Format_RGB888)
    return qimg.copy()  # detach from the Python bytes before they are freed


def array_to_qimage(arr: np.ndarray) -> QImage:
    """``(h, w, 3)`` uint8 to an owning QImage."""
    a = np.ascontiguousarray(arr, dtype=np.uint8)
    h, w = a.shape[:2]
    return QImage(a.tobytes(), w, h, w * 3, QImage.Format.Format_RGB888).copy()


def qimage_to_pil(qimg: QImage) -> Image.Image:
    """Clipboard image to RGB Pillow; transparency becomes black, as in the file loader."""
    if qimg.hasAlphaChannel():
        flat = QImage(qimg.size(), QImage.Format.Format_RGB888)
        flat.fill(0)
        from PySide6.QtGui import QPainter

        painter = QPainter(flat)
        painter.drawImage(0, 0, qimg)
        painter.end()
        qimg = flat
    else:
        qimg = qimg.convertToFormat(QImage.Format.Format_RGB888)
    w, h, stride = qimg.width(), qimg.height(), qimg.bytesPerLine()
    buf = bytes(qimg.constBits())[: stride * h]
    return Image.frombuffer("RGB", (w, h), buf, "raw", "RGB", stride, 1).copy()
