"""Every word the app says about a result: the alert, uncertainty, "cannot assess".

In a clinical tool this wording is a safety property, so it lives in one Qt-free place
used by the window, the PDF report, the batch table and the command line. Rules:

* The alert and the headline never contradict. When the melanoma alert is on it *is*
  the headline, and the most likely class is explained under it.
* What the alert means is said with the card's measured figures in words a clinician
  uses ("flagged about 9 in 10 melanomas in testing"), never as a threshold.
  Rates are rounded to the cautious side: hits down, false alarms and misses up.
* An image that cannot be assessed (tiny, blank, unreadable, not dermoscopy) never gets
  an alert or a class: it gets "cannot assess" and the plain reason.
* There is no amber "watch" state: "melanoma among the two most likely" fired at 2 %
  and had no measured meaning. Below the alert there is "no alert", with the measured
  share of melanomas the alert misses.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from desktop.card import ModelCard
    from desktop.inference import Prediction

ALERT = "alert"  # possible melanoma: the red alert, which leads
REFER = "refer"  # possible basal or squamous cell carcinoma: refer
PRECANCEROUS = "precancerous"  # possible actinic keratosis: treat or refer
NO_ALERT = "no_alert"
CANNOT_ASSESS = "cannot_assess"
ERROR = "error"  # a file that could not be read at all
LEVELS = (ALERT, REFER, PRECANCEROUS, NO_ALERT, CANNOT_ASSESS, ERROR)

# Skin cancers other than melanoma, and the pre-cancerous actinic keratosis, each prompt a
# referral at its own measured operating point (the card's ``alert.referrals``). The trainer
# chooses a point for each class named here.
REFERRAL_CLASSES = {
    "basal cell carcinoma": REFER,
    "squamous cell carcinoma": REFER,
    "actinic keratosis": PRECANCEROUS,
}
REFERRAL_LEVELS = (REFER, PRECANCEROUS)
# Classes a clinician treats as one kind of lesion: a split between them is not "uncertain".
CLASS_GROUPS = {"benign keratosis": ("pigmented benign keratosis", "seborrheic keratosis")}
# The melanoma alert's grades: "raised" at the alert threshold (chosen for sensitivity),
# "high" at the card's ``alert.melanoma_high`` threshold (chosen for specificity).
HIGH = "high"
RAISED = "raised"

# Short texts for tables and summaries, and an order for sorting by urgency:
# alerts first, then images a person has to look at, then unreadable files.
LEVEL_TEXT = {
    ALERT: "Possible melanoma \u2014 refer",
    REFER: "Possible skin cancer \u2014 refer",
    PRECANCEROUS: "Pre-cancerous \u2014 treat or refer",
    NO_ALERT: "No alert",
    CANNOT_ASSESS: "Cannot assess",
    ERROR: "Unreadable",
}
LEVEL_RANK = {ALERT: 5, REFER: 4, PRECANCEROUS: 3, CANNOT_ASSESS: 2, ERROR: 1, NO_ALERT: 0}

# Colour roles (the view maps them to colours; colour is never the only cue).
DANGER = "danger"  # red: possible melanoma, refer
WARNING = "warning"  # orange: another skin cancer or a pre-cancerous lesion, refer or treat
CAUTION = "caution"  # an answer to read with care (uncertain class)
MUTED = "muted"  # no answer: cannot assess
NEUTRAL = "neutral"  # an answer, no alert
FAILED = "error"  # the file could not be read

# Neutral about who reads it: the user may be a GP or a dermatologist.
ALERT_HEADLINE = "Possible melanoma \u2014 refer for specialist assessment"
# A card with a "high" grade names the grade: "Possible melanoma, high level \u2014 refer ...".
GRADED_ALERT_HEADLINE = "Possible melanoma, {level} level \u2014 refer for specialist assessment"
REFER_HEADLINE = "Possible {names} \u2014 refer for specialist assessment"
PRECANCEROUS_HEADLINE = "Possible {names} (pre-cancerous) \u2014 treat or refer"
OWN_SOURCES = "on images like those the model learned from"
OTHER_SOURCE = "on images from a source it did not learn from"
CANNOT_ASSESS_HEADLINE = "Cannot assess this image"
ERROR_HEADLINE = "This file could not be read"
UNCERTAIN_HEADLINE = "Uncertain result"
CANNOT_ASSESS_SHORT = "cannot assess"  # in place of a melanoma figure (chart, timeline, PDF)
NO_MELANOMA_FIGURE = "no melanoma probability (cannot assess)"
NO_ANSWER = (
    "No class and no melanoma alert are given. This says nothing about the lesion itself: "
    "examine it clinically, and take a dermoscopy photo of it if one is needed."
)
RARE_RECALL = 0.3  # a class found less often than this in testing gets a warning

# Two outcomes besides a verdict: "not a dermoscopy image" (refused: no class, no alert, no
# heat-map) and "unlike the images the model learnt from" (assessed, with this caution).
NOT_DERMOSCOPY_HEADLINE = "Not a dermoscopy image \u2014 cannot assess"
NOT_DERMOSCOPY_REASON = (
    "it does not look like a dermoscopy image of a skin lesion (it looks more like an "
    "ordinary photo or another kind of picture); take the photo through a dermatoscope"
)
UNFAMILIAR_CAUTION = (
    "this image is unlike the dermoscopy images the model learnt from (another dermatoscope, "
    "unusual lighting or poor focus?), so this result is less reliable than usual"
)


def too_small_reason(width: int, height: int, minimum: int) -> str:
    """Image-quality reasons say what was found and what to change (re-take or re-export)."""
    return (
        f"the image is too small to show a lesion ({width} \u00d7 {height} pixels; at least "
        f"{minimum} pixels on each side are needed): use the original photo, not a thumbnail"
    )


BLANK_REASON = (
    "the image is nearly blank (almost one colour, no visible lesion): re-take it with the "
    "lesion in the field of view"
)


def blurred_reason(sharpness: float, minimum: float) -> str:
    return (
        f"the image is blurred (sharpness {sharpness:.0f}, at least {minimum:.0f} is needed): "
        "re-take it with the dermatoscope held still on the skin and the lesion in focus"
    )


def too_dark_reason(level: float, minimum: float) -> str:
    return (
        f"the image is under-exposed (its brightest part reaches only {level:.0f} of 255, "
        f"at least {minimum:.0f} is needed): re-take it with the dermatoscope's light on"
    )


def too_bright_reason(share: float, maximum: float) -> str:
    return (
        f"the image is over-exposed ({percent(share)} of it is burnt-out white, at most "
        f"{percent(maximum)} is usable): re-take it with less light, without flash"
    )


def _cautioned(said: Verdict, pred: Prediction) -> Verdict:
    """An assessed result that is less reliable than usual says so, keeping class and alert.

    A plain result turns into a "caution" one, with the caution first (the window's banner
    shows the first line); an alert or referral keeps its level and colour.
    """
    cautions = tuple(getattr(pred, "cautions", ()))
    if not cautions:
        return said
    words = " ".join(_sentence(c) for c in cautions)
    lines = list(said.lines)
    if said.level != NO_ALERT:
        lines.insert(1 if lines else 0, words)
        role = said.role
    elif said.role == CAUTION and lines:
        lines[0] = f"{lines[0]} {words}"
        role = CAUTION
    else:
        lines.insert(0, words)
        role = CAUTION
    return replace(said, lines=tuple(lines), role=role, reasons=said.reasons + cautions)


@dataclass(frozen=True)
class Verdict:
    """What to say about one result: a level, a headline, explanation lines, a colour role."""

    level: str
    headline: str
    lines: tuple[str, ...]
    role: str
    top_class: str | None = None  # None when there is no class to show
    reasons: tuple[str, ...] = ()  # why it cannot be assessed, or why it is uncertain
    detail: str = ""  # one short line to show under the headline (class and melanoma figures)
    melanoma_level: str | None = None  # HIGH or RAISED under a melanoma alert
    referrals: tuple[str, ...] = ()  # classes that reached their referral prompt

    @property
    def short(self) -> str:
        """A few words for a table cell or a status line."""
        return LEVEL_TEXT[self.level]

    @property
    def assessable(self) -> bool:
        return self.level in (ALERT, REFER, PRECANCEROUS, NO_ALERT)

    @property
    def alert(self) -> bool:
        return self.level == ALERT

    @property
    def text(self) -> str:
        """Headline and explanation as plain text (PDF, clipboard, command line)."""
        return "\n".join((self.headline, *self.lines))


def class_name(cls: str) -> str:
    """'basal cell carcinoma' -> 'Basal cell carcinoma' (the card's names stay the truth)."""
    text = cls.replace("_", " ").strip()
    return text[:1].upper() + text[1:]


def uncertain_label(name: str, uncertain: bool) -> str:
    """A class name as a table shows it, marked when the model is not sure of it."""
    return f"{name} (uncertain)" if uncertain else name


NBSP = "\u00a0"  # between a number and "%", so a line never breaks there


def percent(p: float, decimals: int = 0) -> str:
    """A probability for people: '82 %', 'under 1 %', 'over 99 %' (never '0 %' or '100 %'
    for a value that is not exactly 0 or 1). The one formatter of a percentage in the app,
    with a non-breaking space before '%'; ``decimals`` for tables and bars ('81.2 %')."""
    step = 10.0**-decimals  # the smallest difference shown, in percent
    value = p * 100
    if p <= 0.0:
        return f"0{NBSP}%"
    if value < step - 1e-9:
        return f"under {step:.{decimals}f}{NBSP}%"
    if p < 1.0 and value > 100 - step + 1e-9:
        return f"over {100 - step:.{decimals}f}{NBSP}%"
    return f"{value:.{decimals}f}{NBSP}%"


def percent_under(value: float, limit: float) -> tuple[str, str]:
    """``value`` and the ``limit`` it falls under, with just enough decimals to differ.

    '45 %, under 45 %' reads as a contradiction when 44.7 % is under a 45 % limit; this
    gives ('44.7 %', '45 %') instead (the limit with only the decimals it needs).
    """
    for d in range(4):
        if round(value * 100, d) < round(limit * 100, d):
            break
    exact = next(k for k in range(d + 1) if round(limit * 100, k) == round(limit * 100, d))
    return percent(value, d), percent(limit, exact)


def in_ten(rate: float, cautious: str) -> str:
    """A measured rate as 'about N in 10', rounded to the cautious side.

    ``cautious="down"`` for what the alert catches (never overstate it), ``"up"`` for
    false alarms and misses (never understate them).
    """
    tenths = rate * 10
    n = math.floor(tenths + 1e-9) if cautious == "down" else math.ceil(tenths - 1e-9)
    if n <= 0:
        return "fewer than 1 in 10"
    if n >= 10:
        return "nearly all" if cautious == "down" else "about 10 in 10"
    return f"about {n} in 10"


def _rate(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        return None
    v = float(value)
    return v if math.isfinite(v) and 0.0 <= v <= 1.0 else None


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
        _rate(metrics.get("melanoma_sensitivity")),
        _rate(metrics.get("melanoma_specificity")),
    )
    if sens is not None and spec is not None:
        images = metrics.get("images")
        n = int(images) if isinstance(images, numbers.Integral) and images > 0 else None
        return AlertFigures(sens, spec, "held-out test images", n)
    alert = card.raw.get("alert", {})
    if isinstance(alert, Mapping):
        sens = _rate(alert.get("validation_sensitivity"))
        spec = _rate(alert.get("validation_specificity"))
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
        sens, spec = _rate(figures.get("sensitivity")), _rate(figures.get("specificity"))
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
    sens, spec = _rate(oos.get("melanoma_sensitivity")), _rate(oos.get("melanoma_specificity"))
    if sens is None or spec is None:
        return None
    images = oos.get("images")
    count = (
        f"{int(images)} images"
        if isinstance(images, numbers.Integral) and not isinstance(images, bool)
        else "images"
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
    sens = _rate(block.get(prefix + "sensitivity"))
    spec = _rate(block.get(prefix + "specificity"))
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


def _flagged(f: PointFigures, what: str) -> str:
    return f"{in_ten(f.sensitivity, 'down')} {what} and also {in_ten(1.0 - f.specificity, 'up')} other lesions"


def _figures_sentence(
    name: str, figures: tuple[PointFigures | None, PointFigures | None], what: str
) -> str:
    """'<name>: in testing, on images like those the model learned from, it flagged about
    9 in 10 <what> and also about 5 in 10 other lesions; on images from a source it did not
    learn from, ...' (or 'not measured' there)."""
    inside, outside = figures
    if inside is None:
        return f"{name}: how often it is right was not measured for this model."
    text = f"{name}: in testing, {OWN_SOURCES}, it flagged {_flagged(inside, what)}; "
    if outside is None:
        return text + f"it was not measured {OTHER_SOURCE}."
    return text + f"{OTHER_SOURCE}, {_flagged(outside, what)}."


def grade_lines(card: ModelCard | None, level: str) -> list[str]:
    """What each grade of the melanoma alert meant in testing, the shown grade first, for the
    model's own sources and for a source it did not learn from. A card without a high grade
    has one grade: its sentence as before, and the out-of-source figures beside it."""
    if card is None or card.melanoma_high_threshold is None:
        outside = point_figures(card, RAISED)[1]
        extra = (
            [
                f"{OTHER_SOURCE[:1].upper()}{OTHER_SOURCE[1:]}, the alert flagged "
                f"{_flagged(outside, 'melanomas')}."
            ]
            if outside
            else []
        )
        return [alert_meaning(card), *extra]
    high = _figures_sentence("High level", point_figures(card, HIGH), "melanomas")
    raised = _figures_sentence(
        "Raised level (the alert itself, high level included)",
        point_figures(card, RAISED),
        "melanomas",
    )
    return [high, raised] if level == HIGH else [raised, high]


def _plural(cls: str) -> str:
    """'basal cell carcinoma' -> 'basal cell carcinomas', 'actinic keratosis' -> '... keratoses'."""
    return cls[:-2] + "es" if cls.endswith("is") else cls + "s"


def referral_line(card: ModelCard | None, cls: str) -> str:
    """What one referral prompt meant in testing, in words."""
    return _figures_sentence(
        f"The {cls} prompt", point_figures(card, "referrals", cls), _plural(cls)
    )


def operating_point_facts(card: ModelCard | None) -> list[str]:
    """The high melanoma grade and each referral prompt, for the model-card text."""
    if card is None:
        return []
    out = []
    if card.melanoma_high_threshold is not None:
        out.append(_figures_sentence("High melanoma level", point_figures(card, HIGH), "melanomas"))
    for cls, _ in card.referral_thresholds:
        kind = (
            "pre-cancerous: treat or refer"
            if REFERRAL_CLASSES.get(cls) == PRECANCEROUS
            else "refer"
        )
        out.append(f"{class_name(cls)} ({kind}). " + referral_line(card, cls))
    return out


def rarely_recognised(card: ModelCard | None, limit: float = RARE_RECALL) -> list[str]:
    """Classes the model found in fewer than ``limit`` of their test images, in words."""
    if card is None:
        return []
    recall = card.metrics.get("per_class_recall")
    if not isinstance(recall, Mapping):
        return []
    out = []
    for i, cls in enumerate(card.classes):
        if i == card.melanoma_index:
            continue  # melanoma is found by the alert (its own figures), not as the top class
        r = _rate(recall.get(cls))
        if r is None or r >= limit:
            continue
        how = "never recognised" if r == 0.0 else f"recognised only {in_ten(r, 'down')} times"
        out.append(f"{class_name(cls)}: {how} in testing")
    return out


def rare_warning(card: ModelCard | None, limit: float = RARE_RECALL) -> str | None:
    """A plain warning naming the rarely recognised classes, or None when there are none."""
    rare = rarely_recognised(card, limit)
    if not rare:
        return None
    return (
        "Some classes are rarely recognised by this model \u2014 do not rely on it to find them: "
        + "; ".join(rare)
        + "."
    )


def _sentence(reason: str) -> str:
    text = reason.strip().rstrip(".")
    return text[:1].upper() + text[1:] + "."


def _error_sentence(reason: str) -> str:
    """An unreadable file's reason as a sentence; one that starts with the file's name
    ('iMG_01.JPG: file is empty') keeps the name's case."""
    text = reason.strip().rstrip(".")
    return text + "." if ": " in text else _sentence(text)


def verdict_for(
    pred: Prediction | None, card: ModelCard | None, error: str | None = None
) -> Verdict:
    """The verdict for one prediction (or for a file that could not be read: ``pred=None``)."""
    if pred is None:
        reason = error or "the file could not be read"
        return Verdict(
            ERROR, ERROR_HEADLINE, (_error_sentence(reason),), FAILED, None, (reason,), "No result"
        )
    if not pred.assessable:
        reasons = pred.cannot_assess_reasons
        lines = tuple(f"Because {r.rstrip('.')}." for r in reasons) + (NO_ANSWER,)
        not_dermoscopy = bool(pred.scope_issues) and not pred.quality_issues
        return Verdict(
            CANNOT_ASSESS,
            NOT_DERMOSCOPY_HEADLINE if not_dermoscopy else CANNOT_ASSESS_HEADLINE,
            lines,
            MUTED,
            None,
            reasons,
            "No class and no melanoma alert for this image",
        )
    low = pred.low_confidence_reason
    if pred.melanoma_alert:
        return _cautioned(_alert_verdict(pred, card, low), pred)
    if pred.referrals:
        return _cautioned(_referral_verdict(pred, card, low), pred)
    return _cautioned(_plain_verdict(pred, card, low), pred)


def _top(pred: Prediction) -> tuple[str, float]:
    """The most likely class, or its group (the benign keratoses), and its probability."""
    group = pred.top_group
    return (
        (class_name(group[0]), group[1])
        if group
        else (class_name(pred.label), pred.top_probability)
    )


def _group_line(pred: Prediction) -> list[str]:
    """Names the classes of a group shown as one ('Benign keratosis: seborrheic ...')."""
    group = pred.top_group
    if group is None:
        return []
    parts = [
        f"{cls} {percent(float(pred.probabilities[pred.classes.index(cls)]))}"
        for cls in CLASS_GROUPS[group[0]]
        if cls in pred.classes
    ]
    return [
        f"{class_name(group[0])} covers {' and '.join(parts)}: both benign, so a split "
        "between them does not make the result uncertain."
    ]


def _also_referred(pred: Prediction) -> list[str]:
    """Under a melanoma alert, the referral prompts that also fired (melanoma leads)."""
    return [
        f"{class_name(cls)} ({percent(float(pred.probabilities[pred.classes.index(cls)]))}) "
        "also reached its referral prompt."
        for cls in pred.referrals
    ]


def _alert_verdict(pred: Prediction, card: ModelCard | None, low: str | None) -> Verdict:
    """Possible melanoma: the red alert leads, graded when the card has a high level."""
    top, p_top = _top(pred)
    mel = pred.melanoma_probability
    level = pred.melanoma_level or RAISED
    if pred.top_index == pred.melanoma_index:
        first = f"Melanoma is the most likely class ({percent(mel)})."
        detail = f"Melanoma {percent(mel)}, the most likely class"
    else:
        first = (
            f"Most likely class: {top} ({percent(p_top)}); melanoma {percent(mel)}. "
            "The alert is set to miss few melanomas, so melanoma cannot be ruled out."
        )
        detail = f"Melanoma {percent(mel)} \u00b7 most likely class: {top} ({percent(p_top)})"
    graded = card is not None and card.melanoma_high_threshold is not None
    headline = GRADED_ALERT_HEADLINE.format(level=level) if graded else ALERT_HEADLINE
    lines = [first, *grade_lines(card, level), *_also_referred(pred)]
    if low:
        lines.append(_sentence(low))
    return Verdict(
        ALERT,
        headline,
        tuple(lines),
        DANGER,
        pred.label,
        (low,) if low else (),
        detail,
        melanoma_level=level if graded else None,
        referrals=pred.referrals,
    )


def _referral_verdict(pred: Prediction, card: ModelCard | None, low: str | None) -> Verdict:
    """Another skin cancer (refer) or actinic keratosis (pre-cancerous: treat or refer)."""
    level = pred.referral_level or REFER
    fired = pred.referrals
    lead = [c for c in fired if REFERRAL_CLASSES.get(c, REFER) == level]
    template = PRECANCEROUS_HEADLINE if level == PRECANCEROUS else REFER_HEADLINE
    headline = template.format(names=" or ".join(lead))
    top, p_top = _top(pred)
    shares = ", ".join(
        f"{cls} {percent(float(pred.probabilities[pred.classes.index(cls)]))}" for cls in fired
    )
    if pred.label in fired:
        first = f"{class_name(pred.label)} is the most likely class ({percent(p_top)})."
    else:
        first = f"Most likely class: {top} ({percent(p_top)}); {shares}."
    lines = [first, *(referral_line(card, cls) for cls in fired), *_group_line(pred)]
    if low:
        lines.append(_sentence(low))
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


def _plain_verdict(pred: Prediction, card: ModelCard | None, low: str | None) -> Verdict:
    """No alert and no referral: the most likely class (or group), uncertain or not."""
    top, p_top = _top(pred)
    if low:
        headline = f"Uncertain \u2014 most likely: {top} ({percent(p_top)})"
        lines = [_sentence(low) + " Interpret with extra caution or retake the photo."]
        role = CAUTION
    else:
        headline = f"Most likely: {top} ({percent(p_top)})"
        lines = []
        role = NEUTRAL
    lines += _group_line(pred)
    detail = f"No melanoma alert (melanoma {percent(pred.melanoma_probability)})"
    lines += [detail + ".", miss_note(card)]
    return Verdict(
        NO_ALERT, headline, tuple(lines), role, pred.label, (low,) if low else (), detail
    )


def verdict_of(result: Any, card: ModelCard | None) -> Verdict:
    """The verdict for an :class:`desktop.results.ImageResult` (duck-typed: no import cycle)."""
    return verdict_for(result.prediction, card, result.error)


def table_alert(v: Verdict) -> str:
    """The command line table's ALERT column: capitals for what needs action, else '-'."""
    names = " or ".join(v.referrals).upper()
    if v.level == ALERT:
        grade = f" ({v.melanoma_level.upper()} LEVEL)" if v.melanoma_level else ""
        return f"POSSIBLE MELANOMA{grade}: refer to a dermatologist"
    if v.level == REFER:
        return f"POSSIBLE SKIN CANCER ({names}): refer"
    if v.level == PRECANCEROUS:
        return f"PRE-CANCEROUS ({names}): treat or refer"
    return "-"


def count_words(levels: Iterable[str]) -> str:
    """'3 possible melanoma, 1 possible other skin cancer, 1 pre-cancerous' for a summary;
    the referral counts only when there are any (older cards have none)."""
    counts = summarise(levels)
    text = f"{counts[ALERT]} possible melanoma"
    if counts[REFER]:
        text += f", {counts[REFER]} possible other skin cancer"
    if counts[PRECANCEROUS]:
        text += f", {counts[PRECANCEROUS]} pre-cancerous"
    return text


def model_facts(card: ModelCard | None) -> list[str]:
    """The card's measured figures as sentences for the report and the model-card dialog.

    No raw field names: each figure is said in words, with where it was measured.
    """
    if card is None:
        return []
    m = card.metrics
    out = []
    adapted = card.adaptation is not None
    where = (
        "of this clinic's images, each judged by a model fitted without it (cross-validated)"
        if adapted
        else "held-out test images"
        if m.get("measured_on") == "internal_test"
        else "test images"
    )
    n = m.get("images")
    counted = (
        f"{int(n)} {where}"
        if isinstance(n, numbers.Integral) and not isinstance(n, bool)
        else where
    )
    acc, bal = _rate(m.get("accuracy")), _rate(m.get("balanced_accuracy"))
    if adapted:
        out.append(f"Adapted to this clinic: the figures below come from {counted}.")
    if acc is not None:
        out.append(f"On {counted}, the most likely class was right {percent(acc)} of the time.")
    if bal is not None:
        classes = "classes present there" if adapted else f"{card.num_classes} classes"
        out.append(
            f"Averaged over the {classes} (rare ones count as much as "
            f"common ones), it was right {percent(bal)} of the time."
        )
    out.append(alert_meaning(card))
    out.extend(source_lines(card))
    oos = out_of_source_line(card)
    if oos:
        out.append(oos)
    out.extend(operating_point_facts(card))
    ece = _rate(m.get("ece_after_temperature"))
    if ece is not None:
        out.append(
            f"Shown probabilities were off by about {ece * 100:.0f} percentage points on average "
            "from how often the class was actually right."
        )
    agreement = _rate(m.get("quantized_top1_agreement"))
    if agreement is not None:
        out.append(
            f"The compact model used here gives the same most likely class as the full model "
            f"for {percent(agreement)} of images."
        )
    rare = rare_warning(card)
    if rare:
        out.append(rare)
    return out


def scope_note(card: ModelCard | None) -> str:
    """How this model sets aside pictures that are not dermoscopy, for the model-card text."""
    if card is None:
        return ""
    scope = card.scope
    if scope is None:
        return (
            "This model has no fitted check for pictures that are not dermoscopy: only tiny, "
            "blank or obviously rendered pictures (text, charts, screenshots) are set aside."
        )
    if hasattr(scope, "held_out_assessable_rate"):  # the two-sided decision
        text = (
            "Pictures that are not dermoscopy (clinical photos, other pictures) are set aside as "
            '"cannot assess", with no class and no alert; images unlike the training images '
            "keep their result with a caution that it is less reliable."
        )
        if scope.held_out_assessable_rate is not None:
            text += (
                " With each dermoscopy source left out of the fit in turn, at least "
                f"{percent(scope.held_out_assessable_rate)} of its images passed this check."
            )
        return text
    text = (
        "Pictures unlike the dermoscopy images the model was trained on are set aside as "
        '"cannot assess", with no class and no alert.'
    )
    if scope.validation_assessable_rate is not None:
        text += (
            f" In validation, {percent(scope.validation_assessable_rate)} of real dermoscopy "
            "images passed this check."
        )
    return text


def uncertainty_sentence(card: ModelCard | None) -> str:
    """What 'uncertain' means for this card, in words."""
    if card is None:
        return ""
    return (
        f'A result is marked "uncertain" when no class reaches {percent(card.min_top_probability)}.'
    )


def summarise(levels: Iterable[str]) -> dict[str, int]:
    """Counts per level for a batch summary (every level present, zero when absent)."""
    counts = dict.fromkeys(LEVELS, 0)
    for level in levels:
        counts[level] = counts.get(level, 0) + 1
    return counts
