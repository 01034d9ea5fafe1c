"""A clinic's labelled images, read in the layouts the trainer reads (read-only).

Class folders named with the nine class names, a plain CSV ``image,label[,group]``, the
public layouts (HAM10000, ISIC 2017/2020, ISIC 2018/2019 one-hot) and the trainer's label
vocabularies, through :mod:`desktop.labelled`. Rows that cannot be used are counted with an
example and left out; a folder in no known layout is a :class:`ClinicDataError` naming the
layouts.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from desktop.labelled.dataset import DatasetError
from desktop.labelled.labels import MELANOMA, LabelMap, allowed
from desktop.labelled.sources import read_sources

# Fewer than this many melanomas, or non-melanomas, and no alert threshold can be trusted.
MIN_PER_SIDE = 20


class ClinicDataError(Exception):
    """The clinic's data cannot be used as given; ``str(err)`` says why and what to do."""


@dataclass
class ClinicData:
    """Every usable labelled image: path, label, group (lesion or patient), and what was
    left out (kind -> count and one example file name)."""

    paths: list[Path]
    labels: list[str]
    groups: list[str]
    left_out: dict[str, dict[str, Any]] = field(default_factory=dict)

    def leave_out(self, kind: str, example: str, count: int = 1) -> None:
        entry = self.left_out.setdefault(kind, {"count": 0, "example": example})
        entry["count"] += count

    def allowed_matrix(self, classes: tuple[str, ...]) -> np.ndarray:
        """(images, classes) bool: the classes each image's label allows."""
        out = np.zeros((len(self.labels), len(classes)), dtype=bool)
        for i, label in enumerate(self.labels):
            for c in allowed(label):
                if c in classes:
                    out[i, classes.index(c)] = True
        return out


def read_clinic(folders: list[str], out: Path) -> ClinicData:
    """Read every ``--data`` folder; refuses an output folder inside one of them."""
    for folder in folders:
        root = Path(folder).expanduser().resolve()
        if out.resolve() == root or out.resolve().is_relative_to(root):
            raise ClinicDataError(
                f"--out {out} lies inside the data folder {root.name}: adaptation never writes "
                "into a clinic's folders; choose an output folder elsewhere"
            )
    try:
        sources = read_sources(folders, LabelMap())
    except DatasetError as exc:
        raise ClinicDataError(str(exc)) from None
    data = ClinicData([], [], [])
    for source in sources:
        for kind, entry in source.problems.items():
            data.leave_out(kind, str(entry.get("example", "")), int(entry.get("count", 1)))
        for r in source.records:
            data.paths.append(r.path)
            data.labels.append(r.label)
            data.groups.append(r.group)
    return data


def shortfall(data: ClinicData, usable: np.ndarray) -> str | None:
    """Why the data cannot set a trustworthy alert, with how many more images are needed."""
    labels = [data.labels[i] for i in usable]
    mel = sum(1 for lab in labels if lab == MELANOMA)
    other = len(labels) - mel
    need = []
    if mel < MIN_PER_SIDE:
        need.append(f"{MIN_PER_SIDE - mel} more melanoma{'s' if MIN_PER_SIDE - mel > 1 else ''}")
    if other < MIN_PER_SIDE:
        need.append(f"{MIN_PER_SIDE - other} more non-melanoma images")
    if not need:
        return None
    return (
        f"too few labelled images to set an alert this clinic can trust: {mel} melanomas and "
        f"{other} other lesions were readable; at least {MIN_PER_SIDE} of each are needed "
        f"({' and '.join(need)})"
    )


def display(path: str | os.PathLike[str]) -> str:
    """A file's name only: reports never carry a clinic's folder structure."""
    return Path(path).name
