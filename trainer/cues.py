"""Shortcut analysis: does the model read the lesion, or the archive an image came from?

- :func:`shortcut_check`: recall per class on held-out images from the older ISIC archives
  vs HAM10000 (run at the end of every training run, into ``report.json``).
- :func:`cue_tests`: changes that say nothing about the lesion (a dermoscope rim, heavy JPEG
  compression, sharpening); also ``python -m trainer analyse cues`` on a finished run.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from desktop.card import MELANOMA
from trainer.evaluate import softmax
from trainer.evaluate_run import logits_of

HAM10000_FIRST_ID = 24306  # ISIC_0024306 is the first HAM10000 image; lower ids are older archives


def shortcut_check(prepared, classes, splits, parts) -> dict[str, Any]:
    """Recall per class on held-out images from the older ISIC archives vs HAM10000.

    Classes drawn mostly from one archive let a CNN learn the archive (camera,
    crop, colour) instead of the lesion; a large gap here exposes that shortcut.
    """
    name = "internal_test" if len(prepared.internal_test) else "val"
    x, y, records = splits[name]
    if len(x) == 0 or len(records) != len(x):
        return {}
    pred = logits_of(parts, x).argmax(axis=1)
    out: dict[str, Any] = {"split": name, "per_class": {}}
    for i, c in enumerate(classes):
        row = {}
        for archive, test in (
            ("older_archives", lambda n: n < HAM10000_FIRST_ID),
            ("ham10000", lambda n: n >= HAM10000_FIRST_ID),
        ):
            mask = np.array(
                [
                    y[k] == i
                    and _isic_number(records[k].path.stem) is not None
                    and test(_isic_number(records[k].path.stem))
                    for k in range(len(records))
                ]
            )
            if mask.any():
                row[archive] = {"n": int(mask.sum()), "recall": float((pred[mask] == i).mean())}
        out["per_class"][c] = row
    out["cue_tests"] = cue_tests(parts, x, y, classes)
    return out


def paint_rim(x: np.ndarray, radius: float = 1.0, floor: float = 0.05) -> np.ndarray:
    """The dark round field of view of older dermoscopes, painted on (centred, touching the edges)."""
    from keras import ops

    from trainer.model_spec import rim_mask

    x = np.asarray(x, dtype=np.float32)
    yy, xx = np.meshgrid(
        np.linspace(-1, 1, x.shape[1]), np.linspace(-1, 1, x.shape[2]), indexing="ij"
    )
    mask = ops.convert_to_numpy(rim_mask(yy, xx, 0.0, 0.0, radius, floor)).astype(np.float32)
    return x * mask[None, :, :, None]


def _pil_each(x: np.ndarray, change) -> np.ndarray:
    from PIL import Image

    return np.stack([np.asarray(change(Image.fromarray(i.astype(np.uint8)))) for i in x])


def _jpeg(image, quality: int = 30):
    import io

    from PIL import Image

    buf = io.BytesIO()
    image.save(buf, "JPEG", quality=quality)
    return Image.open(io.BytesIO(buf.getvalue())).convert("RGB")


def _sharpen(image):
    from PIL import ImageFilter

    return image.filter(ImageFilter.UnsharpMask(2, 150, 2))


CUES = {
    "rim": ("dark round dermoscope field of view painted on", paint_rim),
    "jpeg_q30": ("re-encoded as JPEG quality 30", lambda x: _pil_each(x, _jpeg)),
    "sharpen": ("unsharp mask (radius 2, 150 %)", lambda x: _pil_each(x, _sharpen)),
}


def cue_tests(parts, x: np.ndarray, y: np.ndarray, classes: tuple[str, ...]) -> dict[str, Any]:
    """Does a change that says nothing about the lesion move the prediction between archives?

    Melanoma and nevus come only from the older ISIC archives, every other class only
    from HAM10000. Each cue (a dermoscope rim, heavy JPEG compression, sharpening) is
    applied to every held-out image; a model that reads the lesion should not move.
    Reported: accuracy before/after, the share of HAM10000-class images that move to
    melanoma or nevus, and the share of melanoma/nevus images that move away.
    """
    mel = classes.index(MELANOMA)
    older = [i for i, c in enumerate(classes) if c in (MELANOMA, "nevus")]
    if len(x) == 0 or not older:
        return {}
    is_older = np.isin(y, older)
    before = softmax(logits_of(parts, x))
    was = np.isin(before.argmax(1), older)
    out: dict[str, Any] = {}
    for name, (what, change) in CUES.items():
        after = softmax(logits_of(parts, change(x)))
        now = np.isin(after.argmax(1), older)
        out[name] = {
            "change": what,
            "accuracy_before": float((before.argmax(1) == y).mean()),
            "accuracy_after": float((after.argmax(1) == y).mean()),
            "ham10000_moved_to_melanoma_or_nevus": float((now & ~was)[~is_older].mean())
            if (~is_older).any()
            else None,
            "melanoma_or_nevus_moved_away": float((was & ~now)[is_older].mean())
            if is_older.any()
            else None,
            "mean_melanoma_probability_change": float((after[:, mel] - before[:, mel]).mean()),
        }
    return out


def _isic_number(stem: str) -> int | None:
    digits = stem.rsplit("_", 1)[-1]
    return int(digits) if digits.isdigit() else None
