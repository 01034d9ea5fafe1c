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

Import from ``desktop.verdict`` only; the wording is kept in one module per kind of thing said:

* ``levels``: the levels, their short texts and ranks, referral classes, grades, colour roles;
* ``grading``: the level of one prediction (alert, melanoma grade, referrals, class group);
* ``formats``: the one ``percent()``, "about N in 10", class names, sentences;
* ``reasons``: unreadable, cannot assess (image quality, not dermoscopy), the caution;
* ``figures``: the card's measured figures (alert, operating points, sources) in words;
* ``result``: the :class:`Verdict` and the parts every kind of verdict shares;
* ``melanoma``: the melanoma alert and its grades;
* ``referrals``: the referral prompts (other skin cancers, pre-cancerous);
* ``assess``: the verdict for one result, the "no alert" wording, the CLI's ALERT column;
* ``card_text``: the model card in words (facts, rare classes, uncertainty, scope).
"""

from __future__ import annotations

from desktop.verdict.assess import prediction_record, table_alert, verdict_for, verdict_of
from desktop.verdict.card_text import (
    RARE_RECALL,
    model_facts,
    operating_point_facts,
    rare_warning,
    rarely_recognised,
    scope_note,
    uncertainty_sentence,
)
from desktop.verdict.figures import (
    OTHER_SOURCE,
    OWN_SOURCES,
    AlertFigures,
    PointFigures,
    alert_figures,
    alert_meaning,
    miss_note,
    out_of_source_line,
    point_figures,
    source_lines,
)
from desktop.verdict.formats import (
    NBSP,
    class_name,
    display_percentages,
    in_ten,
    percent,
    percent_under,
    shown_percents,
    uncertain_label,
)
from desktop.verdict.grading import (
    alert_level,
    class_group,
    fired_referrals,
    melanoma_level,
    referral_level,
    shown_percent_texts,
    shown_probability,
    stored_percent_text,
    top_group,
)
from desktop.verdict.levels import (
    ALERT,
    CANNOT_ASSESS,
    CAUTION,
    CLASS_GROUPS,
    DANGER,
    ERROR,
    FAILED,
    HIGH,
    LEVEL_RANK,
    LEVEL_TEXT,
    LEVELS,
    MUTED,
    NEUTRAL,
    NO_ALERT,
    PRECANCEROUS,
    RAISED,
    REFER,
    REFERRAL_CLASSES,
    REFERRAL_LEVELS,
    WARNING,
    count_words,
    summarise,
)
from desktop.verdict.melanoma import ALERT_HEADLINE, GRADED_ALERT_HEADLINE, grade_lines
from desktop.verdict.reasons import (
    BLANK_REASON,
    CANNOT_ASSESS_HEADLINE,
    CANNOT_ASSESS_SHORT,
    CLINIC_SCOPE_HEADLINE,
    CLINIC_SCOPE_REASON,
    ERROR_HEADLINE,
    NO_ANSWER,
    NO_MELANOMA_FIGURE,
    NOT_DERMOSCOPY_HEADLINE,
    NOT_DERMOSCOPY_REASON,
    UNCERTAIN_HEADLINE,
    UNFAMILIAR_CAUTION,
    black_and_white_reason,
    blurred_reason,
    is_uncertain,
    low_confidence_reason,
    soft_focus_caution,
    too_bright_reason,
    too_dark_reason,
    too_small_reason,
    uncertain_reasons,
)
from desktop.verdict.referrals import PRECANCEROUS_HEADLINE, REFER_HEADLINE, referral_line
from desktop.verdict.result import Verdict, shown_class

__all__ = [
    "ALERT",
    "ALERT_HEADLINE",
    "BLANK_REASON",
    "CANNOT_ASSESS",
    "CANNOT_ASSESS_HEADLINE",
    "CANNOT_ASSESS_SHORT",
    "CAUTION",
    "CLASS_GROUPS",
    "CLINIC_SCOPE_HEADLINE",
    "CLINIC_SCOPE_REASON",
    "DANGER",
    "ERROR",
    "ERROR_HEADLINE",
    "FAILED",
    "GRADED_ALERT_HEADLINE",
    "HIGH",
    "LEVELS",
    "LEVEL_RANK",
    "LEVEL_TEXT",
    "MUTED",
    "NBSP",
    "NEUTRAL",
    "NOT_DERMOSCOPY_HEADLINE",
    "NOT_DERMOSCOPY_REASON",
    "NO_ALERT",
    "NO_ANSWER",
    "NO_MELANOMA_FIGURE",
    "OTHER_SOURCE",
    "OWN_SOURCES",
    "PRECANCEROUS",
    "PRECANCEROUS_HEADLINE",
    "RAISED",
    "RARE_RECALL",
    "REFER",
    "REFERRAL_CLASSES",
    "REFERRAL_LEVELS",
    "REFER_HEADLINE",
    "UNCERTAIN_HEADLINE",
    "UNFAMILIAR_CAUTION",
    "WARNING",
    "AlertFigures",
    "PointFigures",
    "Verdict",
    "alert_figures",
    "alert_level",
    "alert_meaning",
    "blurred_reason",
    "class_group",
    "class_name",
    "count_words",
    "display_percentages",
    "fired_referrals",
    "grade_lines",
    "in_ten",
    "is_uncertain",
    "low_confidence_reason",
    "melanoma_level",
    "miss_note",
    "model_facts",
    "operating_point_facts",
    "out_of_source_line",
    "percent",
    "percent_under",
    "point_figures",
    "prediction_record",
    "rare_warning",
    "rarely_recognised",
    "referral_level",
    "referral_line",
    "scope_note",
    "shown_class",
    "shown_percent_texts",
    "shown_percents",
    "shown_probability",
    "soft_focus_caution",
    "source_lines",
    "stored_percent_text",
    "summarise",
    "table_alert",
    "too_bright_reason",
    "black_and_white_reason",
    "too_dark_reason",
    "too_small_reason",
    "top_group",
    "uncertain_label",
    "uncertain_reasons",
    "uncertainty_sentence",
    "verdict_for",
    "verdict_of",
]
