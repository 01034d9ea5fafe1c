"""The level of one :class:`~desktop.prediction.Prediction`: the melanoma alert's grade, the
referral prompts that fired, the alert level, and the group of classes read as one kind of
lesion. Codes and numbers only; the words for each are in the other modules."""

from __future__ import annotations

from collections.abc import Mapping

from desktop.prediction import Prediction
from desktop.verdict.formats import display_percentages, percent, shown_percents
from desktop.verdict.levels import (
    ALERT,
    CANNOT_ASSESS,
    CLASS_GROUPS,
    HIGH,
    NO_ALERT,
    RAISED,
    REFER,
    REFERRAL_CLASSES,
)


def melanoma_level(pred: Prediction) -> str | None:
    """The alert's grade: 'high' at the card's high threshold, else 'raised'; None when
    the alert is off. A card without a high threshold has only 'raised'."""
    if not pred.melanoma_alert:
        return None
    high = pred.melanoma_high_threshold
    return HIGH if high is not None and pred.melanoma_probability >= high else RAISED


def referral_kind(cls: str) -> str:
    """'refer' or 'precancerous' for a referral class; a class the app does not know: refer."""
    return REFERRAL_CLASSES.get(cls, REFER)


def fired_referrals(pred: Prediction) -> tuple[str, ...]:
    """Classes at or over their referral threshold (cancers before pre-cancerous, then
    most likely first); empty for an image that cannot be assessed."""
    fired = pred.referral_classes()
    return tuple(sorted(fired, key=lambda c: (referral_kind(c) != REFER, -pred.probability_of(c))))


def referral_level(pred: Prediction) -> str | None:
    """'refer' or 'precancerous' for the most serious referral, None when none fired."""
    fired = fired_referrals(pred)
    return referral_kind(fired[0]) if fired else None


def alert_level(pred: Prediction) -> str:
    """'alert' (melanoma leads), 'refer', 'precancerous', 'no_alert' or 'cannot_assess'."""
    if not pred.assessable:
        return CANNOT_ASSESS
    if pred.melanoma_alert:
        return ALERT
    return referral_level(pred) or NO_ALERT


def class_group(label: str, probabilities: Mapping[str, float]) -> tuple[str, float] | None:
    """(group name, summed probability) when ``label`` belongs to a group of classes read as
    one kind of lesion (``CLASS_GROUPS``), else None. Works on a stored result's numbers too."""
    for name, members in CLASS_GROUPS.items():
        present = [c for c in members if c in probabilities]
        if len(present) > 1 and label in present:
            return name, float(sum(probabilities[c] for c in present))
    return None


def top_group(pred: Prediction) -> tuple[str, float] | None:
    """:func:`class_group` of a prediction's most likely class."""
    probs = dict(zip(pred.classes, (float(p) for p in pred.probabilities), strict=True))
    return class_group(pred.label, probs)


def shown_probability(pred: Prediction) -> float:
    """The most likely class's probability, or its group's when it belongs to one."""
    group = top_group(pred)
    return group[1] if group else pred.top_probability


def shown_percent_texts(pred: Prediction, decimals: int = 1) -> tuple[str, str]:
    """The shown class's (or its group's) percentage and melanoma's, as the probability bars
    round them (:func:`~desktop.verdict.formats.shown_percents`): the batch table and the
    command line never say 79.5 % where the bars say 79.6 %."""
    texts = dict(zip(pred.classes, shown_percents(pred.probabilities, decimals), strict=True))
    melanoma = texts[pred.classes[pred.melanoma_index]]
    group = top_group(pred)
    if group is None:
        return texts[pred.label], melanoma
    shown = dict(zip(pred.classes, display_percentages(pred.probabilities, decimals), strict=True))
    members = next(m for m in CLASS_GROUPS.values() if pred.label in m)
    return percent(sum(shown[c] for c in members if c in shown) / 100, decimals), melanoma


def stored_percent_text(probabilities: Mapping[str, float] | None, name: str, value: float) -> str:
    """A stored result's figure for class ``name`` as the bars showed it when it was
    classified (:func:`~desktop.verdict.formats.shown_percents` over its stored
    probabilities), so a visit's timeline never says 79.5 % where the result's bars said
    79.6 %. A store that kept no probabilities (or none for ``name``) gives the stored
    ``value``, rounded alone."""
    if not probabilities or name not in probabilities:
        return percent(value, 1)
    names = list(probabilities)
    return shown_percents([float(probabilities[n]) for n in names], 1)[names.index(name)]
