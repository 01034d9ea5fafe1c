"""The before/after of an adaptation, as a table, a card block and a one-page report with
both ROC curves (PIL only: the app has no plotting library)."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from desktop.adapt.fit import Figures, roc_curve
from desktop.adapt.scope_limits import MIN_KEPT, NOTHING_MORE, ONE_SIDED, ClinicLimitOutcome
from desktop.verdict.formats import percent
from desktop.verdict.reasons import CLINIC_SCOPE_HEADLINE


def _pc(value: float) -> str:
    return percent(value, 1)


ROWS = (
    ("melanoma ROC AUC", "roc_auc"),
    ("sensitivity at the alert", "sensitivity"),
    ("specificity at the alert", "specificity"),
    ("balanced accuracy (classes present)", "balanced_accuracy"),
)


def _cell(value: float) -> str:
    return "n/a" if value is None or not math.isfinite(value) else f"{value:.3f}"


def table(before: Figures, after: Figures, folds: int) -> str:
    """The plain-text table ``adapt`` prints: base and adapted, both out of fold."""
    width = max(len(name) for name, _ in ROWS)
    lines = [
        f"{'':{width}}  {'base':>8}  {'adapted':>8}",
    ]
    for name, key in ROWS:
        lines.append(
            f"{name:{width}}  {_cell(getattr(before, key)):>8}  {_cell(getattr(after, key)):>8}"
        )
    lines.append(
        f"{after.images} images ({after.melanomas} melanomas); adapted figures are "
        f"{folds}-fold cross-validated (nested: the penalty, temperature and alert threshold "
        "were chosen without the images they are scored on)."
    )
    return "\n".join(lines)


def clinic_limit_text(limit: ClinicLimitOutcome) -> str:
    """What the clinic's own "not like this clinic's dermoscopy" limit came to, in words."""
    if limit.why == ONE_SIDED:
        return (
            "Clinic limit: not set. This model's check for pictures that are not dermoscopy "
            "gives no score to set one on."
        )
    measured = f"out of fold it kept {_pc(limit.kept)} of this clinic's images" + (
        f" and {_pc(limit.melanomas_kept)} of its {limit.melanomas} melanomas"
        if limit.melanomas_kept is not None
        else " (no melanoma among them)"
    )
    if limit.why == NOTHING_MORE:
        return (
            "Clinic limit: not set. This clinic's own images already reach down to the "
            "model's limit, so it would set aside nothing more."
        )
    if limit.why is not None:
        return (
            f"Clinic limit: not set, because {measured}; it must keep "
            f"{_pc(MIN_KEPT)} and every melanoma. Add more of this clinic's images "
            "(melanomas above all) and adapt again."
        )
    return (
        "Clinic limit: set. Images unlike this clinic's dermoscopy are set aside as "
        f"\u201c{CLINIC_SCOPE_HEADLINE}\u201d; {measured}. It sets aside "
        "more photos taken without a dermatoscope, but it will also set aside dermoscopy from "
        "another dermatoscope: use the shipped model for those."
    )


def roc_png(
    path: Path,
    scores_before: np.ndarray,
    scores_after: np.ndarray,
    positive: np.ndarray,
    auc_before: float,
    auc_after: float,
) -> None:
    """Both ROC curves on one small chart."""
    size, margin = 420, 50
    img = Image.new("RGB", (size + margin + 20, size + margin + 20), "white")
    draw = ImageDraw.Draw(img)
    font = ImageFont.load_default()

    def xy(fpr: float, tpr: float) -> tuple[float, float]:
        return margin + fpr * size, 10 + (1 - tpr) * size

    draw.rectangle([xy(0, 1), xy(1, 0)], outline="black")
    draw.line([xy(0, 0), xy(1, 1)], fill=(180, 180, 180))
    for scores, colour, name, auc in (
        (scores_before, (120, 120, 120), "base", auc_before),
        (scores_after, (183, 28, 28), "adapted", auc_after),
    ):
        fpr, tpr = roc_curve(scores, positive)
        draw.line([xy(a, b) for a, b in zip(fpr, tpr, strict=True)], fill=colour, width=3)
        y = size - 40 + (0 if name == "base" else 16)
        draw.text((margin + size * 0.45, y), f"{name}: AUC {_cell(auc)}", fill=colour, font=font)
    draw.text(
        (margin + size / 2 - 60, size + 20),
        "false-alarm rate (1 - specificity)",
        fill="black",
        font=font,
    )
    draw.text((4, 10), "sensitivity", fill="black", font=font)
    img.save(path)


def report_md(
    block: dict[str, Any], table_text: str, limit: ClinicLimitOutcome | None = None
) -> str:
    """One page: what was fitted, on what, and how it did out of fold."""
    clinic = [clinic_limit_text(limit), ""] if limit is not None else []
    counts = ", ".join(f"{c}: {n}" for c, n in block["images_per_class"].items())
    return "\n".join(
        [
            "# Adapted to this clinic",
            "",
            f"Base model {block['base_model_version']} (SHA-256 {block['base_model_sha256'][:12]}…), "
            f"adapted on {block['images']} of this clinic's labelled images on {block['date']}.",
            "",
            f"Images per class: {counts}.",
            "",
            "```",
            table_text,
            "```",
            "",
            "![ROC curves, base and adapted](roc.png)",
            "",
            f"What was fitted: {block['method']}. Penalty {block['penalty']}, temperature "
            f"{block['temperature']:.3f}, melanoma alert threshold {block['melanoma_threshold']:.4f} "
            f"(chosen for sensitivity ≥ {block['target_sensitivity']:.2f} on out-of-fold "
            "probabilities). Classes with fewer than "
            f"{block['min_class_images']} images keep the base model's weights: "
            f"{', '.join(block['classes_kept_from_base']) or 'none'}.",
            "",
            *clinic,
            "This is a decision aid, not a diagnosis. The figures above come from this clinic's "
            "own images and hold for images taken the same way.",
            "",
        ]
    )
