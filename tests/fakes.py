"""A stand-in for :class:`desktop.inference.Classifier` with exact, chosen probabilities.

Qt-free and TensorFlow-free, so it can also be loaded in a subprocess that
checks which modules the command line imports. It decodes files with the real
loader, so unreadable files fail exactly as they do in the product.
"""

from __future__ import annotations

import io
import json
import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from desktop import imaging
from desktop.card import ModelCard
from desktop.imaging import preprocess
from desktop.inference import assess_quality, assess_scope
from desktop.labelled.labels import CLASSES
from desktop.prediction import Prediction
from desktop.quality import quality_cautions
from desktop.scope import OUT_OF_SCOPE_REASON

REPO = Path(__file__).resolve().parent.parent


def fresh_python(
    script: str,
    *args: str,
    timeout: float = 120,
    env: Mapping[str, str] | None = None,
    wait: bool = True,
) -> Any:
    """``python -c SCRIPT ARGS`` in a new interpreter started in the repository root.

    Used where a test must see a clean ``sys.modules`` (pytest-qt has imported PySide6
    here) or kill the process. The checkout is importable there as it is for
    ``python -m desktop``, with no ``sys.path`` edit in the script. ``wait=False``
    returns the running ``Popen``.
    """
    cmd = [sys.executable, "-c", textwrap.dedent(script), *args]
    full_env = {**os.environ, **(env or {})}
    if not wait:
        return subprocess.Popen(
            cmd, cwd=REPO, env=full_env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
    return subprocess.run(
        cmd, cwd=REPO, env=full_env, capture_output=True, text=True, timeout=timeout
    )


ISIC_CLASSES = CLASSES  # the nine classes, as the trainer's label map names them


def card_dict(
    threshold: float = 0.3,
    min_top: float = 0.5,
    classes: Sequence[str] = ISIC_CLASSES,
    size: int = 32,
    metrics: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """A complete, valid model card (``model.json``) for tests."""
    channels = 4
    return {
        "format_version": 1,
        "model_version": "test-1",
        "classes": list(classes),
        "melanoma_index": list(classes).index("melanoma"),
        "input": {"name": "image", "size": size},
        "preprocessing": {"size": size, "resize": "center_crop", "color_constancy": "none"},
        "outputs": {"probabilities": "probs", "features": "features"},
        "calibration": {"temperature": 1.0},
        "alert": {"melanoma_threshold": threshold},
        "uncertainty": {"min_top_probability": min_top},
        "cam": {
            "weights": [[0.1] * len(classes) for _ in range(channels)],
            "bias": [0.0] * len(classes),
        },
        "metrics": dict(metrics)
        if metrics is not None
        else {"balanced_accuracy": 0.612, "melanoma_sensitivity": 0.83},
        "training_data": "synthetic test data",
        "trainer_version": "0.0-test",
        "created": "2025-01-01T00:00:00Z",
        "intended_use": "Tests only.",
        "limitations": "Not a model.",
        "base_model": {"architecture": "EfficientNet-Lite0", "license": "Apache-2.0"},
    }


def make_card(**kwargs: Any) -> ModelCard:
    return ModelCard.from_dict(card_dict(**kwargs))


def probs_for(classes: Sequence[str], **named: float) -> list[float]:
    """Exact probabilities by class name; the rest of the mass is spread evenly."""
    keys = {k.replace("_", " "): v for k, v in named.items()}
    rest = [c for c in classes if c not in keys]
    left = 1.0 - sum(keys.values())
    return [keys[c] if c in keys else left / len(rest) for c in classes]


class FakeClassifier:
    """Same interface as ``Classifier``: ``card``, ``model_name``, ``predict_image``.

    ``probabilities`` is used for every image unless ``by_size`` maps the
    decoded image's (width, height) to its own (the loader drops file names,
    so tests tell images apart by size; use PNG, JPEG drafts change sizes). Every call records the thread it
    ran on, so tests can prove inference is off the UI thread.
    """

    def __init__(
        self,
        probabilities: Sequence[float] | None = None,
        card: ModelCard | None = None,
        by_size: Mapping[tuple[int, int], Sequence[float]] | None = None,
        delay_s: float = 0.0,
        out_of_scope: Sequence[tuple[int, int]] = (),
    ) -> None:
        self.card = card if card is not None else make_card()
        n = self.card.num_classes
        self.probabilities = (
            list(probabilities)
            if probabilities is not None
            else probs_for(self.card.classes, nevus=0.8)
        )
        assert len(self.probabilities) == n
        self.by_size = {tuple(k): v for k, v in (by_size or {}).items()}
        self.delay_s = delay_s
        # Image sizes the "model" finds unlike dermoscopy (the real one measures a distance).
        self.out_of_scope = {tuple(k) for k in out_of_scope}
        self.threads: list[int] = []
        self.calls = 0
        self._next_name: str | None = None
        self._lock = threading.Lock()

    @property
    def model_name(self) -> str:
        return f"fake.tflite ({self.card.model_version})"

    def _prediction(self, img: Image.Image, with_cam: bool) -> Prediction:
        with self._lock:
            self.threads.append(threading.get_ident())
            self.calls += 1
        if self.delay_s:
            time.sleep(self.delay_s)
        arr = preprocess(img.convert("RGB"), self.card.preprocessing)
        probs = np.asarray(self.by_size.get(img.size, self.probabilities), dtype=np.float64)
        size = self.card.input_size
        yy, xx = np.mgrid[0:size, 0:size]
        cam = np.exp(-((xx - size / 2) ** 2 + (yy - size / 2) ** 2) / (2 * (size / 5) ** 2))
        quality = assess_quality(img, arr)
        scope, _ = assess_scope(arr, None, self.card)  # pixel cues, as the real classifier
        if img.size in self.out_of_scope and not scope:
            scope = (OUT_OF_SCOPE_REASON,)
        with_cam = with_cam and not (quality or scope)  # as the real one: no class, no map
        return Prediction.for_card(
            self.card,
            probs,
            quality_issues=quality,
            cam=cam.astype(np.float32) if with_cam else None,
            elapsed_ms=1.5,
            cams=class_maps(self.card.num_classes) if with_cam else None,
            scope_issues=scope,
            cautions=() if quality else quality_cautions(arr, self.card.soft_focus),
        )

    def predict_image(self, img: Image.Image, with_cam: bool = True) -> Prediction:
        return self._prediction(img, with_cam)


def class_maps(n: int, size: int = 8) -> np.ndarray:
    """One blob per class at its own place on a 3x3 grid, so tests can tell the maps apart."""
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32)
    out = np.zeros((n, size, size), dtype=np.float32)
    for k in range(n):
        cy, cx = (k // 3 % 3 + 0.5) * size / 3, (k % 3 + 0.5) * size / 3
        out[k] = np.exp(-((xx - cx) ** 2 + (yy - cy) ** 2) / 2.0)
    return out / out.max(axis=(1, 2), keepdims=True)


def lesion_image(size: int = 200, seed: int = 0) -> Image.Image:
    """A textured synthetic 'lesion' that passes the image-quality checks."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:size, 0:size]
    d = np.sqrt((xx - size / 2) ** 2 + (yy - size / 2) ** 2) / (size / 2)
    base = np.stack([220 - 120 * (d < 0.5), 180 - 110 * (d < 0.5), 150 - 90 * (d < 0.5)], -1)
    arr = np.clip(base + rng.normal(0, 10, base.shape), 0, 255).astype(np.uint8)
    return Image.fromarray(arr, mode="RGB")


def write_images(folder: Path, names: Sequence[str], size: int = 200) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    out = []
    for i, name in enumerate(names):
        p = folder / name
        lesion_image(size, seed=i).save(p)
        out.append(p)
    return out


def tree_hash(root: Path) -> str:
    """Names and bytes of every file under ``root``: proves a folder was left untouched."""
    import hashlib

    h = hashlib.sha256()
    for p in sorted(root.rglob("*")):
        h.update(str(p.relative_to(root)).encode())
        if p.is_file():
            h.update(p.read_bytes())
    return h.hexdigest()


def portable_case(case: Mapping[str, Any]) -> dict[str, Any]:
    """A stored case without what differs between two stores (row ids, image file paths),
    so an exported and re-imported case can be compared with the original."""
    out = json.loads(json.dumps(case))
    for lesion in out["lesions"]:
        lesion.pop("id")
        for visit in lesion["visits"]:
            visit.pop("id")
            visit["image"].pop("file")
            for r in visit["results"]:
                r.pop("id")
    return out


def crashing_decoder(monkeypatch: Any) -> None:
    """Make ``_decode`` die as native code does (SIGSEGV) on bytes ending in ``CRASH``, but
    only in a child: in this process it raises, so a test shows where it would have died."""
    parent, real = os.getpid(), imaging._decode

    def decode(source, name, draft_size):  # noqa: ANN001, ANN202
        data = source.getvalue() if isinstance(source, io.BytesIO) else Path(source).read_bytes()
        if data.endswith(b"CRASH"):
            if os.getpid() != parent:
                os.kill(os.getpid(), signal.SIGSEGV)
            raise AssertionError("decoded in the caller's own process")
        return real(source, name, draft_size)

    monkeypatch.setattr(imaging, "_decode", decode)
