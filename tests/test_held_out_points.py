"""benchmarks.held_out_points: the high melanoma grade and the referral prompts measured on an
origin held out of training, so the banner can say what each grade meant there."""

from __future__ import annotations

import numpy as np

from benchmarks.held_out_points import MIN_POSITIVES, mean_points, points_on_holdout
from benchmarks.refit_card import out_of_source
from desktop import verdict
from desktop.card import ModelCard
from tests.fakes import card_dict

CLASSES = ("basal cell carcinoma", "melanoma", "nevus")


def _probs(rows: list[tuple[float, float]]) -> np.ndarray:
    """(basal cell carcinoma, melanoma) probabilities, nevus taking the rest."""
    return np.array([[b, m, 1.0 - b - m] for b, m in rows])


def test_points_are_chosen_on_validation_and_scored_on_the_held_out_origin():
    # Validation: 20 melanomas at 0.6, 20 nevi at 0.0-0.19, 20 carcinomas at 0.5-0.69.
    mel = [(0.0, 0.6)] * 20
    nevi = [(0.0, i / 100) for i in range(20)]
    bcc = [(0.5 + i / 100, 0.0) for i in range(20)]
    p_val, y_val = _probs(mel + nevi + bcc), np.array([1] * 20 + [2] * 20 + [0] * 20)
    # Held out: 4 melanomas (2 over the high grade's threshold), 2 nevi (1 over), 1 carcinoma
    # (under its referral threshold), and 2 "benign, no class" images (not melanoma, maybe a
    # carcinoma) with a high carcinoma score.
    held = _probs([(0, 0.9), (0, 0.9), (0, 0.01), (0, 0.01), (0, 0.5), (0, 0), (0.2, 0)])
    held = np.vstack([held, _probs([(0.9, 0.0), (0.9, 0.0)])])
    allowed = np.zeros((9, 3), dtype=bool)
    allowed[:4, 1] = True
    allowed[4:6, 2] = True
    allowed[6, 0] = True
    allowed[7:, [0, 2]] = True  # anything but melanoma
    points = points_on_holdout(p_val, y_val, held, allowed, CLASSES)
    high = points["melanoma_high"]
    assert high == {"positives": 4, "negatives": 5, "sensitivity": 0.5, "specificity": 0.8}
    bcc_point = points["referrals"]["basal cell carcinoma"]
    # The two unlabelled images are neither positives nor negatives of a carcinoma prompt.
    assert bcc_point["positives"] == 1 and bcc_point["negatives"] == 6
    assert bcc_point["sensitivity"] == 0.0 and bcc_point["specificity"] == 1.0


def test_the_card_figure_is_the_mean_over_origins_with_enough_positives():
    def point(sens: float, positives: int) -> dict:
        return {"sensitivity": sens, "specificity": 0.9, "positives": positives, "negatives": 50}

    per = {
        "a": {
            "melanoma_high": point(0.4, 25),
            "referrals": {"nevus": point(1.0, MIN_POSITIVES - 1)},
        },
        "b": {"melanoma_high": point(0.2, 30), "referrals": {"nevus": point(0.5, MIN_POSITIVES)}},
        "older": None,  # a refit made before the points existed
    }
    mean = mean_points(per)
    assert mean["melanoma_high"]["sensitivity"] == 0.3
    assert mean["melanoma_high"]["origins"] == ["a", "b"]
    assert mean["melanoma_high"]["positives"] == 55
    # Origin a's nevi are too few: the nevus figure is origin b's alone.
    assert mean["referrals"]["nevus"]["sensitivity"] == 0.5
    assert mean["referrals"]["nevus"]["origins"] == ["b"]
    assert "referrals" in mean_points({"x": {"melanoma_high": point(0.5, 1)}})
    assert "melanoma_high" not in mean_points({"x": {"melanoma_high": point(0.5, 1)}})


def test_the_banner_quotes_the_high_grade_on_a_source_the_model_did_not_learn_from():
    held = {"blend": {"holdout": {"images": 100, "sensitivity": 0.8, "specificity": 0.4}}}
    held["blend"]["holdout"] |= {"roc_auc": 0.7, "accuracy": 0.5, "balanced_accuracy": 0.4}
    high = {"sensitivity": 0.21, "specificity": 0.93, "positives": 20, "negatives": 80}
    held["blend"]["holdout"]["operating_points"] = {"melanoma_high": high, "referrals": {}}
    oos = out_of_source({"clinic": held}, "blend")
    assert oos["operating_points"]["melanoma_high"]["sensitivity"] == 0.21
    card = card_dict(classes=CLASSES, metrics={"out_of_source": oos})
    card["alert"]["melanoma_high"] = {
        "threshold": 0.7,
        "validation_sensitivity": 0.4,
        "validation_specificity": 0.96,
    }
    model = ModelCard.from_dict(card)
    inside, outside = verdict.point_figures(model, verdict.HIGH)
    assert inside is not None and outside == verdict.PointFigures(0.21, 0.93)
    (line,) = [s for s in verdict.grade_lines(model, verdict.HIGH) if s.startswith("High")]
    assert "not measured" not in line and "about 2 in 10 melanomas" in line
