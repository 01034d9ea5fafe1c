"""benchmarks.recapture_head counts what a re-take changes, at the threshold it says."""

from __future__ import annotations

import numpy as np

from benchmarks.recapture_head import markdown, stability, summary


def _probs(mel: np.ndarray) -> np.ndarray:
    """Two classes: melanoma (index 1) with the given probabilities."""
    return np.stack([1 - mel, mel], axis=1)


def test_stability_counts_alert_flips_and_class_changes_at_sensitivity_090():
    mel = np.array([0.9, 0.8, 0.7, 0.6, 0.4, 0.3, 0.2, 0.1, 0.05, 0.02])
    is_mel = np.array([True] * 5 + [False] * 5)
    moved = mel.copy()
    moved[3] = 0.45  # stays alerted, but crosses the class line at 0.5
    moved[5] = 0.55  # a benign lesion crosses the threshold and the class line
    moved[0] = 0.3  # a melanoma drops under both
    out = stability(_probs(mel), {"same": _probs(mel), "moved": _probs(moved)}, is_mel, 1)
    # every melanoma alerted at 0.90: halfway between the lowest (0.4) and the next score
    assert out["threshold"] == 0.35
    assert out["variants"]["same"] == {
        "alert_flips": 0.0,
        "class_changes": 0.0,
        "melanoma_roc_auc": 1.0,
    }
    assert out["variants"]["moved"]["alert_flips"] == 0.2  # rows 0 and 5
    assert out["variants"]["moved"]["class_changes"] == 0.3  # rows 0, 3 and 5 cross 0.5
    assert out["worst"] == {"alert_flips": 0.2, "class_changes": 0.3}


def test_summary_and_table_take_the_worst_recapture_per_origin():
    def entry(auc: float, flips: float) -> dict:
        return {
            "melanoma_roc_auc": auc,
            "stability": {"worst": {"alert_flips": flips, "class_changes": 2 * flips}},
        }

    per = {"a": {"images": 3, "h": entry(0.8, 0.02)}, "b": {"images": 4, "h": entry(0.6, 0.1)}}
    s = summary(per)["h"]
    assert s["mean_melanoma_roc_auc"] == 0.7 and s["worst_melanoma_roc_auc"] == 0.6
    assert s["mean_worst_alert_flips"] == 0.06 and s["worst_alert_flips"] == 0.1
    assert s["worst_class_changes"] == 0.2
    table = markdown({"summary": {"h": s}})
    assert "| h | 0.700 | 0.600 | 6.0\u00a0% | 10.0\u00a0% |" in table
