"""One image's result as numbers: the calibrated probabilities, the card's decision settings
and what was found about the image (reasons it cannot be assessed, cautions, scope scores,
activation maps, time). No words and no levels: :mod:`desktop.verdict` reads a
:class:`Prediction` and says what it means (the alert level, the referrals, the uncertain
reasons, the command line's record)."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from desktop.card import ModelCard


@dataclass(frozen=True)
class Prediction:
    """One image's result, derived entirely from probabilities and the card."""

    classes: tuple[str, ...]
    probabilities: np.ndarray  # calibrated, sums to 1, card class order
    melanoma_index: int
    melanoma_threshold: float
    min_top_probability: float
    quality_issues: tuple[str, ...] = ()
    cam: np.ndarray | None = field(default=None, repr=False)  # (size, size) in [0, 1], top class
    elapsed_ms: float = 0.0
    # (classes, h, w) at the feature map's own resolution, each class scaled to [0, 1]: tiny, so
    # a batch can keep every class's map and the window can upsample smoothly to any size.
    cams: np.ndarray | None = field(default=None, repr=False, compare=False)
    # Out-of-scope findings (not a dermoscopy image), plain words; empty when in scope.
    scope_issues: tuple[str, ...] = ()
    # Distance to the training images over the card's limit (<= 1 in scope); None: not measured.
    scope_score: float | None = None
    # Assessed, but less reliable than usual (unlike the training images), plain words.
    cautions: tuple[str, ...] = ()
    # The two-sided "is this dermoscopy" score (log-odds); None: the card has no such decision.
    dermoscopy_score: float | None = None
    # The card's other operating points (desktop.card): the melanoma alert's "high" grade and
    # a referral threshold per class; None / empty for older cards (one grade, no referrals).
    melanoma_high_threshold: float | None = None
    referral_thresholds: tuple[tuple[str, float], ...] = ()
    # Half-width in log-odds of the band around the melanoma alert's threshold where a re-take
    # often changes the alert (the card's ``alert.borderline``); None: the card measured none.
    borderline_band: float | None = None

    @classmethod
    def for_card(cls, card: ModelCard, probabilities: np.ndarray, **findings: Any) -> Prediction:
        """A prediction whose classes and decision thresholds are the card's; ``findings``
        are the per-image fields (issues, maps, time). The one place the card's decision
        settings are copied, for the classifier and its test stand-in alike."""
        return cls(
            classes=card.classes,
            probabilities=probabilities,
            melanoma_index=card.melanoma_index,
            melanoma_threshold=card.melanoma_threshold,
            min_top_probability=card.min_top_probability,
            melanoma_high_threshold=card.melanoma_high_threshold,
            referral_thresholds=card.referral_thresholds,
            borderline_band=card.borderline.band if card.borderline else None,
            **findings,
        )

    @property
    def top_index(self) -> int:
        return int(np.argmax(self.probabilities))

    @property
    def label(self) -> str:
        return self.classes[self.top_index]

    @property
    def top_probability(self) -> float:
        return float(self.probabilities[self.top_index])

    @property
    def melanoma_probability(self) -> float:
        return float(self.probabilities[self.melanoma_index])

    def probability_of(self, cls: str) -> float:
        """One class's probability, by name."""
        return float(self.probabilities[self.classes.index(cls)])

    @property
    def cannot_assess_reasons(self) -> tuple[str, ...]:
        """Why this image gets no class and no alert, as found: the image-quality findings
        (tiny, blank) when there are any, as they are the plainest, else scope."""
        return tuple(self.quality_issues) or tuple(self.scope_issues)

    @property
    def assessable(self) -> bool:
        return not self.cannot_assess_reasons

    @property
    def melanoma_alert(self) -> bool:
        """On when melanoma reaches the card's threshold, or is the most likely class (so
        "most likely: melanoma" never sits next to "no alert" whatever the card's threshold).
        Only ever on for an assessable image: an unusable picture never raises an alert."""
        if not self.assessable:
            return False
        return (
            self.melanoma_probability >= self.melanoma_threshold
            or self.top_index == self.melanoma_index
        )

    @property
    def near_alert_threshold(self) -> bool:
        """Assessable, with the melanoma probability inside the card's borderline band around
        the alert threshold (log-odds): where a re-take of the same lesion often changes the
        alert. False when the card measured no band."""
        if self.borderline_band is None or not self.assessable:
            return False
        gap = _logit(self.melanoma_probability) - _logit(self.melanoma_threshold)
        return abs(gap) <= self.borderline_band

    def referral_classes(self) -> tuple[str, ...]:
        """Classes at or over their referral threshold, in the card's order; empty for an
        image that cannot be assessed (:func:`desktop.verdict.fired_referrals` orders them)."""
        if not self.assessable:
            return ()
        p = dict(zip(self.classes, self.probabilities.tolist(), strict=True))
        return tuple(c for c, t in self.referral_thresholds if c in p and p[c] >= t)

    def ranked(self) -> list[tuple[str, float]]:
        """(class, probability) pairs, most likely first."""
        # Stable on -p: a tie keeps argmax's order, so the first bar is always the top class.
        order = np.argsort(-self.probabilities, kind="stable")
        return [(self.classes[i], float(self.probabilities[i])) for i in order]


def _logit(p: float) -> float:
    p = min(max(p, 1e-9), 1.0 - 1e-9)
    return math.log(p / (1.0 - p))
