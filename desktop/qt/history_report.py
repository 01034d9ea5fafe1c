"""A lesion's timeline as a PDF (one per lesion in ``history export``), drawn with QPdfWriter.

Same approach as ``desktop.qt.report``: no extra dependency, layout in page
units. Works offscreen, so the command line can write it on a machine with no
display. Stored images are decoded with the app's own loader (EXIF orientation,
format whitelist) and shrunk to thumbnails.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

from PySide6.QtCore import QRectF, Qt
from PySide6.QtGui import (
    QColor,
    QFont,
    QGuiApplication,
    QImage,
    QPainter,
    QPdfWriter,
    QPen,
)

from desktop import APP_NAME, __version__
from desktop.history.service import describe, melanoma_series
from desktop.imaging import ImageLoadError, open_image
from desktop.qt import texts
from desktop.qt.convert import pil_to_qimage
from desktop.qt.report import pdf_painter
from desktop.qt.views.history_chart import LEVEL_COLOURS, paint_chart
from desktop.verdict import CANNOT_ASSESS, CANNOT_ASSESS_SHORT

THUMB_PX = 360

_APP: QGuiApplication | None = None  # kept alive for the process


def thumbnail(path: Path | None, px: int = THUMB_PX) -> QImage | None:
    if path is None:
        return None
    try:
        img = open_image(path, draft_size=px)
    except ImageLoadError:
        return None
    img.thumbnail((px, px))
    return pil_to_qimage(img)


def _font(pt: float, bold: bool = False) -> QFont:
    f = QFont("DejaVu Sans")
    f.setPointSizeF(pt)
    f.setBold(bold)
    return f


def write_lesion_pdf(
    path: str | os.PathLike[str],
    case: dict[str, Any],
    lesion: dict[str, Any],
    image_path: Callable[[str], Path | None],
    when: datetime | None = None,
) -> Path:
    """One lesion: header, melanoma-probability chart, then every visit with its thumbnail.

    Raises :class:`desktop.qt.report.ReportError` when the PDF cannot be written."""
    out = Path(path)
    when = when or datetime.now().astimezone()
    title = texts.lesion_pdf_title(case["patient"], lesion["label"])
    with pdf_painter(out, title) as (p, writer):
        _draw(p, writer, case, lesion, image_path, when)
    return out


def _draw(
    p: QPainter,
    writer: QPdfWriter,
    case: dict[str, Any],
    lesion: dict[str, Any],
    image_path: Callable[[str], Path | None],
    when: datetime,
) -> None:
    mm = writer.resolution() / 25.4
    width, height = float(writer.width()), float(writer.height())
    wrap = Qt.TextFlag.TextWordWrap
    y = 0.0

    def text(s: str, pt: float, bold: bool = False, colour: str = "#000000", x: float = 0.0,
             w: float | None = None, gap: float = 1.5) -> float:  # fmt: skip
        nonlocal y
        p.setFont(_font(pt, bold))
        p.setPen(QColor(colour))
        box_w = (width - x) if w is None else w
        rect = p.boundingRect(QRectF(x, y, box_w, 10_000), wrap, s)
        p.drawText(QRectF(x, y, box_w, rect.height()), wrap, s)
        return rect.height() + gap * mm

    y += text(texts.LESION_PDF_HEADING, 17, bold=True)
    visits = lesion["visits"]
    y += text(
        texts.lesion_pdf_subject(case["patient"], lesion["label"], lesion["site"], len(visits)),
        10.5,
    )
    y += text(texts.printed(when, __version__), 8.5, colour="#444444", gap=3)
    if lesion.get("note"):
        y += text(texts.lesion_note(lesion["note"]), 9.5, gap=3)

    chart_h = 55 * mm
    paint_chart(p, QRectF(0, y, width, chart_h), melanoma_series(lesion), _font(8), unit=mm / 4)
    y += chart_h + 5 * mm

    thumb = 32 * mm
    for visit in reversed(visits):  # newest first: what a clinician looks at first
        lines = []
        for i, r in enumerate(reversed(visit["results"])):
            level, headline = describe(r)
            mel = (
                CANNOT_ASSESS_SHORT
                if level == CANNOT_ASSESS
                else texts.melanoma_figure(r["melanoma_probability"])
            )
            prefix = "" if i == 0 else texts.EARLIER_RESULT
            lines.append(
                (
                    level,
                    prefix
                    + texts.pdf_result_line(
                        headline, mel, r["model_version"], r["model_sha256"][:12], r["created"][:10]
                    ),
                    i == 0,
                )
            )
        p.setFont(_font(9))
        needed = max(thumb, (len(lines) + 2) * 6 * mm) + 4 * mm
        if y + needed > height - 22 * mm:
            writer.newPage()
            y = 0.0
        p.fillRect(QRectF(0, y, thumb, thumb), QColor("#26282b"))
        img = thumbnail(image_path(visit["image"]["sha256"]))
        if img is not None:
            s = img.size().scaled(int(thumb), int(thumb), Qt.AspectRatioMode.KeepAspectRatio)
            p.drawImage(
                QRectF(
                    (thumb - s.width()) / 2, y + (thumb - s.height()) / 2, s.width(), s.height()
                ),
                img,
            )
        x = thumb + 5 * mm
        top = y
        y += text(texts.pdf_visit_heading(visit["date"], visit["id"]), 11, bold=True, x=x, gap=1)
        for level, line, current in lines:
            y += text(
                line,
                9.5 if current else 8.5,
                bold=current and level == "alert",
                colour=LEVEL_COLOURS.get(level, "#37474f") if current else "#607d8b",
                x=x,
                gap=0.8,
            )
        if visit.get("note"):
            y += text(texts.note_line(visit["note"]), 9, colour="#263238", x=x, gap=0.8)
        y += text(texts.pdf_image_id(visit["image"]["sha256"][:16]), 7.5, colour="#78909c", x=x)
        y = max(y, top + thumb) + 4 * mm

    p.setFont(_font(8))
    rect = p.boundingRect(QRectF(0, 0, width, 10_000), wrap, texts.LESION_PDF_DISCLAIMER)
    if y + rect.height() + 4 * mm > height:
        writer.newPage()
        y = 0.0
    bottom = max(y, height - rect.height() - 2 * mm)
    p.setPen(QPen(QColor("#263238"), max(1.0, 0.3 * mm)))
    p.drawLine(0, int(bottom - 2 * mm), int(width), int(bottom - 2 * mm))
    p.setPen(QColor("#000000"))
    p.drawText(QRectF(0, bottom, width, rect.height()), wrap, texts.LESION_PDF_DISCLAIMER)


def offscreen_lesion_pdf_writer() -> Callable[..., Path]:
    """``write_lesion_pdf`` with an application made first (offscreen when there is none).

    The command line never shows a window, so the offscreen platform is right even
    on a desktop; an existing application (the window's) is reused as it is. A
    QApplication rather than a bare QGuiApplication, so a process that later builds
    widgets (the test suite) is not left with an application that cannot host them.
    """
    global _APP
    if QGuiApplication.instance() is None:
        from PySide6.QtWidgets import QApplication

        os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
        _APP = QApplication([APP_NAME])
    return write_lesion_pdf
