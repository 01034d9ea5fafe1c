"""File ▸ Save report: a one-page A4 PDF of the current image, drawn with QPdfWriter.

No extra dependency; the layout is computed in page units so it looks the
same whatever the screen scaling. The alert wording matches the window.
"""

from __future__ import annotations

import os
from datetime import datetime
from pathlib import Path

from PySide6.QtCore import QMarginsF, QRectF, Qt
from PySide6.QtGui import QColor, QFont, QImage, QPageLayout, QPageSize, QPainter, QPdfWriter, QPen

from desktop import APP_NAME, __version__
from desktop.card import ModelCard
from desktop.qt.views.probability_bars import MELANOMA_COLOUR, OTHER_COLOUR, display_name
from desktop.results import ImageResult, display_percentages

DISCLAIMER = (
    f"{APP_NAME} is a decision aid, not a diagnosis. It estimates how similar this image is to "
    "dermoscopy images of {n} lesion classes; it can be wrong, and it has not seen the patient. "
    "Every result must be interpreted by a qualified clinician together with the history and "
    "examination. The heat-map shows which image regions most influenced the top class; it is "
    "not a lesion border. Do not use for images other than dermoscopy photographs of skin lesions."
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
) -> Path:
    """Write the report and return its path; raises :class:`ReportError`."""
    pred = result.prediction
    if pred is None:
        raise ReportError("there is no classification to report")
    out = Path(path)
    when = when or datetime.now().astimezone()
    writer = QPdfWriter(str(out))
    writer.setResolution(150)
    writer.setTitle(f"{APP_NAME} report: {result.name}")
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
        _draw(painter, writer, result, card, model_name, photo, overlay, when)
    finally:
        painter.end()
    if not out.is_file() or out.stat().st_size == 0:
        raise ReportError(f"the report could not be written to {out}")
    return out


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
    model_name: str,
    photo: QImage | None,
    overlay: QImage | None,
    when: datetime,
) -> None:
    pred = result.prediction
    assert pred is not None
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

    text(f"{APP_NAME} \u2014 lesion image report", 18, bold=True, gap=1)
    text(
        f"{when:%Y-%m-%d %H:%M %Z}   \u2022   {APP_NAME} {__version__}   \u2022   "
        f"model {model_name}",
        9,
        colour="#444444",
        gap=1,
    )
    source = str(result.path) if result.path else result.name
    text(f"Image: {source}", 9, colour="#444444", gap=4)

    # Alert box (same wording as the window).
    level = pred.alert_level
    mp, th = pred.melanoma_probability, pred.melanoma_threshold
    if level == "alert":
        box = ("#b71c1c", "#ffffff", f"MELANOMA ALERT \u2014 melanoma probability {mp:.0%}",
               f"At or above the alert threshold of {th:.0%}. Refer to a dermatologist "
               "for assessment.")  # fmt: skip
    elif level == "watch":
        box = ("#ffc107", "#000000",
               f"Melanoma among the two most likely classes \u2014 {mp:.0%}",
               f"Below the alert threshold of {th:.0%}. Consider referral to a dermatologist "
               "if the lesion is clinically suspicious.")  # fmt: skip
    else:
        box = ("#eceff1", "#000000", f"No melanoma alert \u2014 melanoma probability {mp:.0%}",
               f"Below the alert threshold of {th:.0%} and not among the two most likely "
               "classes.")  # fmt: skip
    _box(p, base, box, width, y, mm)
    y += _box_height(p, base, box, width, mm) + 3 * mm

    if pred.uncertain:
        box = ("#ede7f6", "#000000", "Uncertain result",
               "Because " + "; ".join(pred.uncertain_reasons) + ". Retake the photo or "
               "interpret with extra caution.")  # fmt: skip
        _box(p, base, box, width, y, mm)
        y += _box_height(p, base, box, width, mm) + 3 * mm

    # Images side by side.
    img_side = (width - 6 * mm) / 2
    img_h = min(img_side, 80 * mm)
    for i, (img, caption) in enumerate(
        ((photo, "Image"), (overlay, f"Heat-map: {display_name(pred.label)}"))
    ):
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
            p.drawText(frame, Qt.AlignmentFlag.AlignCenter, "not available")
        p.setPen(QColor("#444444"))
        p.setFont(_font(base, 8))
        p.drawText(QRectF(x, y + img_h + 1 * mm, img_side, 5 * mm), 0, caption)
    y += img_h + 8 * mm

    top = "Uncertain \u2014 most likely: " if pred.uncertain else "Most likely: "
    text(f"{top}{display_name(pred.label)} ({pred.top_probability:.1%})", 13, bold=True, gap=2)

    # Probability bars.
    ranked = pred.ranked()
    percents = display_percentages([pr for _, pr in ranked])
    row_h = 6.5 * mm
    name_w = 62 * mm
    pct_w = 20 * mm
    bar_w = width - name_w - pct_w - 4 * mm
    p.setFont(_font(base, 9))
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
            f"{pc:.1f} %",
        )
        y += row_h
    y += 4 * mm

    metrics = card.metrics
    if metrics:
        flat = ", ".join(
            f"{k.replace('_', ' ')} {v:.3f}"
            if isinstance(v, float)
            else f"{k.replace('_', ' ')} {v}"
            for k, v in metrics.items()
            if not isinstance(v, dict | list)
        )
        if flat:
            text(f"Model card metrics: {flat}.", 8, colour="#444444", gap=3)

    # Disclaimer pinned to the bottom of the page.
    p.setFont(_font(base, 8.5, bold=False))
    disclaimer = DISCLAIMER.format(n=card.num_classes)
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
