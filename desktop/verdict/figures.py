"""The card's measured figures in words: what the melanoma alert and each operating point
(the high grade, each referral prompt) caught and flagged in testing, on the model's own image
sources and on a source kept out of training.

What the alert means is said with the card's measured figures in words a clinician uses
("flagged about 9 in 10 melanomas in testing"), never as a threshold. Rates are rounded to the
cautious side: hits down, false alarms and misses up.
"""

from __future__ import annotations

import numbers
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from desktop.verdict.formats import in_ten, rate
from desktop.verdict.levels import HIGH, RAISED

if TYPE_CHECKING:
    from desktop.card import ModelCard

OWN_SOURCES = "on images like those the model learned from"
OTHER_SOURCE = "on images from a source it did not learn from"


@dataclass(frozen=True)
class AlertFigures:
    """How the alert did when it was measured: share of melanomas flagged, of others flagged."""

    sensitivity: float
    specificity: float
    measured_on: str  # in words: "held-out test images", "validation images"
    images: int | None = None


def alert_figures(card: ModelCard | None) -> AlertFigures | None:
    """The most honest measured figures in the card: held-out test first, else validation."""
    if card is None:
        return None
    metrics = card.metrics
    sens, spec = (
        rate(metrics.get("melanoma_sensitivity")),
        rate(metrics.get("melanoma_specificity")),
    )
    if sens is not None and spec is not None:
        images = metrics.get("images")
        n = int(images) if isinstance(images, numbers.Integral) and images > 0 else None
        return AlertFigures(sens, spec, "held-out test images", n)
    alert = card.raw.get("alert", {})
    if isinstance(alert, Mapping):
        sens = rate(alert.get("validation_sensitivity"))
        spec = rate(alert.get("validation_specificity"))
        if sens is not None and spec is not None:
            return AlertFigures(sens, spec, "validation images")
    return None


def alert_meaning(card: ModelCard | None) -> str:
    """One sentence: what the alert catches and how often it fires on other lesions."""
    f = alert_figures(card)
    if f is None:
        return "How often this alert is right was not measured for this model."
    return (
        f"In testing, the alert flagged {in_ten(f.sensitivity, 'down')} melanomas, and also "
        f"{in_ten(1.0 - f.specificity, 'up')} lesions that were not melanoma."
    )


def miss_note(card: ModelCard | None) -> str:
    """One sentence for 'no alert': the alert misses some melanomas, with the measured share."""
    f = alert_figures(card)
    if f is None:
        return "No alert does not rule out melanoma; examine every suspicious lesion."
    miss = 1.0 - f.sensitivity
    if miss <= 0.0:
        return (
            "No alert does not rule out melanoma: it missed none in testing, but no test "
            "catches every case. Examine every suspicious lesion."
        )
    return (
        f"No alert does not rule out melanoma: in testing, {in_ten(miss, 'up')} melanomas "
        "did not raise the alert. Examine every suspicious lesion."
    )


def source_lines(card: ModelCard | None) -> list[str]:
    """The alert's figures per image source (``metrics.melanoma_by_source``), when measured.

    Archives differ in camera and clinic, so a source where the alert catches fewer
    melanomas is worth saying out loud. Malformed entries are skipped, never guessed.
    """
    if card is None:
        return []
    by_source = card.metrics.get("melanoma_by_source")
    if not isinstance(by_source, Mapping):
        return []
    out = []
    for source, figures in sorted(by_source.items(), key=lambda kv: str(kv[0])):
        if not isinstance(figures, Mapping):
            continue
        sens, spec = rate(figures.get("sensitivity")), rate(figures.get("specificity"))
        parts = []
        if sens is not None:
            parts.append(f"flagged {in_ten(sens, 'down')} melanomas")
        if spec is not None:
            parts.append(f"{in_ten(1.0 - spec, 'up')} other lesions")
        if not parts:
            continue
        images = figures.get("images")
        count = (
            f" ({int(images)} test images)"
            if isinstance(images, numbers.Integral) and not isinstance(images, bool)
            else ""
        )
        out.append(f"Images from {source}{count}: the alert {' and '.join(parts)}.")
    return out


