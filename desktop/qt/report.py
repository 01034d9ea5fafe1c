"""File ▸ Save report: a one-page A4 PDF of the current image, drawn with QPdfWriter.

No extra dependency; the layout is computed in page units so it looks the
same whatever the screen scaling. Every word about the result comes from
:mod:`desktop.verdict`, as in the window; :func:`report_text` gathers the text
first (testable without reading a PDF), then it is drawn. The image is named by
its file name only: a folder path can identify a patient.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from PySide6.QtCore import QMarginsF, QRectF, Qt
from PySide6.QtGui import QColor, QImage, QPageLayout, QPageSize, QPainter, QPdfWriter

from desktop import APP_NAME, __version__, verdict
from desktop.card import ModelCard
from desktop.qt import followup_texts as words
from desktop.qt import palette, texts
from desktop.qt.pdf_page import PdfPage, pdf_font
from desktop.results import ImageResult


@dataclass(frozen=True)
class ReportSubject:
    """Who and what the image is of; empty fields print as blanks to fill in by hand."""

    patient: str = ""
    lesion: str = ""
    site: str = ""
    captured: str = ""  # YYYY-MM-DD


@dataclass(frozen=True)
class ReportText:
    """Every piece of text on the page, in order (what a test reads instead of the PDF)."""

    title: str
    meta: str
    subject: str
    model: str  # the model's version, and "adapted for this clinic" when it is
    clinician: str
    image: str
    verdict: verdict.Verdict
    heatmap_caption: str | None  # None: no heat-map (no class to explain)
    warning: str | None  # classes the model rarely recognises, in words
    facts: tuple[str, ...]
    disclaimer: str

    def all_text(self) -> str:
        parts = [self.title, self.meta, self.subject, self.model, self.clinician, self.image]
        parts += [self.verdict.text, *(t for t in (self.heatmap_caption, self.warning) if t)]
        return "\n".join([*parts, *self.facts, words.SIGN_OFF, self.disclaimer])


def report_text(
    result: ImageResult,
    card: ModelCard,
    model_name: str,
    when: datetime,
    heatmap_class: str | None = None,
    subject: ReportSubject | None = None,
    clinician: str = "",
) -> ReportText:
    """The report's words. ``heatmap_class`` names the class the heat-map shows (default:
    melanoma under an alert, else the most likely class, as the window does). Data-set
    names are said in plain words: a reader of a filed report cannot look them up."""
    said = verdict.verdict_of(result, card)
    pred = result.prediction
    caption = None
    if pred is not None and said.assessable:
        if heatmap_class is None:
            heatmap_class = pred.classes[pred.melanoma_index] if said.alert else pred.label
        caption = texts.report_heatmap_caption(verdict.class_name(heatmap_class))
    warning = verdict.rare_warning(card) if said.assessable else None
    shown = {*said.lines, warning}  # said once on the page is enough
    facts = [
        texts.adapted_sentence(getattr(card, "adaptation", None)),  # which model: a clinic's own
        *(f for f in verdict.model_facts(card) if f not in shown),
        verdict.uncertainty_sentence(card),
        verdict.scope_note(card),
    ]
    subject = subject or ReportSubject()
    internal = words.source_names(card.raw)

    def plain(text: str) -> str:
        return words.plain_words(text, internal)

    return ReportText(
        title=texts.REPORT_TITLE,
        meta=plain(texts.report_meta(when, __version__, model_name)),
        subject=words.subject_line(subject.patient, subject.lesion, subject.site, subject.captured),
        model=words.model_line(card.model_version, card.adaptation is not None),
        clinician=words.clinician_line(clinician),
        image=texts.report_image(result.name),  # the name only, never the folder path
        verdict=said,
        heatmap_caption=caption,
        warning=plain(warning) if warning else None,
        facts=tuple(plain(f) for f in facts if f),
        disclaimer=plain(texts.report_disclaimer(card.num_classes)),
    )


class ReportError(Exception):
    """The PDF could not be written; ``str(err)`` says why."""


def write_report(
    path: str | os.PathLike[str],
    result: ImageResult,
    card: ModelCard,
    model_name: str,
    photo: QImage | None,
    overlay: QImage | None,
    when: datetime | None = None,
    heatmap_class: str | None = None,
    subject: ReportSubject | None = None,
    clinician: str = "",
) -> Path:
    """Write the report and return its path; raises :class:`ReportError`."""
    pred = result.prediction
    if pred is None:
        raise ReportError("there is no classification to report")
    out = Path(path)
    when = when or datetime.now().astimezone()
    content = report_text(result, card, model_name, when, heatmap_class, subject, clinician)
    with pdf_painter(out, texts.report_pdf_title(result.name)) as (painter, writer):
        _draw(painter, writer, result, card, content, photo, overlay)
    return out


@contextmanager
def pdf_painter(out: Path, title: str) -> Iterator[tuple[QPainter, QPdfWriter]]:
    """A painter on an A4 PDF (150 dpi, 15 mm margins), checked to exist once painted.

    Shared by the one-image report and the lesion timeline; raises :class:`ReportError`.
    """
    writer = QPdfWriter(str(out))
    writer.setResolution(150)
    writer.setTitle(title)
    writer.setCreator(f"{APP_NAME} {__version__}")
    writer.setPageLayout(
        QPageLayout(
            QPageSize(QPageSize.PageSizeId.A4),
            QPageLayout.Orientation.Portrait,
            QMarginsF(15, 15, 15, 15),
            QPageLayout.Unit.Millimeter,
        )
    )
    painter = QPainter()
    if not painter.begin(writer):
        raise ReportError(f"cannot write {out} (is the folder writable, the file open elsewhere?)")
    try:
        yield painter, writer
    finally:
        painter.end()
    if not out.is_file() or out.stat().st_size == 0:
        raise ReportError(f"the PDF could not be written to {out}")


def _draw(
    p: QPainter,
    writer: QPdfWriter,
    result: ImageResult,
    card: ModelCard,
    content: ReportText,
    photo: QImage | None,
    overlay: QImage | None,
) -> None:
    pred = result.prediction
    assert pred is not None
    said = content.verdict
    page = PdfPage(p, writer)
    page.text(content.title, 18, bold=True, gap=1)
    page.text(content.meta, 9, colour=palette.SMALL_PRINT, gap=1)
    page.text(content.subject, 9.5, gap=1)
    page.text(f"{content.model}    {content.clinician}", 9, colour=palette.DARK_SLATE, gap=1)
    page.text(content.image, 9, colour=palette.SMALL_PRINT, gap=4)

    # The verdict box: the same headline and explanation as the window.
    bg, fg = palette.ROLE_FILL.get(said.role, palette.ROLE_FILL[verdict.NEUTRAL])
    box = (bg, fg, said.headline, "\n".join(said.lines))
    _box(p, box, page.width, page.y, page.mm)
    page.y += _box_height(p, box, page.width, page.mm) + 3 * page.mm

    # Images side by side (no heat-map for an image that got no class).
    panels = [(photo, texts.REPORT_IMAGE_CAPTION)]
    if content.heatmap_caption:
        panels.append((overlay, content.heatmap_caption))
    _panels(page, panels)
    if said.assessable:
        _bars(page, pred, card)
    if content.warning:
        page.text(content.warning, 9, bold=True, colour=palette.DARK_RED, gap=3)
    if content.facts:
        page.text(texts.REPORT_ABOUT_MODEL, 9, bold=True, colour=palette.DARK_SLATE, gap=1)
        page.text(" ".join(content.facts), 8, colour=palette.SMALL_PRINT, gap=3)
    page.footer(content.disclaimer, 8.5)


def _panels(page: PdfPage, panels: list[tuple[QImage | None, str]]) -> None:
    """The photo and its heat-map side by side, each with its caption below."""
    mm, p = page.mm, page.p
    img_side = (page.width - 6 * mm) / 2
    img_h = min(img_side, 66 * mm)
    for i, (img, caption) in enumerate(panels):
        x = i * (img_side + 6 * mm)
        page.picture(QRectF(x, page.y, img_side, img_h), img, texts.REPORT_NOT_AVAILABLE)
        p.setPen(QColor(palette.SMALL_PRINT))
        p.setFont(pdf_font(8))
        p.drawText(QRectF(x, page.y + img_h + 1 * mm, img_side, 5 * mm), 0, caption)
    page.y += img_h + 8 * mm


def _bars(page: PdfPage, pred: Any, card: ModelCard) -> None:
    """Probability bars, most likely first (none for an image that got no class)."""
    p, mm, width = page.p, page.mm, page.width
    ranked = pred.ranked()
    percents = verdict.display_percentages([pr for _, pr in ranked])
    words = verdict.shown_percents([pr for _, pr in ranked])  # as the window's bars
    row_h, name_w, pct_w = 6 * mm, 62 * mm, 20 * mm
    bar_w = width - name_w - pct_w - 4 * mm
    align = Qt.AlignmentFlag.AlignVCenter
    for (cls, _), pc, word in zip(ranked, percents, words, strict=True):
        special = cls == card.classes[card.melanoma_index]
        p.setPen(QColor(palette.BLACK))
        p.setFont(pdf_font(9, bold=special))
        p.drawText(QRectF(0, page.y, name_w, row_h), align, verdict.class_name(cls))
        track = QRectF(name_w, page.y + row_h * 0.2, bar_w, row_h * 0.6)
        p.fillRect(track, QColor(palette.TRACK_GREY))
        fill = QRectF(track.x(), track.y(), bar_w * pc / 100.0, track.height())
        p.fillRect(fill, QColor(palette.MELANOMA_BAR if special else palette.OTHER_BAR))
        p.drawText(
            QRectF(name_w + bar_w, page.y, pct_w + 4 * mm, row_h),
            Qt.AlignmentFlag.AlignRight | align,
            word,
        )
        page.y += row_h
    page.y += 4 * mm


def _box_height(p: QPainter, box: tuple[str, str, str, str], width: float, mm: float) -> float:
    _, _, title, body = box
    pad = 3 * mm
    p.setFont(pdf_font(12, bold=True))
    h1 = p.boundingRect(
        QRectF(0, 0, width - 2 * pad, 10_000), Qt.TextFlag.TextWordWrap, title
    ).height()
    p.setFont(pdf_font(9.5))
    h2 = p.boundingRect(
        QRectF(0, 0, width - 2 * pad, 10_000), Qt.TextFlag.TextWordWrap, body
    ).height()
    return h1 + h2 + 2 * pad + 1 * mm


def _box(p: QPainter, box: tuple[str, str, str, str], width: float, y: float, mm: float) -> None:
    bg, fg, title, body = box
    pad = 3 * mm
    h = _box_height(p, box, width, mm)
    p.fillRect(QRectF(0, y, width, h), QColor(bg))
    p.setPen(QColor(fg))
    p.setFont(pdf_font(12, bold=True))
    wrap = Qt.TextFlag.TextWordWrap
    r1 = p.boundingRect(QRectF(pad, y + pad, width - 2 * pad, 10_000), wrap, title)
    p.drawText(QRectF(pad, y + pad, width - 2 * pad, r1.height()), wrap, title)
    p.setFont(pdf_font(9.5))
    p.drawText(QRectF(pad, y + pad + r1.height() + 1 * mm, width - 2 * pad, h), wrap, body)
