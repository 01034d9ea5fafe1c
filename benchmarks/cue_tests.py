"""Cue tests (rim, JPEG q30, sharpen) on a finished run's float Keras model, internal test split.

A model analysis, not a benchmark: the same function the trainer runs at the end of
every run (``trainer.train.cue_tests``), for runs made before it existed. Thin on
purpose: the split is read and decoded by the trainer (``split_records``,
``load_split`` with the run's own cache). Prints one JSON object on stdout.

    python -m benchmarks.cue_tests runs/shipped
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any


def main(run: Path) -> dict[str, Any]:
    """The cue-test figures of ``run``'s saved float model on its internal test split."""
    import keras

    from trainer.config import TrainConfig
    from trainer.data import load_split, split_records
    from trainer.dataset import Record
    from trainer.model_spec import ModelParts  # also registers the custom layers in .keras
    from trainer.train import cue_tests, preprocessing_for

    config = TrainConfig.load(run / "config.json")
    classes = tuple(json.loads((run / "model.json").read_text(encoding="utf-8"))["classes"])
    records = [
        Record(path=p, label=c, split="internal_test")
        for p, c in split_records(run, "internal_test")
    ]
    x, y, _ = load_split(
        records, classes, preprocessing_for(config), run / "cache" / "internal_test.npz"
    )
    model = keras.models.load_model(run / "model.keras", compile=False)
    backbone = next(layer for layer in model.layers if isinstance(layer, keras.Model))
    parts = ModelParts(model=model, backbone=backbone, head=model.get_layer("logits"))
    return cue_tests(parts, x, y, classes)


if __name__ == "__main__":
    if len(sys.argv) != 2:
        raise SystemExit("usage: python -m benchmarks.cue_tests RUN_FOLDER")
    print(json.dumps(main(Path(sys.argv[1])), indent=1))
