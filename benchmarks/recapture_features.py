"""The view-averaged pooled features of re-captured copies of every dermoscopy image, through
one model: what a head is fitted on to move less under a re-take, and what its stability is
measured on (``benchmarks.recapture_head``).

- ``draws``: ``--draws`` random re-captures of every dermoscopy row of
  ``benchmarks.origin_features`` (:func:`desktop.recapture.random_recapture`, seeded by the
  image's position and the draw, so a re-run gives the same copies);
- ``fixed``: with ``--fixed ORIGIN``, that origin's images under each of the robustness
  benchmark's re-captures (:data:`desktop.recapture.VARIANTS`).

    python -m benchmarks.recapture_features --model runs/holdout-rosendahl/model.tflite \\
        --out runs/features/holdout-rosendahl --fixed rosendahl

writes ``OUT/recaptures.npz`` (rows aligned with ``OUT/rows.npz`` by ``draw_index`` and
``fixed_index``). About 9 ms an image on one core; nothing is written into a data folder.
"""

from __future__ import annotations

import argparse
import random
import sys
from pathlib import Path

import numpy as np
from PIL import Image

from benchmarks.origin_features import CLINICAL, DATA, rows_for
from desktop.imaging import open_image, preprocess
from desktop.inference import Classifier
from desktop.pipeline import prefetched
from desktop.recapture import VARIANTS, random_recapture

NAME = "recaptures.npz"
SEED = 0


def _pooled(clf: Classifier, img: Image.Image) -> np.ndarray:
    return clf.views(preprocess(img, clf.card.preprocessing)).pooled.astype(np.float32)


def _draws(clf: Classifier, path: Path, position: int, draws: int) -> np.ndarray:
    img = open_image(path, draft_size=None).convert("RGB")
    rngs = [random.Random(f"{SEED}:{position}:{k}") for k in range(draws)]
    return np.stack([_pooled(clf, random_recapture(img, rng)) for rng in rngs])


def _fixed(clf: Classifier, path: Path) -> np.ndarray:
    img = open_image(path, draft_size=None).convert("RGB")
    return np.stack([_pooled(clf, v.make(img)) for v in VARIANTS.values()])


def _run(work, items: list, label: str) -> np.ndarray:  # noqa: ANN001
    out = []
    for i, (_, result) in enumerate(prefetched(work, items)):
        if isinstance(result, BaseException):
            raise SystemExit(f"{label}: {result}")
        out.append(result)
        if (i + 1) % 1000 == 0 or i + 1 == len(items):
            print(f"{label} {i + 1}/{len(items)}", file=sys.stderr, flush=True)
    return np.stack(out, axis=1)  # (draws or variants, n, channels)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default="assets/model.tflite")
    ap.add_argument("--data", default=str(DATA))
    ap.add_argument("--out", required=True)
    ap.add_argument("--draws", type=int, default=1, help="random re-captures per image")
    ap.add_argument("--fixed", help="an origin whose images get every fixed re-capture")
    args = ap.parse_args(argv)
    rows = rows_for(Path(args.data))
    clf = Classifier(args.model, num_threads=1)
    draw_index = np.array([i for i, r in enumerate(rows) if r[2] != CLINICAL])
    saved: dict[str, np.ndarray] = {"draw_index": draw_index, "seed": np.array(SEED)}
    if args.draws > 0:
        saved["draws"] = _run(
            lambda i: _draws(clf, rows[i][0], int(i), args.draws), list(draw_index), "draws"
        )
    if args.fixed:
        fixed_index = np.array([i for i, r in enumerate(rows) if r[2] == args.fixed])
        if not len(fixed_index):
            raise SystemExit(f"no images of origin {args.fixed!r}")
        saved |= {
            "fixed_index": fixed_index,
            "fixed": _run(lambda i: _fixed(clf, rows[i][0]), list(fixed_index), "fixed"),
            "variants": np.array(list(VARIANTS)),
        }
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(out / NAME, **saved)
    print(f"-> {out / NAME}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
