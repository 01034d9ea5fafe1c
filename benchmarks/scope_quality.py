"""Image quality on real images: a fixed sample per dermoscopy origin (and every clinical
photo) loaded and measured against the limits of :mod:`desktop.quality`."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from benchmarks.scope_sides import CLINICAL, SEED
from desktop import quality
from desktop.imaging import ImageLoadError, open_image, preprocess
from desktop.pixel_cues import pixel_cues

QUALITY_MIN = 0.995  # target: real dermoscopy passing every limit
QUALITY_SAMPLE = 300  # real images loaded per origin for the quality limits
CHECKS = (*quality.LIMITS, "pixel_cue")  # and the pixel cue, which refuses on its own too


def quality_flags(
    img: Image.Image, arr: np.ndarray, m: quality.QualityMeasures | None = None
) -> dict[str, bool]:
    """Which limit of :mod:`desktop.quality` each picture fails (the app reports the first);
    ``m``: its measures, when taken already. Each limit alone (:func:`desktop.quality.failed_limits`):
    where the white is hard-edged the app gives the pixel cue's reason instead of over-exposure,
    and the pixel cue, counted beside these, refuses that picture either way."""
    return quality.failed_limits(quality.measure(img, arr) if m is None else m)


def sample_paths(data: Path, per_origin: int, seed: int = SEED) -> dict[str, list[Path]]:
    """A fixed random sample of image files per dermoscopy origin, and every clinical photo."""
    from benchmarks.origin_features import rows_for

    by: dict[str, list[Path]] = {}
    for path, _label, origin, _group in rows_for(data):
        by.setdefault(origin, []).append(Path(path))
    rng = np.random.default_rng(seed)
    out = {}
    for origin, paths in sorted(by.items()):
        if origin != CLINICAL and len(paths) > per_origin:
            paths = [paths[i] for i in sorted(rng.choice(len(paths), per_origin, replace=False))]
        out[origin] = paths
    return out


def measure_quality(
    paths: dict[str, list[Path]], pre: Any
) -> tuple[dict[str, Any], dict[str, bool]]:
    """Per origin: share of loaded images passing every quality limit and the pixel cue, and
    per check; the measures' low quantiles (where the limits sit); the same for every re-take
    of the dermoscopy (:class:`Recaptured`); and per clinical file name whether pixels or
    quality alone refuse it."""
    by_origin: dict[str, Any] = {}
    clinical: dict[str, bool] = {}
    recaptured = Recaptured()
    measures: dict[str, list[float]] = {
        k: [] for k in ("sharpness", "bright_level", "burnt_share", "colour")
    }
    for origin, files in paths.items():
        fails = {c: 0 for c in CHECKS}
        n = ok = 0
        for path in files:
            try:
                img = open_image(path)
            except ImageLoadError:
                continue
            arr = preprocess(img, pre)
            m = quality.measure(img, arr)
            flags = {**quality_flags(img, arr, m), "pixel_cue": bool(pixel_cues(arr))}
            n += 1
            ok += not any(flags.values())
            for c, bad in flags.items():
                fails[c] += bad
            if origin == CLINICAL:
                clinical[path.name] = any(flags.values())
            else:
                for key in measures:
                    measures[key].append(getattr(m, key))
                recaptured.add(img, pre)
        by_origin[origin] = {"images": n, "pass_rate": ok / n if n else None, "failed": fails}
    derm = [o for o in by_origin if o != CLINICAL]
    passed = sum(by_origin[o]["pass_rate"] * by_origin[o]["images"] for o in derm)
    total = sum(by_origin[o]["images"] for o in derm)
    qs = (0.001, 0.005, 0.01, 0.05)
    return {
        "limits": quality.limits(),
        "dermoscopy_pass_rate": passed / total if total else None,
        "dermoscopy_images": total,
        "by_origin": by_origin,
        "dermoscopy_quantiles": {
            k: {str(q): float(np.quantile(v, q if k != "burnt_share" else 1 - q)) for q in qs}
            for k, v in measures.items()
            if v
        },
        "recaptured": recaptured.summary(),
    }, clinical


class Recaptured:
    """The same dermoscopy re-taken each way of :mod:`desktop.recapture` (JPEG, half size, light,
    crop, blur...): a limit that refuses a re-take of an image it passed would make the answer
    hinge on how the photo was taken, so each re-take must pass as the originals do."""

    def __init__(self) -> None:
        self.counts: dict[str, dict[str, Any]] = {}

    def add(self, img: Image.Image, pre: Any) -> None:
        from desktop.recapture import VARIANTS

        for name, variant in VARIANTS.items():
            copy = variant.make(img)
            arr = preprocess(copy, pre)
            m = quality.measure(copy, arr)
            flags = {**quality_flags(copy, arr, m), "pixel_cue": bool(pixel_cues(arr))}
            e = self.counts.setdefault(
                name,
                {"what": variant.description, "images": 0, "passed": 0, "failed": {}},
            )
            e["images"] += 1
            e["passed"] += not any(flags.values())
            for c, bad in flags.items():
                e["failed"][c] = e["failed"].get(c, 0) + bad
            e["max_burnt_share"] = max(e.get("max_burnt_share", 0.0), m.burnt_share)

    def summary(self) -> dict[str, Any]:
        """Per re-capture: images, the share passing every limit and the pixel cue, the
        failures per check and the largest burnt-out share."""
        return {
            name: {
                "what": e["what"],
                "images": e["images"],
                "pass_rate": e["passed"] / e["images"] if e["images"] else None,
                "failed": e["failed"],
                "max_burnt_share": e["max_burnt_share"],
            }
            for name, e in self.counts.items()
        }
