"""Data stage of a run: sources -> identities -> leak-free split -> balance -> cached arrays.

Everything is written into the run folder; nothing is ever written into a data folder.
"""

from __future__ import annotations

import hashlib
import io
import json
import sys
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from desktop.imaging import ImageLoadError, load_image, open_image, preprocess
from desktop.labelled.dataset import DatasetError, Record
from desktop.labelled.labels import BENIGN_UNSPECIFIED, CLASSES, LabelMap
from desktop.labelled.sources import Source, read_sources
from desktop.preprocessing import Preprocessing
from trainer.balance import BalanceResult, balance
from trainer.config import TrainConfig
from trainer.identity import Identities, Item, build_identities
from trainer.run_folder import RunFolder, read_cache, write_cache
from trainer.split import stratified_group_split

EVAL_SPLITS = ("val", "internal_test", "test", "holdout")


def log(msg: str) -> None:
    print(f"[trainer] {msg}", file=sys.stderr, flush=True)


@dataclass
class Prepared:
    """The lists of images each stage may use; saved as ``split.json`` in the run."""

    classes: tuple[str, ...]
    sources: list[Source]
    identities: Identities
    train: list[Record]
    augmented: list[Record]
    val: list[Record]
    internal_test: list[Record]
    test: list[Record]  # a source's own Test/ folder, never trained on
    holdout: list[Record]  # every image of the held-out source (out-of-source check)
    balance: BalanceResult
    dropped_with_holdout: int = 0
    extra: dict[str, Any] = field(default_factory=dict)

    def split(self, name: str) -> list[Record]:
        return getattr(self, name)

    def content_hash(self) -> str:
        """Hash of (class, file content) of every image used: which data made this model."""
        h = hashlib.sha256()
        hashes = self.identities.hashes
        for r in sorted(self.train + self.val + self.internal_test, key=lambda r: str(r.path)):
            h.update(f"{r.label}/{hashes.get(r.path, r.path.name)}\n".encode())
        return h.hexdigest()


def prepare(config: TrainConfig, run_dir: Path) -> Prepared:
    """Read, identify, split (before any augmentation) and balance; save every list of files."""
    labels = LabelMap.from_file(config.label_map or None)
    sources = read_sources(list(config.data), labels)
    for s in sources:
        _leave_out_partial_labels(s)
    for s in sources:
        log(
            f"source {s.name} ({s.format}): {len(s.records)} images"
            + (f"; left out: {s.problems}" if s.problems else "")
        )
    ids = build_identities(sources, labels, near_duplicates=config.near_duplicates)
    log(f"identities: {json.dumps(ids.summary())}")
    names = sorted({s.name for s in sources} | {r.origin_name for s in sources for r in s.records})
    if config.holdout_source and config.holdout_source not in names:
        raise DatasetError(
            f"--holdout-source {config.holdout_source!r} is not one of the sources or origins: "
            f"{', '.join(names)}"
        )
    present = [c for c in CLASSES if any(i.label == c for i in ids.items)]
    extra = sorted({i.label for i in ids.items} - set(CLASSES))
    classes = tuple(present + extra)

    holdout, test, pool = [], [], []
    held = config.holdout_source
    held_groups = {i.group for i in ids.items if held and _held_out(i, held)}
    test_groups = {i.group for i in ids.items if i.record.split == "test"}
    dropped = 0
    for item in ids.items:
        if held and _held_out(item, held):
            holdout.append(_copy_from(item, config.holdout_source))
        elif item.group in held_groups:
            dropped += 1  # another image of a held-out lesion: neither trained on nor scored
        elif item.group in test_groups:
            test.append(item.record)
        else:
            pool.append(item.record)
    group_of = {i.record.path: i.group for i in ids.items}
    fractions = (config.val_fraction,) + (
        (config.test_fraction,) if config.test_fraction > 0 else ()
    )
    parts = stratified_group_split(
        pool, group_of, fractions, config.seed, stratum=lambda r: f"{r.label}|{r.source}"
    )
    train, val = parts[0], parts[1]
    internal_test = parts[2] if len(parts) > 2 else []
    if config.all_copies:
        extra = other_copies(ids.items, train, ids.hashes)
        log(f"all copies: {len(extra)} more training images (other sources' copies)")
        train = train + extra
    target: str | int = (
        config.balance_target
        if config.balance_target in ("max", "none")
        else int(config.balance_target)
    )
    folder = RunFolder(run_dir)
    balanced = balance(train, folder.work, target, config.seed, config.balance_max_factor)
    prepared = Prepared(
        classes=classes,
        sources=sources,
        identities=ids,
        train=train,
        augmented=list(balanced.records),
        val=val,
        internal_test=internal_test,
        test=test,
        holdout=holdout,
        balance=balanced,
        dropped_with_holdout=dropped,
    )
    folder.write_audit(audit_summary(sources, ids))
    folder.write_split(split_json(prepared, config))
    folder.write_balance(balanced.before, balanced.after)
    log(
        f"split: {len(train)} train / {len(val)} val / {len(internal_test)} internal test / "
        f"{len(test)} test / {len(holdout)} held-out source ({dropped} more images of held-out "
        f"lesions left out); {len(balanced.records)} augmented"
    )
    return prepared


