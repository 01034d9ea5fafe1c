"""The levels a result can have: their short texts, their order by urgency, the classes that
prompt a referral, the melanoma alert's grades, and the colour roles the views map to colours."""

from __future__ import annotations

from collections.abc import Iterable

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


def summarise(levels: Iterable[str]) -> dict[str, int]:
    """Counts per level for a batch summary (every level present, zero when absent)."""
    counts = dict.fromkeys(LEVELS, 0)
    for level in levels:
        counts[level] = counts.get(level, 0) + 1
    return counts


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
