"""benchmarks.recipe_compare: mean and worst over the scored sets, one table row per recipe."""

from __future__ import annotations

from benchmarks.recipe_compare import markdown, summary


def _entry(auc: float, flips: float | None = None) -> dict:
    e = {"melanoma_roc_auc": auc, "specificity_at_sensitivity_0.90": 0.3, "balanced_accuracy": 0.5}
    if flips is not None:
        e["worst_recapture"] = {"alert_flips": flips, "class_changes": 2 * flips}
    return e


def test_summary_takes_mean_and_worst_per_recipe_and_head():
    sets = {
        "a held out: a": {
            "shipped recipe": {"network": _entry(0.70, 0.1), "blend": _entry(0.74, 0.12)},
            "zoom": {"network": _entry(0.72, 0.05), "blend": _entry(0.75, 0.06)},
        },
        "a held out: isic2020": {
            "shipped recipe": {"network": _entry(0.56), "blend": _entry(0.60)},
            "zoom": {"network": _entry(0.62), "blend": _entry(0.58)},
        },
    }
    s = summary(sets, ["shipped recipe", "zoom"])
    assert s["shipped recipe: network"] == {
        "mean_melanoma_roc_auc": 0.63,
        "worst_melanoma_roc_auc": 0.56,
    }
    assert s["zoom: blend"]["worst_melanoma_roc_auc"] == 0.58
    table = markdown({"sets": sets, "summary": s})
    assert "| a held out: a | zoom | 0.720 / 0.30 / 0.50 / 5.0 % |" in table
    assert "| a held out: isic2020 | zoom | 0.620 / 0.30 / 0.50 / n/a |" in table
    assert "| zoom: blend | 0.665 | 0.580 |" in table
