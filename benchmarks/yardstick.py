"""The yardstick: the shipped recipe on each origin held out of its training.

For every origin with a run trained without it (``runs/holdout-<origin>``; the shipped model
for isic2020, which it never saw), the view-averaged probabilities of that origin's images
(``python -m benchmarks.origin_features``) give: melanoma ROC AUC, specificity at
sensitivity 0.90, sensitivity and specificity at that model's own alert (as the app decides
it), and balanced accuracy over the classes the origin has. Then the mean and the worst
over the origins measured: the recipe is chosen on those, never on a pooled split.

    python -m benchmarks.yardstick          # writes benchmarks/yardstick.json
"""

from __future__ import annotations

import json
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks.common import load_arrays
from desktop.adapt import fit
from desktop.adapt.clinic import ClinicData
from desktop.card import card_path_for, load_card
from desktop.labelled.labels import MELANOMA

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "benchmarks" / "yardstick.json"
# Every origin held out of the shipped recipe, in turn (``--holdout-source``); HAM10000's four
# clinics are its ``dataset`` values.
ORIGINS = (
    "isic-9class",
    "isic2017",
    "isic2020",
    "rosendahl",
    "vidir_modern",
    "vidir_molemax",
    "vienna_dias",
)
HELD_OUT = {  # origin -> (model trained without it, rows of that model's features)
    o: (f"runs/holdout-{o}/model.tflite", f"runs/features/holdout-{o}/rows.npz") for o in ORIGINS
}
# isic2020 is the shipped backbone with its network head (runs/network): the shipped head saw it
HELD_OUT["isic2020"] = ("runs/network/model.tflite", "runs/features/shipped/rows.npz")


def origin_figures(origin: str, model: Path, rows_path: Path) -> dict[str, Any]:
    """``model``'s own last layer on ``origin``'s rows, at its own alert.

    The probabilities come from the rows' pooled features through that head
    (:func:`benchmarks.refit_head.network_head`), not from the rows' stored probabilities: the
    rows may be another model's (isic2020's are the shipped model's, whose card head was
    refitted with isic2020's labels), and so the figures are ``benchmarks.refit_head``'s
    network head's, computed the same way."""
    from benchmarks.refit_head import network_head

    card = load_card(card_path_for(model))
    head, threshold = network_head(str(model))
    z = load_arrays(rows_path)
    keep = z["origins"] == origin
    labels = [str(x) for x in z["labels"][keep]]
    probs = head.probabilities(z["pooled"][keep])
    data = ClinicData([Path("x")] * len(labels), labels, [""] * len(labels))
    allowed = data.allowed_matrix(card.classes)
    mel = card.melanoma_index
    is_mel = np.array([lab == MELANOMA for lab in labels])
    at_alert = fit.figures(probs, allowed, mel, threshold)
    return {
        "model": str(model.relative_to(ROOT)),
        "images": len(labels),
        "melanomas": int(is_mel.sum()),
        "melanoma_roc_auc": round(at_alert.roc_auc, 4),
        "specificity_at_sensitivity_0.90": round(
            fit.specificity_at_sensitivity(probs[:, mel], is_mel, 0.90), 4
        ),
        "alert_threshold": round(threshold, 4),
        "sensitivity_at_alert": round(at_alert.sensitivity, 4),
        "specificity_at_alert": round(at_alert.specificity, 4),
        "balanced_accuracy": round(at_alert.balanced_accuracy, 4),
    }


def main(argv: list[str] | None = None) -> int:
    from benchmarks.refit_head import network_model

    network_model()
    origins: dict[str, Any] = {}
    for origin, (model, rows) in HELD_OUT.items():
        if (ROOT / model).is_file() and (ROOT / rows).is_file():
            origins[origin] = origin_figures(origin, ROOT / model, ROOT / rows)
            print(origin, origins[origin], file=sys.stderr)
    aucs = [o["melanoma_roc_auc"] for o in origins.values()]
    result = {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "recipe": "the shipped recipe (make train), each origin held out with --holdout-source",
        "origins": origins,
        "mean_melanoma_roc_auc": round(float(np.mean(aucs)), 4) if aucs else None,
        "worst_melanoma_roc_auc": round(float(np.min(aucs)), 4) if aucs else None,
        "targets": {"mean_melanoma_roc_auc": 0.85, "worst_melanoma_roc_auc": 0.78},
    }
    OUT.write_text(json.dumps(result, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
