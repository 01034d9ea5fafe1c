"""File ▸ Save batch report: one PDF for a batch, a line per image with its thumbnail,
verdict and alert, the alerts first (what a clinic files after a screening session).

:func:`batch_rows` gathers the words first (testable without reading a PDF); the page
layout is :class:`desktop.qt.pdf_page.PdfPage`, as for the other reports.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import numpy as np
from PySide6.QtCore import QRectF

from desktop import __version__, verdict
from desktop.card import ModelCard
from desktop.qt import followup_texts as words
from desktop.qt import palette, texts
from desktop.qt.convert import array_to_qimage
from desktop.qt.history_report import thumbnail
from desktop.qt.pdf_page import PdfPage
from desktop.qt.report import pdf_painter
from desktop.results import ImageResult

THUMB_PX = 160  # read from the file when the batch table kept none (16 mm at 250 dpi)
LEVEL_ORDER = {level: i for i, level in enumerate(verdict.LEVELS)}  # alert first, error last


@dataclass(frozen=True)
class BatchRow:
    name: str
    level: str
    headline: str
    melanoma: str  # "melanoma 12.3 %", or why there is no figure
    alert: str  # the command line's ALERT column: capitals for what needs action, else "-"
    thumbnail: np.ndarray | None  # the batch table's; else read from ``path``
    path: Path | None


def batch_rows(results: Sequence[ImageResult], card: ModelCard) -> list[BatchRow]:
    """A row per image, alerts first (then referrals, pre-cancerous, no alert, cannot
    assess, unreadable), the higher melanoma probability first within a level."""

    def key(r: ImageResult) -> tuple[int, float]:
        mel = r.prediction.melanoma_probability if r.prediction is not None else 0.0
        return LEVEL_ORDER.get(verdict.verdict_of(r, card).level, len(LEVEL_ORDER)), -mel

    rows = []
    for r in sorted(results, key=key):
        said = verdict.verdict_of(r, card)
        if said.assessable and r.prediction is not None:
            mel = texts.melanoma_figure(verdict.shown_percent_texts(r.prediction)[1])
        else:
            mel = verdict.CANNOT_ASSESS_SHORT if r.prediction is not None else words.UNREADABLE
        rows.append(
            BatchRow(
                r.name,
                said.level,
                said.headline,
                mel,
                verdict.table_alert(said),
                r.thumbnail,
                r.path,
            )
        )
    return rows


def write_batch_report(
    path: str | os.PathLike[str],
    results: Sequence[ImageResult],
    card: ModelCard,
    clinician: str = "",
    when: datetime | None = None,
) -> Path:
    """Write the batch report; raises :class:`desktop.qt.report.ReportError`."""
    out = Path(path)
    when = when or datetime.now().astimezone()
    rows = batch_rows(results, card)
    alerts = sum(1 for r in rows if r.level == verdict.ALERT)
    internal = words.source_names(card.raw)
    with pdf_painter(out, words.BATCH_REPORT_HEADING) as (p, writer):
        page = PdfPage(p, writer)
        page.text(words.BATCH_REPORT_HEADING, 17, bold=True, gap=1)
        page.text(texts.printed(when, __version__), 8.5, colour=palette.SMALL_PRINT, gap=1)
        model = words.model_line(card.model_version, card.adaptation is not None)
        page.text(f"{model}    {words.clinician_line(clinician)}", 9, gap=1)
        page.text(words.batch_counts(len(rows), alerts), 10, bold=bool(alerts), gap=4)
        for row in rows:
            _row(page, row)
        disclaimer = words.plain_words(texts.report_disclaimer(card.num_classes), internal)
        page.footer(disclaimer)
    return out


def _row(page: PdfPage, row: BatchRow) -> None:
    """Thumbnail on the left; name, verdict, melanoma figure and alert beside it."""
    mm = page.mm
    thumb = 16 * mm
    page.room_for(thumb + 2 * mm, reserve_mm=20)
    top = page.y
    if row.thumbnail is not None:
        image = array_to_qimage(row.thumbnail)
    else:
        image = thumbnail(row.path, THUMB_PX)
    page.picture(QRectF(0, top, thumb, thumb), image)
    x = thumb + 4 * mm
    colour = palette.level_ink(row.level)
    alert = row.level == verdict.ALERT
    page.text(row.name, 9.5, bold=True, x=x, gap=0.5)
    page.text(f"{row.headline} \u2014 {row.melanoma}", 9, bold=alert, colour=colour, x=x, gap=0.5)
    if row.alert != "-":
        page.text(row.alert, 8.5, bold=True, colour=colour, x=x, gap=0.5)
    page.y = max(page.y, top + thumb) + 2.5 * mm
