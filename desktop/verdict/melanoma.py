"""The melanoma alert: its headline (graded "raised" or "high" when the card has a high
level), what each grade meant in testing, and the verdict it leads.

The alert and the headline never contradict: when the melanoma alert is on it *is* the
headline, and the most likely class is explained under it.
"""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING

from desktop.prediction import Prediction
from desktop.verdict.figures import (
    OTHER_SOURCE,
    alert_meaning,
    figures_sentence,
    flagged,
    point_figures,
)
from desktop.verdict.formats import class_name, percent, sentence
from desktop.verdict.grading import fired_referrals, melanoma_level
from desktop.verdict.levels import ALERT, DANGER, HIGH, NO_ALERT, RAISED
from desktop.verdict.result import Verdict, shown_class

if TYPE_CHECKING:
    from desktop.alert_card import Borderline
    from desktop.card import ModelCard

# Neutral about who reads it: the user may be a GP or a dermatologist.
ALERT_HEADLINE = "Possible melanoma \u2014 refer for specialist assessment"
# A card with a "high" grade names the grade: "Possible melanoma, high level \u2014 refer ...".
GRADED_ALERT_HEADLINE = "Possible melanoma, {level} level \u2014 refer for specialist assessment"


def grade_lines(card: ModelCard | None, level: str) -> list[str]:
    """What each grade of the melanoma alert meant in testing, the shown grade first, for the
    model's own sources and for a source it did not learn from. A card without a high grade
    has one grade: its sentence as before, and the out-of-source figures beside it."""
    if card is None or card.melanoma_high_threshold is None:
        outside = point_figures(card, RAISED)[1]
        extra = (
            [
                f"{OTHER_SOURCE[:1].upper()}{OTHER_SOURCE[1:]}, the alert flagged "
                f"{flagged(outside, 'melanomas')}."
            ]
            if outside
            else []
        )
        return [alert_meaning(card), *extra]
    high = figures_sentence("High level", point_figures(card, HIGH), "melanomas")
    raised = figures_sentence(
        "Raised level (the alert itself, high level included)",
        point_figures(card, RAISED),
        "melanomas",
    )
    return [high, raised] if level == HIGH else [raised, high]


def _also_referred(pred: Prediction) -> list[str]:
    """Under a melanoma alert, the referral prompts that also fired (melanoma leads)."""
    return [
        f"{class_name(cls)} ({percent(float(pred.probabilities[pred.classes.index(cls)]))}) "
        "also reached its referral prompt."
        for cls in fired_referrals(pred)
    ]


def alert_verdict(pred: Prediction, card: ModelCard | None, low: str | None) -> Verdict:
    """Possible melanoma: the red alert leads, graded when the card has a high level."""
    top_name, p_top = shown_class(pred)
    mel = pred.melanoma_probability
    level = melanoma_level(pred) or RAISED
    if pred.top_index == pred.melanoma_index:
        first = f"Melanoma is the most likely class ({percent(mel)})."
        detail = f"Melanoma {percent(mel)}, the most likely class"
    else:
        first = (
            f"Most likely class: {top_name} ({percent(p_top)}); melanoma {percent(mel)}. "
            "The alert is set to miss few melanomas, so melanoma cannot be ruled out."
        )
        detail = f"Melanoma {percent(mel)} \u00b7 most likely class: {top_name} ({percent(p_top)})"
    graded = card is not None and card.melanoma_high_threshold is not None
    headline = GRADED_ALERT_HEADLINE.format(level=level) if graded else ALERT_HEADLINE
    lines = [first, *grade_lines(card, level), *_also_referred(pred)]
    if low:
        lines.append(sentence(low))
    return Verdict(
        ALERT,
        headline,
        tuple(lines),
        DANGER,
        pred.label,
        (low,) if low else (),
        detail,
        melanoma_level=level if graded else None,
        referrals=fired_referrals(pred),
    )


# The re-takes the borderline figures were measured on (benchmarks.robustness, those that change
# pixels), in the words of the line below.
RETAKES = "smaller, cropped, brighter, warmer, blurred or re-compressed"


def borderline_line(pred: Prediction, card: ModelCard | None) -> str | None:
    """'Borderline' with what a re-take did to such images in testing, for a
    result inside the card's borderline band; None outside it or for a card without one."""
    if card is None or card.borderline is None or not pred.near_alert_threshold:
        return None
    b = card.borderline
    return (
        f"Borderline: melanoma {percent(pred.melanoma_probability, 1)} is close to where the "
        f"alert starts ({percent(pred.melanoma_threshold, 1)}). In testing, the same photo taken "
        f"again ({RETAKES}) changed the alert in {percent(b.flips_in_band)} of tries for images "
        f"this close, and in {percent(b.flips_outside)} for the others{other_sources(b)}: "
        "a re-take may change it."
    )


def other_sources(b: Borderline) -> str:
    """' (on N sources the model did not learn from: A to B, and C to D)': the card's range on
    held-out origins, inside the band and outside it; '' where the card has none."""
    if b.other is None:
        return ""
    (a, z), (c, d), n = b.other.in_band, b.other.outside, b.other.origins
    return (
        f" (on {n} sources the model did not learn from: {percent(a)} to "
        f"{percent(z)}, and {percent(c)} to {percent(d)})"
    )


def with_borderline(said: Verdict, pred: Prediction, card: ModelCard | None) -> Verdict:
    """``said`` with the borderline line after its melanoma figures, where it applies: under an
    alert after its first line; with no alert it joins the "No melanoma alert" line, which the
    window shows on its own (the last line stays the share of melanomas the alert misses)."""
    line = borderline_line(pred, card)
    if line is None:
        return said
    lines = list(said.lines)
    at = [i for i, x in enumerate(lines) if said.detail and x.startswith(said.detail)]
    if said.level == NO_ALERT and at:
        lines[at[0]] = f"{lines[at[0]]} {line}"
    elif said.level == ALERT:
        lines.insert(1, line)
    else:
        lines.append(line)
    return replace(said, lines=tuple(lines), borderline=True)
