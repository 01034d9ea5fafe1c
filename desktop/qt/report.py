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

from PySide6.QtCore import QMarginsF, QRectF, Qt
from PySide6.QtGui import QColor, QFont, QImage, QPageLayout, QPageSize, QPainter, QPdfWriter, QPen

from desktop import APP_NAME, __version__, verdict
from desktop.card import ModelCard
from desktop.qt import texts
from desktop.qt.views.probability_bars import MELANOMA_COLOUR, OTHER_COLOUR, display_name
from desktop.results import ImageResult, display_percentages

# (background, text) per verdict colour role; the title always says the same in words.
BOX_COLOURS = {
    verdict.DANGER: ("#b71c1c", "#ffffff"),
    verdict.WARNING: ("#a33a00", "#ffffff"),
    verdict.CAUTION: ("#ede7f6", "#000000"),
    verdict.NEUTRAL: ("#eceff1", "#000000"),
    verdict.MUTED: ("#cfd8dc", "#000000"),
    verdict.FAILED: ("#fdecea", "#000000"),
}


@dataclass(frozen=True)
class ReportText:
    """Every piece of text on the page, in order (what a test reads instead of the PDF)."""

    title: str
    meta: str
    image: str
    verdict: verdict.Verdict
    heatmap_caption: str | None  # None: no heat-map (no class to explain)
    warning: str | None  # classes the model rarely recognises, in words
    facts: tuple[str, ...]
    disclaimer: str

    def all_text(self) -> str:
        parts = [self.title, self.meta, self.image, self.verdict.text]
        parts += [t for t in (self.heatmap_caption, self.warning) if t]
        return "\n".join([*parts, *self.facts, self.disclaimer])


def report_text(
    result: ImageResult,
    card: ModelCard,
    model_name: str,
    when: datetime,
    heatmap_class: str | None = None,
) -> ReportText:
    """The report's words. ``heatmap_class`` names the class the heat-map shows (default:
    melanoma under an alert, else the most likely class, as the window does)."""
    said = verdict.verdict_of(result, card)
    pred = result.prediction
    caption = None
    if pred is not None and said.assessable:
        if heatmap_class is None:
            heatmap_class = pred.classes[pred.melanoma_index] if said.alert else pred.label
        caption = texts.report_heatmap_caption(display_name(heatmap_class))
    warning = verdict.rare_warning(card) if said.assessable else None
    shown = {*said.lines, warning}  # said once on the page is enough
    facts = [
        *(f for f in verdict.model_facts(card) if f not in shown),
        verdict.uncertainty_sentence(card),
        verdict.scope_note(card),
    ]
    return ReportText(
        title=texts.REPORT_TITLE,
        meta=texts.report_meta(when, __version__, model_name),
        image=texts.report_image(result.name),  # the name only, never the folder path
        verdict=said,
        heatmap_caption=caption,
        warning=warning,
        facts=tuple(f for f in facts if f),
        disclaimer=texts.report_disclaimer(card.num_classes),
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
) -> Path:
    """Write the report and return its path; raises :class:`ReportError`."""
    pred = result.prediction
    if pred is None:
        raise ReportError("there is no classification to report")
    out = Path(path)
    when = when or datetime.now().astimezone()
    content = report_text(result, card, model_name, when, heatmap_class)
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


