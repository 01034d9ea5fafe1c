"""One page helper for every PDF a clinic files (image report, lesion timeline, batch):
fonts, wrapped text that moves down the page, pictures in a dark frame, a new page when
the next block would not fit, and the footer with the sign-off line and the disclaimer.

Layout is in page units (150 dpi), so the pages look the same whatever the screen scaling.
"""

from __future__ import annotations

from PySide6.QtCore import QRectF, Qt
from PySide6.QtGui import QColor, QFont, QImage, QPainter, QPdfWriter, QPen

from desktop.qt import followup_texts as words
from desktop.qt import palette

FONT_FAMILY = "DejaVu Sans"
WRAP = Qt.TextFlag.TextWordWrap


def pdf_font(pt: float, bold: bool = False, base: QFont | None = None) -> QFont:
    f = QFont(base) if base is not None else QFont(FONT_FAMILY)
    f.setPointSizeF(pt)
    f.setBold(bold)
    return f


class PdfPage:
    """A cursor ``y`` moving down the page of ``writer`` as blocks are drawn."""

    def __init__(self, painter: QPainter, writer: QPdfWriter) -> None:
        self.p, self.writer = painter, writer
        self.mm = writer.resolution() / 25.4
        self.width = float(writer.width())
        self.height = float(writer.height())
        self.y = 0.0

    def measure(self, s: str, pt: float, bold: bool = False, w: float | None = None) -> float:
        """The height ``s`` takes when wrapped to ``w`` (default: the page width)."""
        self.p.setFont(pdf_font(pt, bold))
        box = QRectF(0, 0, self.width if w is None else w, 10_000)
        return self.p.boundingRect(box, WRAP, s).height()

    def text(self, s: str, pt: float, bold: bool = False, colour: str = palette.BLACK,
             x: float = 0.0, w: float | None = None, gap: float = 1.5) -> float:  # fmt: skip
        """Draw ``s`` wrapped at the cursor, move the cursor below it (plus ``gap`` mm);
        returns the height taken."""
        box_w = (self.width - x) if w is None else w
        h = self.measure(s, pt, bold, box_w)
        self.p.setPen(QColor(colour))
        self.p.drawText(QRectF(x, self.y, box_w, h), WRAP, s)
        self.y += h + gap * self.mm
        return h + gap * self.mm

    def room_for(self, height: float, reserve_mm: float = 0.0) -> None:
        """Start a new page when ``height`` would not fit above ``reserve_mm`` of footer."""
        if self.y + height > self.height - reserve_mm * self.mm:
            self.writer.newPage()
            self.y = 0.0

    def picture(self, frame: QRectF, image: QImage | None, missing: str = "") -> None:
        """``image`` centred in a dark ``frame``, aspect kept; ``missing`` said when none."""
        self.p.fillRect(frame, QColor(palette.PHOTO_BACKGROUND))
        if image is not None and not image.isNull():
            s = image.size().scaled(
                int(frame.width()), int(frame.height()), Qt.AspectRatioMode.KeepAspectRatio
            )
            left = frame.x() + (frame.width() - s.width()) / 2
            top = frame.y() + (frame.height() - s.height()) / 2
            self.p.drawImage(QRectF(left, top, s.width(), s.height()), image)
        elif missing:
            self.p.setPen(QColor(palette.WHITE))
            self.p.setFont(pdf_font(7.5))
            self.p.drawText(frame, Qt.AlignmentFlag.AlignCenter | WRAP, missing)

    def footer(self, disclaimer: str, pt: float = 8.0, sign_off: bool = True) -> None:
        """The sign-off line and the disclaimer, pinned to the bottom of the last page (a new
        page when they do not fit below what is there)."""
        sign_h = self.measure(words.SIGN_OFF, 10) + 6 * self.mm if sign_off else 0.0
        rule_h = self.measure(disclaimer, pt) + 4 * self.mm
        self.room_for(sign_h + rule_h + 2 * self.mm)
        self.y = max(self.y, self.height - rule_h - sign_h)
        if sign_off:
            self.y += 3 * self.mm
            self.text(words.SIGN_OFF, 10, gap=3)
        top = self.y + 2 * self.mm
        self.p.setPen(QPen(QColor(palette.DARK_SLATE), max(1.0, 0.3 * self.mm)))
        self.p.drawLine(0, int(top - 1 * self.mm), int(self.width), int(top - 1 * self.mm))
        self.y = top
        self.text(disclaimer, pt, gap=0)
