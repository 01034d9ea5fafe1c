"""Find the labelled images in a dataset folder (read-only: nothing is ever written there)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from desktop.imaging import is_image_path

ISIC_ID = re.compile(r"isic_\d{7}", re.IGNORECASE)


def isic_id(text: str) -> str | None:
    """``ISIC_0024306`` wherever it occurs in ``text`` (a file name), upper-cased; else None."""
    m = ISIC_ID.search(text)
    return m.group(0).upper() if m else None


class DatasetError(Exception):
    """A dataset layout the trainer cannot use; the message says how to fix it."""


@dataclass(frozen=True)
class Record:
    """One image file: where it is, which split folder and class it was filed under."""

    path: Path
    label: str
    split: str  # "train" or "test": the folder it came from, not our own split
    source: str = ""  # the source (data folder) it was read from
    raw_label: str = ""  # the label in the source's own vocabulary
    group: str = ""  # lesion id (HAM10000) or CSV group: images that must stay together
    rank: int = 1  # how much the label is trusted (desktop.labelled.sources.EVIDENCE_RANK)
    # The clinic and dermatoscope within a source (HAM10000's ``dataset`` column); empty when
    # the source is one origin. See :attr:`origin_name`.
    origin: str = ""

    @property
    def origin_name(self) -> str:
        """The origin for leave-one-origin-out: HAM10000's clinic, else the source's name."""
        return self.origin or self.source

    @property
    def image_id(self) -> str:
        return self.path.stem

    @property
    def isic_id(self) -> str | None:
        """``ISIC_0024306`` wherever it occurs in the file name; None for other names."""
        return isic_id(self.path.stem)


@dataclass(frozen=True)
class DatasetLayout:
    root: Path
    classes: tuple[str, ...]
    train: tuple[Record, ...]
    test: tuple[Record, ...]


def _class_dirs(folder: Path) -> list[Path]:
    return sorted(
        (d for d in folder.iterdir() if d.is_dir() and not d.name.startswith(".")),
        key=lambda d: d.name,
    )


def _records(folder: Path, split: str) -> list[Record]:
    out: list[Record] = []
    for class_dir in _class_dirs(folder):
        files = sorted(p for p in class_dir.rglob("*") if p.is_file() and is_image_path(p))
        out.extend(Record(path=p, label=class_dir.name, split=split) for p in files)
    return out


def discover(data: str | Path, strict: bool = True) -> DatasetLayout:
    """Read a folder of class subfolders, or a Kaggle-style folder with ``Train/`` (+ ``Test/``).

    Class names are the sorted folder names; Train and Test must agree. ``strict`` also
    requires two or more classes and no empty class folder (a folder trained on alone); one
    source among several may hold a single class, and empty folders are the caller's to report.
    """
    root = Path(data).expanduser().resolve()
    if not root.is_dir():
        raise DatasetError(f"dataset folder not found: {root}")
    subdirs = {d.name.lower(): d for d in _class_dirs(root)}
    if "train" in subdirs:
        train_dir, test_dir = subdirs["train"], subdirs.get("test")
    else:
        train_dir, test_dir = root, None
    train_classes = [d.name for d in _class_dirs(train_dir)]
    if not train_classes:
        raise DatasetError(f"no class folders in {train_dir}: expected one subfolder per class")
    train = _records(train_dir, "train")
    test: list[Record] = []
    if test_dir is not None:
        test_classes = [d.name for d in _class_dirs(test_dir)]
        if test_classes != train_classes:
            only_train = sorted(set(train_classes) - set(test_classes))
            only_test = sorted(set(test_classes) - set(train_classes))
            raise DatasetError(
                "Train and Test have different classes"
                + (f"; only in Train: {', '.join(only_train)}" if only_train else "")
                + (f"; only in Test: {', '.join(only_test)}" if only_test else "")
            )
        test = _records(test_dir, "test")
    counts = {c: 0 for c in train_classes}
    for r in train:
        counts[r.label] += 1
    empty = [c for c, n in counts.items() if n == 0]
    if strict and empty:
        raise DatasetError(f"class folder(s) with no images: {', '.join(empty)}")
    if strict and len(train_classes) < 2:
        raise DatasetError(f"need at least two classes to train, found only {train_classes[0]!r}")
    return DatasetLayout(
        root=root, classes=tuple(train_classes), train=tuple(train), test=tuple(test)
    )
