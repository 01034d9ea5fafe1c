"""Cue tests (rim, JPEG q30, sharpen) on a finished run's float Keras model, internal test split.

The same function the trainer runs at the end of every run (`trainer.train.cue_tests`),
for runs made before it existed. Prints one JSON object on stdout.

    python benchmarks/cue_tests.py runs/shipped
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))


def main(run: Path) -> dict:
    import keras

    import trainer.model_spec  # noqa: F401  registers the custom layer saved in .keras
    from trainer.config import TrainConfig
    from trainer.data import load_split, split_records
    from trainer.dataset import Record
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

    class Parts:  # what logits_of needs: the model and the head's width
        pass

    parts = Parts()
    parts.model, parts.head = model, model.get_layer("logits")
    return cue_tests(parts, x, y, classes)


if __name__ == "__main__":
    if len(sys.argv) != 2:
        raise SystemExit("usage: python benchmarks/cue_tests.py RUN_FOLDER")
    print(json.dumps(main(Path(sys.argv[1])), indent=1))