def out_of_source_line(card: ModelCard | None) -> str | None:
    """The alert on images from a source kept out of training (``metrics.out_of_source``).

    The closest measurement to another clinic's dermoscope: said plainly, because it is
    usually worse than the figures on the training sources.
    """
    if card is None:
        return None
    oos = card.metrics.get("out_of_source")
    if not isinstance(oos, Mapping):
        return None
    sens, spec = rate(oos.get("melanoma_sensitivity")), rate(oos.get("melanoma_specificity"))
    if sens is None or spec is None:
        return None
    images = oos.get("images")
    count = (
        f"{int(images):,} images"
        if isinstance(images, numbers.Integral) and not isinstance(images, bool)
        else "images"
    )
    origins = oos.get("origins")
    if isinstance(origins, list) and len(origins) > 1 and all(isinstance(o, str) for o in origins):
        worst = rate(oos.get("worst_melanoma_sensitivity"))
        return (
            f"On {count} from {len(origins)} sources (clinics and archives), each kept out of "
            "training in turn, the same training recipe's alert flagged on average "
            f"{in_ten(sens, 'down')} melanomas and also {in_ten(1.0 - spec, 'up')} lesions that "
            "were not melanoma"
            + (f" (at the worst source, {in_ten(worst, 'down')} melanomas)" if worst else "")
            + ": expect figures like these on photos from other clinics and dermatoscopes."
        )
    return (
        f"On {count} from a source kept out of training ({oos.get('source', 'another source')}), "
        f"the same training recipe's alert flagged {in_ten(sens, 'down')} melanomas and also "
        f"{in_ten(1.0 - spec, 'up')} lesions that were not melanoma: expect figures like these "
        "on photos from other clinics and dermatoscopes."
    )


@dataclass(frozen=True)
class PointFigures:
    """What one operating point gave where it was measured: positives caught, others left."""

    sensitivity: float
    specificity: float


def _point_figures(block: Any, prefix: str = "") -> PointFigures | None:
    """``{sensitivity, specificity}`` (or ``validation_``-prefixed) as figures; None if absent."""
    if not isinstance(block, Mapping):
        return None
    sens = rate(block.get(prefix + "sensitivity"))
    spec = rate(block.get(prefix + "specificity"))
    return PointFigures(sens, spec) if sens is not None and spec is not None else None


def _measured(card: ModelCard, kind: str, name: str | None = None) -> tuple[Any, Any, Any]:
    """One operating point's blocks: chosen on validation (``alert``), on held-out test
    images (``metrics.operating_points``), on a held-out source (``metrics.out_of_source``)."""

    def pick(block: Any) -> Any:
        block = block.get(kind) if isinstance(block, Mapping) else None
        return block.get(name) if name is not None and isinstance(block, Mapping) else block

    oos = card.metrics.get("out_of_source")
    return (
        pick(card.raw.get("alert")),
        pick(card.metrics.get("operating_points")),
        pick(oos.get("operating_points") if isinstance(oos, Mapping) else None),
    )


def point_figures(
    card: ModelCard | None, kind: str, name: str | None = None
) -> tuple[PointFigures | None, PointFigures | None]:
    """(own sources, another source) figures of one operating point: ``kind`` is RAISED,
    HIGH or "referrals" (``name``: the class). Held-out test figures before validation."""
    if card is None:
        return None, None
    if kind == RAISED:
        f = alert_figures(card)
        inside = PointFigures(f.sensitivity, f.specificity) if f else None
        oos = card.metrics.get("out_of_source")
        return inside, _point_figures(oos, "melanoma_")
    chosen, tested, other = _measured(card, "melanoma_high" if kind == HIGH else kind, name)
    inside = _point_figures(tested) or _point_figures(chosen, "validation_")
    return inside, _point_figures(other)


def flagged(f: PointFigures, what: str) -> str:
    """'about 9 in 10 <what> and also about 5 in 10 other lesions'."""
    return f"{in_ten(f.sensitivity, 'down')} {what} and also {in_ten(1.0 - f.specificity, 'up')} other lesions"


def figures_sentence(
    name: str, figures: tuple[PointFigures | None, PointFigures | None], what: str
) -> str:
    """'<name>: in testing, on images like those the model learned from, it flagged about
    9 in 10 <what> and also about 5 in 10 other lesions; on images from a source it did not
    learn from, ...' (or 'not measured' there)."""
    inside, outside = figures
    if inside is None:
        return f"{name}: how often it is right was not measured for this model."
    text = f"{name}: in testing, {OWN_SOURCES}, it flagged {flagged(inside, what)}; "
    if outside is None:
        return text + f"it was not measured {OTHER_SOURCE}."
    return text + f"{OTHER_SOURCE}, {flagged(outside, what)}."
