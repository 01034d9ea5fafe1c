"""Is a measured ECE distinguishable from perfect calibration on this many images?

A model analysis, not a benchmark. Runs a TFLite model (through the app's own loader
and classifier) on one split of a run and prints its top-label ECE next to the spread
of ECEs a perfectly calibrated model with the same confidences would show on the same
number of images (``trainer.evaluate.ece_sampling_draws``). The split is loaded by the
same function the speed benchmark uses (``benchmarks.run.load_heldout``, i.e. the
trainer's reader and loader). Prints one JSON object on stdout.

    python -m benchmarks.calibration_floor --split runs/crop80/split.json [--model assets/model.tflite]

Every run with the same data and seed has the same split, so the shipped model can be
checked with the split.json of any later run.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks.run import ROOT, load_heldout


def main(model: Path, split_path: Path, split_name: str, target: float) -> dict[str, Any]:
    """ECE of ``model`` on one split and where it falls among perfectly calibrated draws."""
    from desktop.inference import Classifier
    from trainer.evaluate import ece_sampling_draws, expected_calibration_error

    clf = Classifier(model)
    x, y = load_heldout(split_path.parent, clf.card, 0, (split_name,))[split_name]
    probs = np.stack([clf.run(img)[0] for img in x])
    measured = expected_calibration_error(probs, y)
    draws = ece_sampling_draws(probs, draws=2000)
    return {
        "model": str(model),
        "split": split_name,
        "images": len(y),
        "accuracy": float((probs.argmax(1) == y).mean()),
        "ece": measured,
        "calibrated_ece_percentiles_5_50_95": np.percentile(draws, [5, 50, 95]).round(4).tolist(),
        "share_of_calibrated_draws_at_or_below_target": float((draws <= target).mean()),
        "share_of_calibrated_draws_at_or_above_measured": float((draws >= measured).mean()),
        "target": target,
    }


if __name__ == "__main__":
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--model", type=Path, default=ROOT / "assets" / "model.tflite")
    p.add_argument("--split", type=Path, required=True, help="a run's split.json")
    p.add_argument("--split-name", default="internal_test")
    p.add_argument("--target", type=float, default=0.05)
    a = p.parse_args()
    print(json.dumps(main(a.model, a.split, a.split_name, a.target), indent=2))
