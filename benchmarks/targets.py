"""The speed and size targets (issue 8) and the PASS/FAIL rows measured against them."""

from __future__ import annotations

from pathlib import Path

from benchmarks.common import Result
from benchmarks.report import median

INT8_MS_MAX = 5.0
INT8_SPEEDUP_MIN = 3.0
CLASSIFY_IPS_MIN = 100.0
# `--classify --json` over isic-9class/Train (2,241 images), the card's 8 views, best of two.
CLASSIFY_TRAIN_IPS_MIN = 250.0
MODEL_BYTES_MAX = 1_000_000  # 1 MB, decimal: the stricter reading


def targets(res: Result, model: Path) -> list[Result]:
    """PASS/FAIL against issue 8's targets; None where the number could not be measured."""
    int8 = median(res, "inference_ms", "int8_tflite", "1")
    keras_1 = median(res, "inference_ms", "keras_float", "1")
    speedup = keras_1 / int8 if int8 and keras_1 else None
    ips = median(res, "classify", "images_per_s")
    size = model.stat().st_size if model.is_file() else None
    train = res.get("classify_train") or {}
    train_ips = (train.get("images_per_s") or {}).get("best")

    def row(name: str, target: str, value: float | None, ok: bool | None, unit: str) -> Result:
        return {"name": name, "target": target, "value": value, "unit": unit, "pass": ok}

    return [
        row(
            "int8 latency, 1 thread",
            f"<= {INT8_MS_MAX:g} ms",
            int8,
            None if int8 is None else int8 <= INT8_MS_MAX,
            "ms",
        ),
        row(
            "int8 speed-up vs float Keras, 1 thread",
            f">= {INT8_SPEEDUP_MIN:g}x",
            speedup,
            None if speedup is None else speedup >= INT8_SPEEDUP_MIN,
            "x",
        ),
        row(
            "--classify throughput (whole process)",
            f">= {CLASSIFY_IPS_MIN:g} images/s",
            ips,
            None if ips is None else ips >= CLASSIFY_IPS_MIN,
            "images/s",
        ),
        row(
            f"--classify --json over Train ({train.get('images', '?')} images), best of two",
            f">= {CLASSIFY_TRAIN_IPS_MIN:g} images/s",
            train_ips,
            None if train_ips is None else train_ips >= CLASSIFY_TRAIN_IPS_MIN,
            "images/s",
        ),
        row(
            f"{model.name} size",
            f"<= {MODEL_BYTES_MAX:,} bytes",
            size,
            None if size is None else size <= MODEL_BYTES_MAX,
            "bytes",
        ),
    ]
