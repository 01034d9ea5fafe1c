"""Operating points beside the melanoma alert: a "high" melanoma grade and a referral prompt
for every other skin cancer (and the pre-cancerous actinic keratosis).

Each point is a threshold on one class's probability, chosen on the validation split from
the same test-time-view-averaged probabilities the melanoma threshold is chosen on, and
stored in the card with what it gave there (``alert.melanoma_high``, ``alert.referrals``).
What it gives on the held-out test split and on a held-out source goes into ``metrics``.

``python -m trainer operating-points`` also recreates a shipped card's validation split
without training (the data stage is deterministic given the card's saved config), checks it
is the same split (counts and data hash), and scores the shipped model over it the app's way.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from desktop.verdict import REFERRAL_CLASSES
from trainer.evaluate import (
    choose_specificity_threshold,
    choose_threshold,
    sensitivity_specificity,
)
from trainer.run_folder import RunFolder, read_json, write_json

REFERRAL_SENSITIVITY = 0.85  # share of each referred cancer the prompt should catch
HIGH_SPECIFICITY = 0.95  # share of other lesions the "high" melanoma grade leaves alone
SPLIT_NAMES = {"internal_test": "held-out test split", "holdout": "held-out source"}


@dataclass(frozen=True)
class OperatingPoints:
    """The thresholds chosen on validation, as the card's ``alert`` entries."""

    melanoma_high: dict[str, float]
    referrals: dict[str, dict[str, float]]

    def card_fields(self) -> dict[str, Any]:
        return {"melanoma_high": self.melanoma_high, "referrals": self.referrals}


def _point(scores: np.ndarray, positive: np.ndarray, threshold: float) -> dict[str, float]:
    sens, spec = sensitivity_specificity(scores, positive, threshold)
    return {
        "threshold": threshold,
        "validation_sensitivity": sens,
        "validation_specificity": spec,
    }


def choose_operating_points(
    probs: np.ndarray,
    y: np.ndarray,
    classes: tuple[str, ...] | list[str],
    melanoma_index: int,
    referral_sensitivity: float = REFERRAL_SENSITIVITY,
    high_specificity: float = HIGH_SPECIFICITY,
) -> OperatingPoints:
    """The "high" melanoma threshold (specificity >= target on validation) and, for each
    referred class with validation images, the threshold reaching the referral sensitivity."""
    mel = probs[:, melanoma_index]
    is_mel = y == melanoma_index
    t_high = choose_specificity_threshold(mel, is_mel, high_specificity)
    high = {**_point(mel, is_mel, t_high), "target_specificity": high_specificity}
    referrals = {}
    for cls in REFERRAL_CLASSES:
        if cls not in classes:
            continue
        i = list(classes).index(cls)
        if not (y == i).any():
            continue  # no validation images of it: no measured point, so no prompt
        t = choose_threshold(probs[:, i], y == i, referral_sensitivity)
        referrals[cls] = {
            **_point(probs[:, i], y == i, t),
            "target_sensitivity": referral_sensitivity,
        }
    return OperatingPoints(high, referrals)


def figures_at(
    probs: np.ndarray,
    y: np.ndarray,
    classes: tuple[str, ...] | list[str],
    melanoma_index: int,
    alert: Mapping[str, Any],
) -> dict[str, Any]:
    """What the card's operating points give on another split (held-out test, held-out
    source): sensitivity, specificity and counts; a class with no images there is left out."""

    def at(i: int, threshold: float) -> dict[str, Any] | None:
        pos = y == i
        if not pos.any() or pos.all():
            return None
        sens, spec = sensitivity_specificity(probs[:, i], pos, threshold)
        return {
            "sensitivity": sens,
            "specificity": spec,
            "images": int(len(y)),
            "positives": int(pos.sum()),
        }

    out: dict[str, Any] = {"images": int(len(y))}
    high = alert.get("melanoma_high")
    if isinstance(high, Mapping) and (fig := at(melanoma_index, float(high["threshold"]))):
        out["melanoma_high"] = fig
    referrals = {}
    for cls, point in (alert.get("referrals") or {}).items():
        if cls in classes and (fig := at(list(classes).index(cls), float(point["threshold"]))):
            referrals[cls] = fig
    out["referrals"] = referrals
    return out


def add_operating_point_figures(
    metrics: dict[str, Any],
    card: Mapping[str, Any],
    probs: Mapping[str, np.ndarray],
    splits: Mapping[str, tuple[np.ndarray, np.ndarray, Any]],
    headline: str,
) -> None:
    """The card's operating points on the headline split (``metrics.operating_points``) and,
    when the run holds a source out, on it (``metrics.out_of_source.operating_points``)."""
    classes, mel = tuple(card["classes"]), card["melanoma_index"]
    if headline in probs:
        figs = figures_at(probs[headline], splits[headline][1], classes, mel, card["alert"])
        metrics["operating_points"] = {"measured_on": headline, **figs}
    if "holdout" in probs and isinstance(metrics.get("out_of_source"), dict):
        figs = figures_at(probs["holdout"], splits["holdout"][1], classes, mel, card["alert"])
        metrics["out_of_source"]["operating_points"] = figs


# The shipped card, without training ------------------------------------------------------


