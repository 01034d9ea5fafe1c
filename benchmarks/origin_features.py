"""Every labelled dermoscopy image of the data sources, and the clinical photos, through one
model: view-averaged probabilities, pooled features and descriptors, with each image's origin.

The experiments on clinic adaptation (``benchmarks.adaptation``) and on the "is this
dermoscopy" decision (``benchmarks.scope``) fit on these rows. Origins are HAM10000's four
``dataset`` values and every other source by name (leave-one-origin-out).

    python -m benchmarks.origin_features --model assets/model.tflite --out runs/features/shipped

writes ``OUT/rows.npz`` (labels, origins, groups, probabilities, pooled, descriptors: the
spatial statistics ``desktop.descriptor.describe`` gives the "is this dermoscopy" decision) and keeps a feature
cache in ``OUT`` so a re-run only extracts new images. Nothing is written into a data folder.
"""

from __future__ import annotations

import argparse
import csv
import sys
from pathlib import Path

import numpy as np

from desktop.features import extract
from desktop.inference import Classifier
from desktop.labelled.labels import LabelMap
from desktop.labelled.sources import read_sources

DATA = Path(__file__).resolve().parent.parent.parent / "shared" / "data"
SOURCES = ("isic-9class", "ham10000", "isic2017", "isic2020")
CLINICAL = "clinical-photos"
NOT_DERMOSCOPY = "not dermoscopy"


def rows_for(data: Path) -> list[tuple[Path, str, str, str]]:
    """(path, label, origin, group) for every labelled dermoscopy image and clinical photo."""
    sources = read_sources([str(data / s) for s in SOURCES if (data / s).is_dir()], LabelMap())
    out = [
        (r.path, r.label, r.origin_name, r.group or f"{r.source}:{r.path.stem}")
        for s in sources
        for r in s.records
    ]
    out += [(path, NOT_DERMOSCOPY, CLINICAL, group) for path, group in clinical_photos(data)]
    return out


def clinical_photos(data: Path) -> list[tuple[Path, str]]:
    """(path, group) of every clinical photo listed in ``clinical-photos/labels.csv``; the
    group is the photo's topic (acne, psoriasis…), which cross-validation leaves out whole."""
    labels = data / CLINICAL / "labels.csv"
    if not labels.is_file():
        return []
    with open(labels, newline="", encoding="utf-8") as fh:
        return [
            ((data / CLINICAL / row["image"]).resolve(), f"{CLINICAL}:{row['topic']}")
            for row in csv.DictReader(fh)
        ]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default="assets/model.tflite")
    ap.add_argument("--data", default=str(DATA))
    ap.add_argument("--out", required=True)
    args = ap.parse_args(argv)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    rows = rows_for(Path(args.data))
    clf = Classifier(args.model, num_threads=1)

    def progress(done: int, total: int) -> None:
        if done % 500 == 0 or done == total:
            print(f"{done}/{total}", file=sys.stderr, flush=True)

    feats = extract(clf, [r[0] for r in rows], cache_dir=out, progress=progress)
    keep = [rows[i] for i in feats.index]
    lesion = clf.card.descriptor_width
    general = {}  # a card with a general network: its features apart, after the descriptors
    if feats.descriptors.shape[1] > lesion:
        general["general"] = feats.descriptors[:, lesion:].astype(np.float32)
        general["general_sha256"] = np.array(clf.card.general.sha256)  # which network
    np.savez_compressed(
        out / "rows.npz",
        labels=np.array([r[1] for r in keep]),
        origins=np.array([r[2] for r in keep]),
        groups=np.array([r[3] for r in keep]),
        names=np.array([r[0].name for r in keep]),
        hashes=np.array(feats.hashes),
        probabilities=feats.probabilities,
        pooled=feats.pooled,
        # what the scope reads; float32: half the size
        descriptors=feats.descriptors[:, :lesion].astype(np.float32),
        classes=np.array(clf.card.classes),
        **general,
    )
    print(f"{len(keep)} rows, {len(feats.errors)} unreadable -> {out / 'rows.npz'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
