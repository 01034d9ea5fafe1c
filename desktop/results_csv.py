"""The batch table as CSV: one row per result, as the command line and the window export it.

Like the case-history CSV (``desktop.history.transfer``), each row names the model that gave
it, its alert threshold and when; an error or an image that could not be assessed gets no
class and no probabilities. No Qt, no TensorFlow.
"""

from __future__ import annotations

import csv
import os
from collections.abc import Iterable, Iterator, Sequence

from desktop import verdict
from desktop.card import ModelCard
from desktop.results import ImageResult

CSV_SAFE_PREFIXES = ("=", "+", "-", "@", "\t", "\r")


def csv_text(value: object) -> str:
    """Text cells that a spreadsheet would run as a formula get a leading quote."""
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(CSV_SAFE_PREFIXES) else text


def csv_rows(
    results: Iterable[ImageResult], classes: Sequence[str], card: ModelCard | None = None
) -> Iterator[list[str]]:
    """Header then one row per result; numbers as plain decimals, classes in card order.

    Like the case-history CSV, each row says which model gave it, at which alert threshold,
    and when: a table read months later must not be mistaken for another model's answers.
    """
    yield [
        "file",
        "path",
        "top_class",
        "top_probability",
        "class_group",
        "class_group_probability",
        "melanoma_probability",
        "alert",
        "uncertain",
        "uncertain_reasons",
        "error",
        "model_version",
        "alert_threshold",
        "classified_at",
        *[f"p_{c}" for c in classes],
    ]
    for r in results:
        cells = _csv_cells(r, classes)
        numbers = cells[len(cells) - len(classes) :] if classes else []
        yield [
            csv_text(r.name),
            csv_text(r.path or ""),
            *cells[: len(cells) - len(classes)],
            *_csv_model(r, card),
            *numbers,
        ]


def _csv_model(r: ImageResult, card: ModelCard | None) -> list[str]:
    """Model version, alert threshold and time of one row (blank where not known)."""
    threshold = r.prediction.melanoma_threshold if r.prediction is not None else None
    if threshold is None and card is not None:
        threshold = card.melanoma_threshold
    return [
        csv_text(card.model_version) if card is not None else "",
        f"{threshold:.4f}" if threshold is not None else "",
        r.created,
    ]


def _csv_cells(r: ImageResult, classes: Sequence[str]) -> list[str]:
    """Everything after file and path. An error or an image that cannot be assessed gets no
    class and no probabilities: nothing to misread later."""
    pred = r.prediction
    no_numbers = ["" for _ in classes]
    if pred is None:
        return ["", "", "", "", "", "error", "", "", csv_text(r.error), *no_numbers]
    if not pred.assessable:
        reasons = csv_text("; ".join(pred.cannot_assess_reasons))
        return ["", "", "", "", "", verdict.alert_level(pred), "yes", reasons, "", *no_numbers]
    probs = dict(zip(pred.classes, pred.probabilities, strict=True))
    group = verdict.top_group(pred)  # the benign keratoses, read as one as the window does
    return [
        csv_text(pred.label),
        f"{pred.top_probability:.4f}",
        csv_text(group[0]) if group else "",
        f"{group[1]:.4f}" if group else "",
        f"{pred.melanoma_probability:.4f}",
        verdict.alert_level(pred),
        "yes" if verdict.is_uncertain(pred) else "no",
        csv_text("; ".join(verdict.uncertain_reasons(pred))),
        "",
        *[f"{float(probs[c]):.4f}" if c in probs else "" for c in classes],
    ]


def write_csv(
    path: str | os.PathLike[str],
    results: Iterable[ImageResult],
    classes: Sequence[str],
    card: ModelCard | None = None,
) -> int:
    """Write results as UTF-8 CSV (with BOM so Excel shows accents); returns the row count."""
    n = 0
    with open(path, "w", newline="", encoding="utf-8-sig") as fh:
        writer = csv.writer(fh)
        for i, row in enumerate(csv_rows(results, classes, card)):
            writer.writerow(row)
            n = i
    return n
