"""The referral prompts: another skin cancer (basal or squamous cell carcinoma: refer) or
actinic keratosis (pre-cancerous: treat or refer), each at its own measured operating point;
their headlines, what each prompt meant in testing, and the verdict they lead."""

from __future__ import annotations

from typing import TYPE_CHECKING

from desktop.prediction import Prediction
from desktop.verdict.figures import figures_sentence, miss_note, point_figures
from desktop.verdict.formats import class_name, percent, sentence
from desktop.verdict.grading import fired_referrals, referral_kind, referral_level
from desktop.verdict.levels import PRECANCEROUS, REFER, WARNING
from desktop.verdict.result import Verdict, group_line, shown_class

if TYPE_CHECKING:
    from desktop.card import ModelCard

REFER_HEADLINE = "Possible {names} \u2014 refer for specialist assessment"
PRECANCEROUS_HEADLINE = "Possible {names} (pre-cancerous) \u2014 treat or refer"


def _plural(cls: str) -> str:
    """'basal cell carcinoma' -> 'basal cell carcinomas', 'actinic keratosis' -> '... keratoses'."""
    return cls[:-2] + "es" if cls.endswith("is") else cls + "s"


def referral_line(card: ModelCard | None, cls: str) -> str:
    """What one referral prompt meant in testing, in words."""
    return figures_sentence(
        f"The {cls} prompt", point_figures(card, "referrals", cls), _plural(cls)
    )


def referral_verdict(pred: Prediction, card: ModelCard | None, low: str | None) -> Verdict:
    """Another skin cancer (refer) or actinic keratosis (pre-cancerous: treat or refer)."""
    level = referral_level(pred) or REFER
    fired = fired_referrals(pred)
    lead = [c for c in fired if referral_kind(c) == level]
    template = PRECANCEROUS_HEADLINE if level == PRECANCEROUS else REFER_HEADLINE
    headline = template.format(names=" or ".join(lead))
    top_name, p_top = shown_class(pred)
    shares = ", ".join(
        f"{cls} {percent(float(pred.probabilities[pred.classes.index(cls)]))}" for cls in fired
    )
    if pred.label in fired:
        first = f"{class_name(pred.label)} is the most likely class ({percent(p_top)})."
    else:
        first = f"Most likely class: {top_name} ({percent(p_top)}); {shares}."
    lines = [first, *(referral_line(card, cls) for cls in fired), *group_line(pred)]
    if low:
        lines.append(sentence(low))
    mel = f"No melanoma alert (melanoma {percent(pred.melanoma_probability)})"
    lines += [mel + ".", miss_note(card)]
    detail = f"{class_name(shares)} \u00b7 {mel[:1].lower()}{mel[1:]}"
    return Verdict(
        level,
        headline,
        tuple(lines),
        WARNING,
        pred.label,
        (low,) if low else (),
        detail,
        referrals=fired,
    )