def recreate_split(card: Mapping[str, Any], data_root: Path, run_dir: Path):
    """The data stage of the card's run (sources -> identities -> split, no augmentation),
    checked against the card's split counts and data hash; written into ``run_dir``."""
    from trainer.config import TrainConfig
    from trainer.data import prepare

    saved = dict(card["config"])
    saved["data"] = [str(Path(data_root) / name) for name in saved["data"]]
    config = TrainConfig.from_dict({**saved, "out": str(run_dir), "balance_target": "none"})
    run_dir.mkdir(parents=True, exist_ok=True)
    prepared = prepare(config, run_dir)
    problems = split_differences(prepared, card)
    if problems:
        raise SystemExit("not the shipped model's split: " + "; ".join(problems))
    return prepared


def split_differences(prepared, card: Mapping[str, Any]) -> list[str]:
    """How a recreated split differs from the one the card records (empty: the same)."""
    data = card["training_data"]
    problems = []
    if tuple(card["classes"]) != tuple(prepared.classes):
        problems.append(f"classes {list(prepared.classes)} vs the card's {card['classes']}")
    for name, n in data.get("split", {}).items():
        if len(prepared.split(name)) != n:
            problems.append(f"{name}: {len(prepared.split(name))} images, the card says {n}")
    if prepared.content_hash() != data.get("content_sha256"):
        problems.append("the data hash differs from the card's content_sha256")
    return problems


def shipped_probabilities(
    model: Path, card: dict[str, Any], records: list, run_dir: Path, name: str
) -> tuple[np.ndarray, np.ndarray]:
    """The shipped model over one split, the app's way (``Classifier``, the card's views)."""
    from desktop.preprocessing import Preprocessing
    from trainer.data import load_split
    from trainer.evaluate_run import tflite_probs

    pre = Preprocessing.from_dict(card["preprocessing"])
    folder = RunFolder(run_dir)
    x, y, kept = load_split(records, tuple(card["classes"]), pre, folder.cache(name))
    if len(kept) != len(records):
        raise SystemExit(f"{name}: {len(records) - len(kept)} images could not be read")
    probs = tflite_probs(model, card, x)
    folder.write_probs(name, probs, y)
    return probs, y


def check_reproduces(card: Mapping[str, Any], probs: dict[str, np.ndarray], y: dict) -> list[str]:
    """The card's own melanoma figures, measured again: the scores are the shipped run's."""
    from trainer.evaluate import sensitivity_specificity as ss

    mel, t = card["melanoma_index"], card["alert"]["melanoma_threshold"]
    lines = []
    for name, want in (
        ("val", (card["alert"]["validation_sensitivity"], card["alert"]["validation_specificity"])),
        (
            card["metrics"].get("measured_on"),
            (card["metrics"]["melanoma_sensitivity"], card["metrics"]["melanoma_specificity"]),
        ),
    ):
        if name not in probs:
            continue
        got = ss(probs[name][:, mel], y[name] == mel, t)
        same = np.allclose(got, want, atol=0.002)
        lines.append(
            f"{name}: melanoma sens/spec {got[0]:.4f}/{got[1]:.4f}, card {want[0]:.4f}/"
            f"{want[1]:.4f}{'' if same else '  <-- DIFFERS'}"
        )
        if not same:
            raise SystemExit("the recreated scores do not reproduce the card: " + lines[-1])
    return lines


def main(args: argparse.Namespace) -> int:
    """``python -m trainer operating-points``: choose the points for a shipped card."""
    from trainer.data import log

    card_path = Path(args.model).with_suffix(".json")
    card = read_json(card_path, "model card")
    run_dir = Path(args.run)
    prepared = recreate_split(card, Path(args.data_root), run_dir)
    probs, ys = {}, {}
    for name in ("val", "internal_test"):
        if prepared.split(name):
            probs[name], ys[name] = shipped_probabilities(
                Path(args.model), card, prepared.split(name), run_dir, name
            )
    for line in check_reproduces(card, probs, ys):
        log(line)
    classes, mel = tuple(card["classes"]), card["melanoma_index"]
    points = choose_operating_points(probs["val"], ys["val"], classes, mel)
    result = {"alert": points.card_fields()}
    if "internal_test" in probs:
        result["operating_points"] = {
            "measured_on": "internal_test",
            **figures_at(
                probs["internal_test"], ys["internal_test"], classes, mel, result["alert"]
            ),
        }
    RunFolder(run_dir).write_operating_points(result)
    print(json.dumps(result, indent=2))
    if args.write:
        fresh = read_json(card_path, "model card")  # others may have edited it
        fresh["alert"].update(result["alert"])
        if "operating_points" in result:
            fresh["metrics"]["operating_points"] = result["operating_points"]
        write_json(card_path, fresh)
        log(f"written into {card_path}")
    return 0


def add_parser(sub: Any) -> None:
    p = sub.add_parser(
        "operating-points",
        help="choose the referral and 'high' melanoma thresholds for a shipped model, "
        "on its recreated validation split",
    )
    p.add_argument("--model", default="assets/model.tflite", help="the model (card beside it)")
    p.add_argument("--data-root", required=True, help="folder holding the card's data sources")
    p.add_argument("--run", required=True, help="a scratch run folder (split, cache, scores)")
    p.add_argument("--write", action="store_true", help="write the points into the card")
