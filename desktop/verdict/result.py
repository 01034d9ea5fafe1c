"""The :class:`Verdict`, what is said about one result, and the parts every kind of verdict
shares: the most likely class (or its group) and the caution on a less reliable result."""

from __future__ import annotations

from dataclasses import dataclass, replace

from desktop.prediction import Prediction
from desktop.verdict.formats import class_name, percent, sentence
from desktop.verdict.grading import top_group
from desktop.verdict.levels import (
    ALERT,
    CAUTION,
    CLASS_GROUPS,
    LEVEL_TEXT,
    NO_ALERT,
    PRECANCEROUS,
    REFER,
)


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
    borderline: bool = False  # the melanoma figure lies in the card's borderline band

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


def cautioned(said: Verdict, pred: Prediction) -> Verdict:
    """An assessed result that is less reliable than usual says so, keeping class and alert.

    A plain result turns into a "caution" one, with the caution first (the window's banner
    shows the first line); an alert or referral keeps its level and colour.
    """
    cautions = tuple(getattr(pred, "cautions", ()))
    if not cautions:
        return said
    words = " ".join(sentence(c) for c in cautions)
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


def shown_class(pred: Prediction) -> tuple[str, float]:
    """The most likely class, or its group (the benign keratoses), and its probability."""
    group = top_group(pred)
    return (
        (class_name(group[0]), group[1])
        if group
        else (class_name(pred.label), pred.top_probability)
    )


def group_line(pred: Prediction) -> list[str]:
    """Names the classes of a group shown as one ('Benign keratosis: seborrheic ...')."""
    group = top_group(pred)
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