def other_copies(
    items: list[Item], train: list[Record], hashes: dict[Path, str] | None = None
) -> list[Record]:
    """Every other copy of the training images, with its identity's resolved label.

    The same lesion filed by two sources comes with two looks (another resizing,
    compression or squeeze); training on both teaches the look carries no label. The copies
    share their identity's group, so they stay on the training side of the split. A copy
    filed in a source's own Test/ stays out, and so does one whose bytes (``hashes``: file
    content) are already in training: the same file under two class folders is not a look."""
    from dataclasses import replace

    hashes = hashes or {}
    kept = {r.path for r in train}
    seen = {hashes.get(r.path, r.path) for r in train}
    extra = []
    for item in items:
        if item.path not in kept:
            continue
        for c in item.copies:
            content = hashes.get(c.path, c.path)
            if c.path in kept or content in seen or c.split == "test":
                continue
            extra.append(replace(c, label=item.label))
            kept.add(c.path)
            seen.add(content)
    return extra


def _leave_out_partial_labels(source: Source) -> None:
    """Images known only to be benign (ISIC 2020 ``unknown``) have no class to train on:
    any one of the nine would be a guess. Nine-class training leaves them out (counted);
    the melanoma decision, adaptation and the scope statistics use them after training."""
    kept = [r for r in source.records if r.label != BENIGN_UNSPECIFIED]
    for r in source.records:
        if r.label == BENIGN_UNSPECIFIED:
            source.problem("benign with no class (not used for nine-class training)", r.path.name)
    source.records = kept


def _held_out(item: Item, held: str) -> bool:
    """Whether any copy of the image comes from the held-out source or origin."""
    return held in item.sources or any(c.origin_name == held for c in item.copies)


def _copy_from(item: Item, source: str) -> Record:
    """The held-out source's (or origin's) own copy (its pixels, its look), resolved label."""
    from dataclasses import replace

    for c in item.copies:
        if source in (c.source, c.origin_name):
            return replace(c, label=item.label)
    return item.record


def audit_summary(sources: list[Source], ids: Identities) -> dict[str, Any]:
    """What ``trainer audit --json`` prints and the run saves as ``audit.json``.

    Besides the multi-source figures it keeps the audit's first two promises: images filed
    under two classes (``conflicting_labels``) and a source's own Test/ images also in its
    Train/ (``train_test_overlap``, by identity or near-duplicate). Files are named by path
    inside their source, never by a machine's absolute path.
    """
    roots = {s.name: s.path for s in sources}

    def where(r: Record) -> dict[str, str]:
        return {"source": r.source, "file": _inside(r, roots), "class": r.label, "split": r.split}

    return {
        "sources": [s.summary() for s in sources],
        **ids.summary(),
        "per_class": dict(sorted(Counter(i.label for i in ids.items).items())),
        "per_source_kept": dict(sorted(Counter(i.source for i in ids.items).items())),
        "conflicting_labels": [
            {
                "files": [where(r) for r in copies],
                "classes": sorted({r.label for r in copies}),
                "resolved": label,  # None: left out, never guessed
            }
            for copies, label in ids.conflicting_labels
        ],
        "train_test_overlap": [
            {
                "source": o.source,
                "test": [_inside(r, roots) for r in o.test],
                "train": [_inside(r, roots) for r in o.train],
                "by": "near-duplicate" if o.near_duplicate else "identity",
            }
            for o in ids.train_test_overlap
        ],
    }


def _inside(record: Record, roots: dict[str, Path]) -> str:
    """A file's path inside its source folder (``Train/nevus/ISIC_0000001.jpg``)."""
    root = roots.get(record.source)
    if root is not None and record.path.is_relative_to(root):
        return record.path.relative_to(root).as_posix()
    return record.path.name


def split_json(p: Prepared, config: TrainConfig) -> dict[str, Any]:
    def rows(records: list[Record]) -> list[dict[str, str]]:
        return [{"path": str(r.path), "class": r.label, "source": r.source} for r in records]

    return {
        "seed": config.seed,
        "holdout_source": config.holdout_source,
        "classes": list(p.classes),
        **{name: rows(p.split(name)) for name in ("train", *EVAL_SPLITS)},
        "excluded": p.identities.excluded,
    }


