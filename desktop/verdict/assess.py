"""The verdict for one result: which kind it is (unreadable, cannot assess, melanoma alert,
referral, or no alert) and the plain "no alert" wording, plus the command line's ALERT column.

An image that cannot be assessed (tiny, blank, unreadable, not dermoscopy) never gets an alert
or a class: it gets "cannot assess" and the plain reason. There is no amber "watch" state:
below the alert there is "no alert", with the measured share of melanomas the alert misses.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from desktop.prediction import Prediction
from desktop.verdict.figures import miss_note
from desktop.verdict.formats import error_sentence, percent, sentence
from desktop.verdict.grading import (
    alert_level,
    fired_referrals,
    melanoma_level,
    referral_level,
    top_group,
)
from desktop.verdict.levels import (
    ALERT,
    CANNOT_ASSESS,
    CAUTION,
    ERROR,
    FAILED,
    MUTED,
    NEUTRAL,
    NO_ALERT,
    PRECANCEROUS,
    REFER,
)
from desktop.verdict.melanoma import alert_verdict, with_borderline
from desktop.verdict.reasons import (
    CANNOT_ASSESS_HEADLINE,
    CLINIC_SCOPE_HEADLINE,
    CLINIC_SCOPE_REASON,
    ERROR_HEADLINE,
    NO_ANSWER,
    NOT_DERMOSCOPY_HEADLINE,
    is_uncertain,
    low_confidence_reason,
    uncertain_reasons,
)
from desktop.verdict.referrals import referral_verdict
from desktop.verdict.result import Verdict, cautioned, group_line, shown_class

if TYPE_CHECKING:
    from desktop.card import ModelCard


def verdict_for(
    pred: Prediction | None, card: ModelCard | None, error: str | None = None
) -> Verdict:
    """The verdict for one prediction (or for a file that could not be read: ``pred=None``)."""
    if pred is None:
        reason = error or "the file could not be read"
        return Verdict(
            ERROR, ERROR_HEADLINE, (error_sentence(reason),), FAILED, None, (reason,), "No result"
        )
    if not pred.assessable:
        reasons = pred.cannot_assess_reasons
        lines = tuple(f"Because {r.rstrip('.')}." for r in reasons) + (NO_ANSWER,)
        headline = CANNOT_ASSESS_HEADLINE
        if pred.scope_issues and not pred.quality_issues:
            clinic = CLINIC_SCOPE_REASON in pred.scope_issues
            headline = CLINIC_SCOPE_HEADLINE if clinic else NOT_DERMOSCOPY_HEADLINE
        return Verdict(
            CANNOT_ASSESS,
            headline,
            lines,
            MUTED,
            None,
            reasons,
            "No class and no melanoma alert for this image",
        )
    low = low_confidence_reason(pred)
    if pred.melanoma_alert:
        said = alert_verdict(pred, card, low)
    elif fired_referrals(pred):
        said = referral_verdict(pred, card, low)
    else:
        said = _plain_verdict(pred, card, low)
    return cautioned(with_borderline(said, pred, card), pred)


def _plain_verdict(pred: Prediction, card: ModelCard | None, low: str | None) -> Verdict:
    """No alert and no referral: the most likely class (or group), uncertain or not."""
    top_name, p_top = shown_class(pred)
    if low:
        headline = f"Uncertain \u2014 most likely: {top_name} ({percent(p_top)})"
        lines = [sentence(low) + " Interpret with extra caution or retake the photo."]
        role = CAUTION
    else:
        headline = f"Most likely: {top_name} ({percent(p_top)})"
        lines = []
        role = NEUTRAL
    lines += group_line(pred)
    detail = f"No melanoma alert (melanoma {percent(pred.melanoma_probability)})"
    lines += [detail + ".", miss_note(card)]
    return Verdict(
        NO_ALERT, headline, tuple(lines), role, pred.label, (low,) if low else (), detail
    )


def verdict_of(result: Any, card: ModelCard | None) -> Verdict:
    """The verdict for an :class:`desktop.results.ImageResult` (duck-typed: no import cycle)."""
    return verdict_for(result.prediction, card, result.error)


def prediction_record(pred: Prediction) -> dict[str, object]:
    """The command line's record; an image that cannot be assessed has no class at all."""
    record: dict[str, object] = {
        "assessable": pred.assessable,
        "label": pred.label,
        "probabilities": {
            c: float(p) for c, p in zip(pred.classes, pred.probabilities, strict=True)
        },
        "melanoma_probability": pred.melanoma_probability,
        "melanoma_alert": pred.melanoma_alert,
        "alert_level": alert_level(pred),
        "melanoma_level": melanoma_level(pred),
        "referral": _referral_json(pred),
        "label_group": _group_json(pred),
        "melanoma_threshold": pred.melanoma_threshold,
        "near_alert_threshold": pred.near_alert_threshold,
        "uncertain": is_uncertain(pred),
        "uncertain_reasons": list(uncertain_reasons(pred)),
        "cautions": list(pred.cautions) if pred.assessable else [],
        "reason": None,
    }
    if not pred.assessable:
        reasons = pred.cannot_assess_reasons
        record.update(label=None, probabilities=None, melanoma_probability=None, label_group=None)
        record["reason"] = "Cannot assess: " + "; ".join(reasons) + "."
    return record


def _referral_json(pred: Prediction) -> dict[str, object] | None:
    """``{"level": "refer" | "precancerous", "classes": [...]}``, or None."""
    fired = fired_referrals(pred)
    if not fired:
        return None
    return {"level": referral_level(pred), "classes": list(fired)}


def _group_json(pred: Prediction) -> dict[str, object] | None:
    group = top_group(pred)
    return {"name": group[0], "probability": group[1]} if group else None


def table_alert(v: Verdict) -> str:
    """The command line table's ALERT column: capitals for what needs action, else '-';
    a melanoma figure in the card's borderline band says so."""
    names = " or ".join(v.referrals).upper()
    near = " (borderline)" if v.borderline else ""
    if v.level == ALERT:
        grade = f" ({v.melanoma_level.upper()} LEVEL)" if v.melanoma_level else ""
        return f"POSSIBLE MELANOMA{grade}{near}: refer to a dermatologist"
    if v.level == REFER:
        return f"POSSIBLE SKIN CANCER ({names}): refer"
    if v.level == PRECANCEROUS:
        return f"PRE-CANCEROUS ({names}): treat or refer"
    return "- (borderline: close to the melanoma alert)" if v.borderline else "-"
