"""A candidate recipe inside the sources: its backbone with no origin held out against the
shipped backbone, each with the network's own head, the refit and their blend (as shipped).

The full leave-one-origin-out pass says how a recipe reads dermoscopy it never saw. A recipe
that gains there can still lose on the sources it learnt from, which are most of what the
clinics using the shipped model will see. Both backbones are read on one internal test split
(the same data and seed give the same split; checked from the cards), and both refits are
fitted the same way, without re-captured copies, so the two rows differ only by the backbone.

    python -m benchmarks.recipe_compare CANDIDATE --full   # adds this table when
                                                           # runs/CANDIDATE-shipped exists
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from benchmarks import refit_head

ROOT = Path(__file__).resolve().parent.parent
HEADS = ("network", "refit", "blend")
FIGURES = (
    "accuracy",
    "balanced_accuracy",
    "melanoma_roc_auc",
    "melanoma_sensitivity",
    "melanoma_specificity",
)


def same_split(candidate_card: Path, shipped_card: Path) -> list[str]:
    """How the two cards' data stages differ (empty: one split, so one internal test)."""
    a, b = (json.loads(p.read_text(encoding="utf-8")) for p in (candidate_card, shipped_card))
    problems = []
    for key in ("split", "content_sha256"):
        if a["training_data"].get(key) != b["training_data"].get(key):
            problems.append(f"training_data.{key} differs")
    if a["config"].get("seed") != b["config"].get("seed"):
        problems.append("the seed differs")
    return problems


def backbone(rows: Path, split: Path, model: Path) -> dict[str, Any]:
    """One backbone's three heads on the split's internal test (figures rounded as stored)."""
    data = refit_head.load(rows, split)
    classes = tuple(str(c) for c in data["classes"])
    network, _ = refit_head.network_head(str(model))
    r = refit_head.summary(refit_head.refit(data, classes, network))
    return {h: {k: r[h]["internal_test"][k] for k in ("images", *FIGURES)} for h in HEADS}


def compare(candidate: str, root: Path = ROOT) -> dict[str, Any] | None:
    """Both backbones inside the sources, or None when the candidate has no such run yet."""
    run = root / "runs" / f"{candidate}-shipped"
    rows = root / "runs" / "features" / f"{candidate}-shipped" / "rows.npz"
    shipped_rows = root / "runs" / "features" / "shipped" / "rows.npz"
    shipped_model = root / "assets" / "model.tflite"
    needed = (run / "model.tflite", run / "split.json", rows, shipped_rows)
    if not all(p.is_file() for p in needed):
        return None
    problems = same_split(run / "model.json", shipped_model.with_suffix(".json"))
    if problems:
        raise SystemExit(f"{run.name}: not the shipped model's split: " + "; ".join(problems))
    out = {
        "split": str((run / "split.json").relative_to(root)),
        "shipped recipe": backbone(shipped_rows, run / "split.json", shipped_model),
        candidate: backbone(rows, run / "split.json", run / "model.tflite"),
    }
    print("in source", json.dumps(out), file=sys.stderr, flush=True)
    return out


def markdown(result: dict[str, Any]) -> str:
    """One row per backbone and head: accuracy / balanced accuracy / melanoma AUC / the
    alert's sensitivity and specificity (threshold chosen on validation, sensitivity 0.90)."""
    recipes = [k for k in result if k != "split"]
    images = int(result[recipes[0]]["network"]["images"])
    lines = [
        f"| in source ({images:,} internal-test images): backbone | head | accuracy "
        "| balanced accuracy | melanoma AUC | its alert: sens. / spec. |",
        "|---|---|---|---|---|---|",
    ]
    for recipe in recipes:
        for head in HEADS:
            e = result[recipe][head]
            lines.append(
                f"| {recipe} | {head} | {e['accuracy']:.3f} | {e['balanced_accuracy']:.3f} "
                f"| {e['melanoma_roc_auc']:.3f} "
                f"| {e['melanoma_sensitivity']:.3f} / {e['melanoma_specificity']:.3f} |"
            )
    lines += [
        "",
        "In source: each backbone trained with no origin held out, read on one internal test "
        f"split (`{result['split']}`; the cards' data hash, split and seed agree). The refits "
        "are fitted alike, without re-captured copies, so the shipped card's own figures "
        "(fitted with them) differ a little.",
    ]
    return "\n".join(lines)
