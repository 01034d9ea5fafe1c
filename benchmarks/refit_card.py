"""The shipped card written from the refitted head (``benchmarks.refit_head``): its head,
threshold and internal-test figures, and its out-of-source figures from the held-out refits of
runs trained to the card's own recipe (the mean over those origins, and the worst)."""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks.held_out_points import mean_points
from desktop.head import LinearHead
from trainer.config import recipe


def write_card(card_path: Path, r: dict[str, Any], ship: str, held_out: dict[str, Any]) -> None:
    """The shipped card with the ``ship`` head, its validation threshold and test figures; its
    out-of-source figures from the ``held_out`` refits of runs trained to the card's own recipe
    (another recipe's runs say nothing about this model)."""
    card = json.loads(card_path.read_text())
    e = r[ship]
    head: LinearHead = e["head"]
    digest = hashlib.sha256(json.dumps(head.to_dict()).encode()).hexdigest()[:8]
    card.pop("integrity", None)
    network = (card.get("head") or {}).get("network") or {
        "weights": card["cam"]["weights"],
        "bias": card["cam"]["bias"],
        "temperature": card["calibration"]["temperature"],
        "melanoma_threshold": card["alert"]["melanoma_threshold"],
    }
    card["model_version"] = f"{datetime.now(UTC):%Y.%m.%d}-{digest}"
    card["head"] = head.to_dict() | {
        "kind": ship,
        "method": (
            "the network's last layer and a class-balanced multinomial logistic head "
            "refitted on every source's training images, logits averaged"
            if ship == "blend"
            else "a class-balanced multinomial logistic head refitted on every source's "
            "training images"
        )
        + " (ISIC 2020's benign images without a class as partial labels); on the pooled "
        "features averaged over the test-time views"
        + (
            f", each image also as {copies} random re-capture{'s' if copies > 1 else ''} "
            "(framing, distance, focus, exposure, white balance, JPEG) with its label"
            if (copies := r.get("recaptured_copies", 0))
            else ""
        ),
        "penalty": r["penalty"],
        "recaptured_copies": r.get("recaptured_copies", 0),
        "images": r["fit_images"],
        "network_model_version": card["head"].get("network_model_version", card["model_version"])
        if isinstance(card.get("head"), dict)
        else card["model_version"],
        "network": network,
    }
    card["cam"] = {"weights": head.weights.tolist(), "bias": head.bias.tolist()}
    card["calibration"] = {
        "method": "temperature of the head on the validation split",
        "temperature": head.temperature,
    }
    card["alert"] = {
        "melanoma_threshold": e["threshold"],
        "target_sensitivity": 0.9,
        "validation_sensitivity": e["validation"]["sensitivity"],
        "validation_specificity": e["validation"]["specificity"],
    }
    metrics_out: dict[str, Any] = {"measured_on": "internal_test", "model": f"int8, {ship} head"}
    metrics_out |= e["test"]
    metrics_out["ece_sampling_floor"] = card["metrics"].get("ece_sampling_floor")
    held_out = same_recipe(card, held_out)
    if held_out:
        metrics_out["out_of_source"] = out_of_source(held_out, ship)
    else:  # no held-out refit of this recipe yet (make held-out-refits): keep the export's own
        metrics_out["out_of_source"] = card["metrics"].get("out_of_source")
    card["metrics"] = {k: v for k, v in metrics_out.items() if v is not None}
    card_path.write_text(json.dumps(card, indent=2) + "\n")


def same_recipe(card: dict[str, Any], held_out: dict[str, Any]) -> dict[str, Any]:
    """The held-out refits of runs trained to ``card``'s own recipe (another recipe's runs say
    nothing about this model)."""
    ours = recipe(card.get("config") or {})
    return {o: e for o, e in held_out.items() if e.get("recipe") == ours}


def update_out_of_source(card_path: Path, held_out: dict[str, Any]) -> bool:
    """Only the shipped card's out-of-source figures, from the refits of its recipe's held-out
    runs (one that finished after ``make ship``, say); its head, operating points and borderline
    band are left as they are. False, and nothing written, when no refit is of its recipe."""
    card = json.loads(card_path.read_text())
    held = same_recipe(card, held_out)
    if not held:
        return False
    card.pop("integrity", None)  # the seal no longer holds: seal it again
    card["metrics"]["out_of_source"] = out_of_source(held, card["head"]["kind"])
    card_path.write_text(json.dumps(card, indent=2) + "\n")
    return True


def out_of_source(held_out: dict[str, Any], ship: str) -> dict[str, Any]:
    """The card's out-of-source figures: the mean over every origin held out in turn (one
    origin alone would quote whichever clinic happened to be measured first), and the worst."""
    per = {o: e[ship]["holdout"] for o, e in sorted(held_out.items())}

    def mean(key: str) -> float:
        return round(float(np.mean([h[key] for h in per.values()])), 4)

    return {
        "source": f"each of {len(per)} origins held out in turn"
        if len(per) > 1
        else next(iter(per)),
        "origins": list(per),
        "images": int(sum(h["images"] for h in per.values())),
        "accuracy": mean("accuracy"),
        "balanced_accuracy": mean("balanced_accuracy"),
        "melanoma_sensitivity": mean("sensitivity"),
        "melanoma_specificity": mean("specificity"),
        "melanoma_roc_auc": mean("roc_auc"),
        "worst_melanoma_sensitivity": min(h["sensitivity"] for h in per.values()),
        "worst_melanoma_roc_auc": min(h["roc_auc"] for h in per.values()),
        "operating_points": mean_points({o: h.get("operating_points") for o, h in per.items()}),
        "method": "the same recipe with each origin in turn held out of training and of the "
        "head's fit, scored at that model's own threshold (chosen on its validation split); "
        "the mean over the origins",
    }
