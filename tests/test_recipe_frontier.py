"""benchmarks.recipe_frontier: one line per stored recipe comparison, and #26's targets."""

from __future__ import annotations

import json
from pathlib import Path

from benchmarks import recipe_frontier as rf


def _comparison(root: Path, name: str, created: str, net: tuple, cand_net: tuple, **extra) -> None:
    def auc(pair: tuple) -> dict:
        return {"mean_melanoma_roc_auc": pair[0], "worst_melanoma_roc_auc": pair[1]}

    who = name.removesuffix("_full")
    result = {
        "created": created,
        "sets": {"o held out: o": {}, "o held out: isic2020": {}},
        "summary": {
            "shipped recipe: network": auc(net),
            "shipped recipe: blend": auc(net),
            f"{who}: network": auc(cand_net),
            f"{who}: blend": auc(cand_net),
        },
        **extra,
    }
    (root / "benchmarks" / f"recipe_{name}.json").write_text(json.dumps(result))


def test_each_comparison_is_a_line_with_its_flags_oldest_first(tmp_path: Path) -> None:
    (tmp_path / "benchmarks").mkdir()
    (tmp_path / "benchmarks" / "experiments.mk").write_text(
        "recipe-up: $(STAMP)\n\t$(call recipe_runs,up,$(RECIPE) --up 2)\n"
        "recipe-down:\n\t$(call recipe_runs,down,--down)\n"
    )
    _comparison(
        tmp_path,
        "up",
        "2026-12-05T01:00",
        (0.60, 0.55),
        (0.62, 0.55),
        inside_sources={
            "o": {"shipped recipe": 0.6, "up": 0.7},
            "p": {"shipped recipe": None, "up": 0.1},
        },
    )
    _comparison(tmp_path, "down", "2026-12-04T01:00", (0.60, 0.55), (0.61, 0.50))
    _comparison(tmp_path, "up_full", "2026-12-06T01:00", (0.60, 0.55), (0.58, 0.56), full_pass={})
    (tmp_path / "benchmarks" / "recipe_seeds_up.json").write_text("{}")  # not a line

    rows = rf.lines(tmp_path)
    assert [r["recipe"] for r in rows] == ["down", "up", "up_full"]
    down, up, full = rows
    assert up["flags"] == "$(RECIPE) --up 2" and full["flags"] == up["flags"]
    assert full["pass"].startswith("full") and up["pass"] == "proxy"
    assert up["scored_on"] == ["isic2020", "o"]
    assert up["inside"] == (0.6, 0.7)  # the run without a shipped figure left out
    assert down["inside"] == (None, None)
    table = rf.markdown(rows)
    assert "0.600 → 0.620 (+0.020)" in table
    assert "without lowering either's worst: up. " in table  # not down (worst), not up_full (mean)
    assert table.count("\n| ") == 3  # a line per comparison under the header


def test_targets_say_met_or_missed_from_the_card() -> None:
    card = {
        "metrics": {
            "out_of_source": {
                "origins": ["a", "b"],
                "melanoma_roc_auc": 0.86,
                "worst_melanoma_roc_auc": 0.70,
                "melanoma_sensitivity": 0.9,
                "melanoma_specificity": 0.4,
            }
        }
    }
    yard = {"targets": {"mean_melanoma_roc_auc": 0.85, "worst_melanoma_roc_auc": 0.78}}
    table = rf.targets_markdown(card, yard)
    assert "| mean held-out melanoma ROC AUC | >= 0.85 | 0.860 | met |" in table
    assert "| worst held-out melanoma ROC AUC | >= 0.78 | 0.700 | missed |" in table
    assert "| the alert's specificity, mean | >= 0.50 | 0.400 | missed |" in table
    assert "2 origins held out" in table
