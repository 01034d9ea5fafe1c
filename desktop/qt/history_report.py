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

from PySide6.QtCore import QRectF
from PySide6.QtGui import (
    QGuiApplication,
    QImage,
)

from desktop import APP_NAME, __version__
from desktop.card import ModelCard
from desktop.history.service import Case, Lesion, Visit, melanoma_series
from desktop.imaging import ImageLoadError, open_image
from desktop.qt import followup_texts as words
from desktop.qt import history_texts, palette, texts
from desktop.qt.convert import pil_to_qimage
from desktop.qt.pdf_page import PdfPage, pdf_font
from desktop.qt.report import pdf_painter
from desktop.qt.views.history_chart import paint_chart
from desktop.verdict import ALERT, CANNOT_ASSESS, CANNOT_ASSESS_SHORT

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


def write_lesion_pdf(
    path: str | os.PathLike[str],
    case: Case,
    lesion: Lesion,
    image_path: Callable[[str], Path | None],
    when: datetime | None = None,
    *,
    card: ModelCard | None = None,
    clinician: str = "",
) -> Path:
    """One lesion: header, melanoma-probability chart, then every visit with its thumbnail,
    ending in the sign-off line. ``card`` is the model in use (its version and whether it
    was adapted for this clinic head the page; without it, the latest result's version).

    Raises :class:`desktop.qt.report.ReportError` when the PDF cannot be written."""
    out = Path(path)
    when = when or datetime.now().astimezone()
    title = history_texts.lesion_pdf_title(case.patient, lesion.label)
    with pdf_painter(out, title) as (p, writer):
        page = PdfPage(p, writer)
        internal = words.source_names(card.raw if card is not None else None)
        _header(page, case, lesion, when, card, clinician, internal)
        _visits(page, lesion, image_path, internal)
        page.footer(words.plain_words(history_texts.LESION_PDF_DISCLAIMER, internal))
    return out


def _header(
    page: PdfPage,
    case: Case,
    lesion: Lesion,
    when: datetime,
    card: ModelCard | None,
    clinician: str,
    internal: set[str],
) -> None:
    """Title, who and what, which model and clinician, then the chart."""
    mm, visits = page.mm, lesion.visits
    page.text(history_texts.LESION_PDF_HEADING, 17, bold=True)
    page.text(
        history_texts.lesion_pdf_subject(case.patient, lesion.label, lesion.site, len(visits)),
        10.5,
    )
    dates = [v.date for v in visits]
    captured = f"{dates[0]} \u2013 {dates[-1]}" if len(set(dates)) > 1 else "".join(dates[:1])
    page.text(words.subject_line(case.patient, lesion.label, lesion.site, captured), 9)
    if card is not None:
        model = words.model_line(card.model_version, card.adaptation is not None)
    else:
        latest = [r.model_version for v in visits for r in v.results]
        model = words.model_line(latest[-1] if latest else "-", False)
    model = words.plain_words(model, internal)
    page.text(f"{model}    {words.clinician_line(clinician)}", 9, colour=palette.DARK_SLATE)
    page.text(texts.printed(when, __version__), 8.5, colour=palette.SMALL_PRINT, gap=3)
    if lesion.note:
        page.text(history_texts.lesion_note(lesion.note), 9.5, gap=3)
    chart_h = 55 * mm
    chart = QRectF(0, page.y, page.width, chart_h)
    paint_chart(page.p, chart, melanoma_series(lesion.visits), pdf_font(8), unit=mm / 4)
    page.y += chart_h + 5 * mm


def _result_lines(visit: Visit, internal: set[str]) -> list[tuple[str, str, bool]]:
    """(level, words, is the current result) per result of a visit, newest first."""
    lines = []
    for i, r in enumerate(reversed(visit.results)):
        level, headline = r.describe()
        mel = (
            CANNOT_ASSESS_SHORT
            if level == CANNOT_ASSESS
            else texts.melanoma_figure(r.melanoma_text or "-")
        )
        prefix = "" if i == 0 else history_texts.EARLIER_RESULT
        line = history_texts.pdf_result_line(
            headline, mel, r.model_version, r.model_sha256[:12], r.created[:10]
        )
        lines.append((level, words.plain_words(prefix + line, internal), i == 0))
    return lines


def _visits(
    page: PdfPage,
    lesion: Lesion,
    image_path: Callable[[str], Path | None],
    internal: set[str],
) -> None:
    """Every visit, newest first (what a clinician looks at first), thumbnail on the left."""
    mm = page.mm
    thumb = 32 * mm
    for visit in reversed(lesion.visits):
        lines = _result_lines(visit, internal)
        page.room_for(max(thumb, (len(lines) + 2) * 6 * mm) + 4 * mm, reserve_mm=22)
        top = page.y
        page.picture(QRectF(0, top, thumb, thumb), thumbnail(image_path(visit.image.sha256)))
        x = thumb + 5 * mm
        page.text(history_texts.pdf_visit_heading(visit.date, visit.id), 11, bold=True, x=x, gap=1)
        for level, line, current in lines:
            page.text(
                line,
                9.5 if current else 8.5,
                bold=current and level == ALERT,
                colour=palette.level_ink(level) if current else palette.BLUE_GREY,
                x=x,
                gap=0.8,
            )
        if visit.note:
            page.text(
                history_texts.note_line(visit.note), 9, colour=palette.DARK_SLATE, x=x, gap=0.8
            )
        page.text(
            history_texts.pdf_image_id(visit.image.sha256[:16]),
            7.5,
            colour=palette.LIGHT_BLUE_GREY,
            x=x,
        )
        page.y = max(page.y, top + thumb) + 4 * mm


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