def harmonise(img, side: int, quality: int):
    """Bring a training image to a common resolution and JPEG quality.

    Each source has its own size and compression, and classes come from different sources in
    different shares, so a source's look is a class cue unless training takes it away.
    """
    from PIL import Image

    scale = side / min(img.size)
    if scale < 1:
        img = img.resize(
            (max(1, round(img.width * scale)), max(1, round(img.height * scale))),
            Image.Resampling.BILINEAR,
            reducing_gap=3.0,
        )
    buf = io.BytesIO()
    img.convert("RGB").save(buf, "JPEG", quality=quality)
    return Image.open(io.BytesIO(buf.getvalue())).convert("RGB")


def load_split(
    records: list[Record],
    classes: tuple[str, ...],
    pre: Preprocessing,
    cache: Path,
    harmonise_to: tuple[int, int] | None = None,
) -> tuple[np.ndarray, np.ndarray, list[Record]]:
    """Decode once (with the app's own loader) and cache in the run folder; resumable.

    Training images may be harmonised first; evaluation images never are: they are scored
    exactly as the app will see them.
    """
    from tqdm import tqdm

    key = hashlib.sha256(
        json.dumps(
            [[str(r.path), r.label] for r in records] + [pre.to_dict(), harmonise_to]
        ).encode()
    ).hexdigest()[:16]
    cached = read_cache(cache, key)
    if cached is not None:
        x, y, kept = cached
        keep = set(kept.tolist())
        return x, y, [r for i, r in enumerate(records) if i in keep]
    index = {c: i for i, c in enumerate(classes)}
    xs, ys, kept_idx = [], [], []
    for i, r in enumerate(tqdm(records, desc=f"load {cache.stem}", unit="img", file=sys.stderr)):
        try:
            if harmonise_to:
                img = harmonise(open_image(r.path), *harmonise_to)
                xs.append(preprocess(img, pre))
            else:
                xs.append(load_image(r.path, pre))
        except ImageLoadError:
            continue
        ys.append(index[r.label])
        kept_idx.append(i)
    x = np.stack(xs) if xs else np.zeros((0, pre.size, pre.size, 3), np.uint8)
    y = np.array(ys, dtype=np.int64)
    write_cache(cache, x, y, kept_idx, key)
    return x, y, [records[i] for i in kept_idx]


@dataclass(frozen=True)
class Arrays:
    """A run's decoded images: the (balanced) training set and every evaluation split."""

    x_train: np.ndarray
    y_train: np.ndarray
    splits: dict[str, tuple[np.ndarray, np.ndarray, list[Record]]]  # EVAL_SPLITS, in order
    origins_train: tuple[str, ...] = ()  # each training row's origin; "" for Augmentor's copies

    @property
    def x_val(self) -> np.ndarray:
        return self.splits["val"][0]

    @property
    def y_val(self) -> np.ndarray:
        return self.splits["val"][1]


def load_arrays(
    config: TrainConfig, prepared: Prepared, pre: Preprocessing, run_dir: Path
) -> Arrays:
    """Decode (or read from ``run_dir/cache``) the training images, harmonised when the
    config asks, and every evaluation split as the app sees it."""
    folder = RunFolder(run_dir)
    classes = prepared.classes
    harm = (config.harmonise_side, config.harmonise_quality) if config.harmonise else None
    x_tr, y_tr, kept = load_split(
        prepared.train + prepared.augmented, classes, pre, folder.cache("train"), harm
    )
    splits = {n: load_split(prepared.split(n), classes, pre, folder.cache(n)) for n in EVAL_SPLITS}
    if len(splits["val"][0]) == 0 or len(np.unique(y_tr)) < 2:
        raise SystemExit(
            "not enough images to train and validate: add images or lower --val-fraction"
        )
    origins = tuple("" if r.split == "augmented" else r.origin_name for r in kept)
    return Arrays(x_train=x_tr, y_train=y_tr, splits=splits, origins_train=origins)


def load_run_split(
    run_dir: Path,
    name: str,
    classes: tuple[str, ...],
    pre: Preprocessing,
    cache: Path,
    limit: int = 0,
) -> tuple[np.ndarray, np.ndarray, int]:
    """One split of a finished run decoded for a model (its ``classes`` and preprocessing):
    images, class indices, and how many were listed. ``limit`` keeps that many, spread over
    the list (so over the classes). Tools pass a temporary ``cache``: the run folder stays
    as the run left it."""
    rows = [(p, c) for p, c in RunFolder(run_dir).split_records(name) if c in classes]
    if limit:
        rows = rows[:: max(1, len(rows) // limit)][:limit]
    records = [Record(path=p, label=c, split=name) for p, c in rows]
    x, y, _ = load_split(records, classes, pre, cache)
    return x, y, len(rows)