def _font(base: QFont, pt: float, bold: bool = False) -> QFont:
    f = QFont(base)
    f.setPointSizeF(pt)
    f.setBold(bold)
    return f


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
    dpi = writer.resolution()
    width = float(writer.width())
    mm = dpi / 25.4
    base = QFont("DejaVu Sans")
    y = 0.0
    wrap = Qt.TextFlag.TextWordWrap

    def text(s: str, pt: float, bold: bool = False, colour: str = "#000000", gap: float = 2.0):
        nonlocal y
        p.setFont(_font(base, pt, bold))
        p.setPen(QColor(colour))
        rect = p.boundingRect(QRectF(0, y, width, 10_000), wrap, s)
        p.drawText(QRectF(0, y, width, rect.height()), wrap, s)
        y += rect.height() + gap * mm

    text(content.title, 18, bold=True, gap=1)
    text(content.meta, 9, colour="#444444", gap=1)
    text(content.image, 9, colour="#444444", gap=4)

    # The verdict box: the same headline and explanation as the window.
    bg, fg = BOX_COLOURS.get(said.role, BOX_COLOURS[verdict.NEUTRAL])
    box = (bg, fg, said.headline, "\n".join(said.lines))
    _box(p, base, box, width, y, mm)
    y += _box_height(p, base, box, width, mm) + 3 * mm

    # Images side by side (no heat-map for an image that got no class).
    img_side = (width - 6 * mm) / 2
    img_h = min(img_side, 72 * mm)
    panels = [(photo, texts.REPORT_IMAGE_CAPTION)]
    if content.heatmap_caption:
        panels.append((overlay, content.heatmap_caption))
    for i, (img, caption) in enumerate(panels):
        x = i * (img_side + 6 * mm)
        frame = QRectF(x, y, img_side, img_h)
        p.fillRect(frame, QColor("#26282b"))
        if img is not None and not img.isNull():
            s = img.size().scaled(int(frame.width()), int(frame.height()),
                                  Qt.AspectRatioMode.KeepAspectRatio)  # fmt: skip
            target = QRectF(
                x + (frame.width() - s.width()) / 2,
                y + (frame.height() - s.height()) / 2,
                s.width(),
                s.height(),
            )
            p.drawImage(target, img)
        else:
            p.setPen(QColor("#ffffff"))
            p.setFont(_font(base, 9))
            p.drawText(frame, Qt.AlignmentFlag.AlignCenter, texts.REPORT_NOT_AVAILABLE)
        p.setPen(QColor("#444444"))
        p.setFont(_font(base, 8))
        p.drawText(QRectF(x, y + img_h + 1 * mm, img_side, 5 * mm), 0, caption)
    y += img_h + 8 * mm

    if said.assessable:
        # Probability bars, most likely first (none for an image that got no class).
        ranked = pred.ranked()
        percents = display_percentages([pr for _, pr in ranked])
        row_h = 6.5 * mm
        name_w = 62 * mm
        pct_w = 20 * mm
        bar_w = width - name_w - pct_w - 4 * mm
        for (cls, _), pc in zip(ranked, percents, strict=True):
            special = cls == card.classes[card.melanoma_index]
            p.setPen(QColor("#000000"))
            p.setFont(_font(base, 9, bold=special))
            align = Qt.AlignmentFlag.AlignVCenter
            p.drawText(QRectF(0, y, name_w, row_h), align, display_name(cls))
            track = QRectF(name_w, y + row_h * 0.2, bar_w, row_h * 0.6)
            p.fillRect(track, QColor("#e0e0e0"))
            fill = QRectF(track.x(), track.y(), bar_w * pc / 100.0, track.height())
            p.fillRect(fill, QColor(MELANOMA_COLOUR if special else OTHER_COLOUR))
            p.drawText(
                QRectF(name_w + bar_w, y, pct_w + 4 * mm, row_h),
                Qt.AlignmentFlag.AlignRight | align,
                verdict.percent(pc / 100, 1),
            )
            y += row_h
        y += 4 * mm

    if content.warning:
        text(content.warning, 9, bold=True, colour="#7f0000", gap=3)
    if content.facts:
        text(texts.REPORT_ABOUT_MODEL, 9, bold=True, colour="#263238", gap=1)
        text(" ".join(content.facts), 8, colour="#444444", gap=3)

    # Disclaimer pinned to the bottom of the page.
    p.setFont(_font(base, 8.5, bold=False))
    disclaimer = content.disclaimer
    rect = p.boundingRect(QRectF(0, 0, width, 10_000), wrap, disclaimer)
    bottom = float(writer.height())
    top_y = max(y, bottom - rect.height() - 2 * mm)
    p.setPen(QPen(QColor("#263238"), max(1.0, 0.3 * mm)))
    p.drawLine(0, int(top_y - 2 * mm), int(width), int(top_y - 2 * mm))
    p.setPen(QColor("#000000"))
    p.drawText(QRectF(0, top_y, width, rect.height()), wrap, disclaimer)


def _box_height(
    p: QPainter, base: QFont, box: tuple[str, str, str, str], width: float, mm: float
) -> float:
    _, _, title, body = box
    pad = 3 * mm
    p.setFont(_font(base, 12, bold=True))
    h1 = p.boundingRect(
        QRectF(0, 0, width - 2 * pad, 10_000), Qt.TextFlag.TextWordWrap, title
    ).height()
    p.setFont(_font(base, 9.5))
    h2 = p.boundingRect(
        QRectF(0, 0, width - 2 * pad, 10_000), Qt.TextFlag.TextWordWrap, body
    ).height()
    return h1 + h2 + 2 * pad + 1 * mm


def _box(
    p: QPainter, base: QFont, box: tuple[str, str, str, str], width: float, y: float, mm: float
) -> None:
    bg, fg, title, body = box
    pad = 3 * mm
    h = _box_height(p, base, box, width, mm)
    p.fillRect(QRectF(0, y, width, h), QColor(bg))
    p.setPen(QColor(fg))
    p.setFont(_font(base, 12, bold=True))
    wrap = Qt.TextFlag.TextWordWrap
    r1 = p.boundingRect(QRectF(pad, y + pad, width - 2 * pad, 10_000), wrap, title)
    p.drawText(QRectF(pad, y + pad, width - 2 * pad, r1.height()), wrap, title)
    p.setFont(_font(base, 9.5))
    p.drawText(QRectF(pad, y + pad + r1.height() + 1 * mm, width - 2 * pad, h), wrap, body)
