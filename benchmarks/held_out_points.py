"""The card's other operating points on an origin held out of training: the "high" melanoma
grade and each referral prompt, as the melanoma alert already is (``benchmarks.refit_head``).

The banner says what each grade meant in testing on the model's own sources and on a source it
did not learn from. The alert's out-of-source figure came from the held-out refits; the other
points had none, so the window said "not measured". Here each held-out refit's head gets its
points chosen on its own validation split by the shipped rule
(:func:`trainer.operating_points.choose_operating_points`: high grade at specificity >= 0.95,
each referral at sensitivity >= 0.85), and they are scored on the held-out origin:

- a point's positives are the images labelled that class alone; its negatives, the images that
  cannot be it (isic2020's "benign, no class" images count against melanoma only: they could
  be a basal cell carcinoma as far as the label says, so no referral figure uses them);
- the card's figure for a point is the mean over the held-out origins with at least
  :data:`MIN_POSITIVES` positives of it (as the alert's is the mean over origins), with the
  origins and counts it rests on.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from trainer.operating_points import choose_operating_points

# Fewer positives than this on an origin say too little about a point, and the mean gives each
# origin the same say: vienna_dias's 5 basal cell carcinomas (all caught) lifted the card's mean
# from rosendahl's 72.5 % of 273 to 86 % (one of 5 is 20 points; one of 20, 5).
MIN_POSITIVES = 20


def _at(scores: np.ndarray, allowed: np.ndarray, i: int, threshold: float) -> dict[str, Any]:
    """Sensitivity and specificity of ``scores >= threshold`` for class ``i``, with counts."""
    pos = allowed[:, i] & (allowed.sum(axis=1) == 1)
    neg = ~allowed[:, i]
    flagged = scores >= threshold
    out: dict[str, Any] = {"positives": int(pos.sum()), "negatives": int(neg.sum())}
    if pos.any() and neg.any():
        out |= {
            "sensitivity": round(float(flagged[pos].mean()), 4),
            "specificity": round(float((~flagged[neg]).mean()), 4),
        }
    return out


def points_on_holdout(
    p_val: np.ndarray,
    y_val: np.ndarray,
    p_held: np.ndarray,
    allowed_held: np.ndarray,
    classes: Sequence[str],
) -> dict[str, Any]:
    """One head's points chosen on its validation split, scored on the held-out origin:
    ``{"melanoma_high": {...}, "referrals": {class: {...}}}`` (a point with no positive or no
    negative there keeps its counts only)."""
    mel = list(classes).index("melanoma")
    points = choose_operating_points(p_val, y_val, tuple(classes), mel)
    high = float(points.melanoma_high["threshold"])
    out: dict[str, Any] = {"melanoma_high": _at(p_held[:, mel], allowed_held, mel, high)}
    out["referrals"] = {
        cls: _at(p_held[:, classes.index(cls)], allowed_held, classes.index(cls), p["threshold"])
        for cls, p in points.referrals.items()
    }
    return out


def _mean(per: Mapping[str, Mapping[str, Any] | None]) -> dict[str, Any] | None:
    """The mean of one point over the origins with enough positives; None when none has."""
    kept = {
        o: f for o, f in per.items() if f and "sensitivity" in f and f["positives"] >= MIN_POSITIVES
    }
    if not kept:
        return None
    return {
        "sensitivity": round(float(np.mean([f["sensitivity"] for f in kept.values()])), 4),
        "specificity": round(float(np.mean([f["specificity"] for f in kept.values()])), 4),
        "origins": list(kept),
        "positives": int(sum(f["positives"] for f in kept.values())),
    }


def mean_points(per_origin: Mapping[str, Mapping[str, Any]]) -> dict[str, Any]:
    """The card's ``metrics.out_of_source.operating_points`` from each origin's points (those
    refits made before the points existed have none, and are left out)."""
    per = {o: p for o, p in per_origin.items() if p}
    out: dict[str, Any] = {"measured_on": "each origin held out in turn, the mean"}
    high = _mean({o: p.get("melanoma_high") for o, p in per.items()})
    if high:
        out["melanoma_high"] = high
    names = sorted({c for p in per.values() for c in p.get("referrals", {})})
    referrals = {
        c: _mean({o: p.get("referrals", {}).get(c) for o, p in per.items()}) for c in names
    }
    out["referrals"] = {c: f for c, f in referrals.items() if f}
    return out
