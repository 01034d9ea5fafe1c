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
    arm = {"melanoma_roc_auc": 0.7, "sensitivity": 0.9, "specificity": 0.4}
    per["a"]["adapted"] = {
        "plain": arm | {"alert_flips": 0.12, "class_changes": 0.3},
        "recaptured": arm | {"melanoma_roc_auc": 0.71, "alert_flips": 0.08, "class_changes": 0.2},
    }
    assert "h" in summary(per) and "adapted" not in summary(per)  # a head has stability
    table = markdown({"summary": {"h": s}, "origins": per})
    assert "| h | 0.700 | 0.600 | 6.0\u00a0% | 10.0\u00a0% |" in table
    assert "| a | 0.700 → 0.710 | 0.90 / 0.40 → 0.90 / 0.40 | 12.0\u00a0% → 8.0\u00a0% |" in table
    assert "| b |" not in table  # no adapted clinic measured there


def test_a_simulated_clinic_is_adapted_with_and_without_copies():
    """On synthetic rows whose second feature a re-take scrambles: the same clinics, both arms
    measured, and the copies make the adapted alert steadier under that re-take."""
    from benchmarks.recapture_head import adapted
    from desktop.adapt import fit

    rng = np.random.default_rng(0)
    n = 1200
    y = rng.random(n) < 0.3
    x = np.stack([y + rng.normal(0, 0.9, n), y + rng.normal(0, 0.6, n)], axis=1)
    scrambled = x.copy()
    scrambled[:, 1] = rng.permutation(x[:, 1])
    allowed = np.stack([~y, y], axis=1)
    base = fit.Base(np.zeros((2, 2)), np.zeros(2), 1.0)
    groups = np.arange(n).astype(str)
    out = adapted(x, allowed, groups, scrambled[None], scrambled[None], base, mel=1)
    assert out["clinics"] == 3 and out["clinic_images"] == 400
    plain, both = out["plain"], out["recaptured"]
    assert both["alert_flips"] < plain["alert_flips"]
    assert 0.0 <= both["specificity"] <= 1.0 and both["melanoma_roc_auc"] > 0.6
