"""Lesions with a histology outcome as a labelled data set (``history labelled --to DIR``).

The layout is the plain ``csv`` source that the trainer and the clinic-adaptation command
read (:mod:`desktop.labelled.sources`): ``labels.csv`` with ``image,label,group`` and the
photos beside it in ``images/``. Histology is the only label good enough to learn from, so
only lesions that have one (of the nine classes; "other" has no class to learn) are
written. No patient id or lesion name leaves the store: photos are named by their SHA-256
and the group (one lesion, so a lesion's photos never straddle a train/test split) is a
hash. Photos taken after the histology date (a scar, not the lesion) and photos that could
not be assessed are left out; every photo is checked against its hash before it is copied.
"""

from __future__ import annotations

import csv
import hashlib
import io
import os
import shutil
from dataclasses import dataclass
from pathlib import Path

from desktop.history.images import make_private_dir, make_private_file, sha256_file
from desktop.history.service import OTHER_OUTCOME, History, HistoryError
from desktop.history.store import DamagedPhotoError

LABELS_CSV = "labels.csv"
IMAGES = "images"
GROUP_PREFIX = "lesion-"


@dataclass
class LabelledSummary:
    """What ``write_labelled`` wrote and what it left out (and why)."""

    folder: Path
    csv: Path
    lesions: int = 0
    images: int = 0
    other: int = 0  # lesions whose histology is "other": no class to learn
    after_histology: int = 0  # photos dated after the histology
    not_assessed: int = 0  # photos the model could not assess (poor quality, not dermoscopy)

    def message(self) -> str:
        return (
            f"wrote {self.images} photo(s) of {self.lesions} lesion(s) with histology to "
            f"{self.folder}; left out: {self.other} lesion(s) with histology 'other', "
            f"{self.after_histology} photo(s) taken after the histology, "
            f"{self.not_assessed} photo(s) that could not be assessed"
        )


def lesion_group(patient: str, lesion: str) -> str:
    """A stable group name for one lesion that does not show the patient id or lesion name."""
    digest = hashlib.sha256(f"lesionlens-lesion\0{patient}\0{lesion}".encode()).hexdigest()
    return GROUP_PREFIX + digest[:16]


def write_labelled(history: History, to: Path) -> LabelledSummary:
    """Write every lesion with a histology outcome into ``to`` (a new or empty folder)."""
    to = Path(to)
    if to.exists() and (not to.is_dir() or any(to.iterdir())):
        raise HistoryError(f"{to} is not an empty folder; choose a new or empty one")
    summary = LabelledSummary(to, to / LABELS_CSV)
    rows: list[tuple[str, str, str]] = []
    copies: dict[str, Path] = {}
    for patient in history.patients(limit=10**9):
        for lesion in history.case(patient.code).lesions:
            outcome = lesion.outcome
            if outcome is None:
                continue
            if outcome.diagnosis == OTHER_OUTCOME:
                summary.other += 1
                continue
            group = lesion_group(patient.code, lesion.label)
            before = len(rows)
            for visit in lesion.visits:
                if visit.date > outcome.date:
                    summary.after_histology += 1
                    continue
                current = visit.current
                if current is not None and not current.assessed:
                    summary.not_assessed += 1
                    continue
                path = history.verified_photo(visit.id)
                name = f"{IMAGES}/{visit.image.sha256}{visit.image.ext}"
                copies[name] = path
                rows.append((name, outcome.diagnosis, group))
            summary.lesions += len(rows) > before
    make_private_dir(to)
    make_private_dir(to / IMAGES)
    for name, path in copies.items():
        target = to / name
        shutil.copyfile(path, target)
        make_private_file(target)
        if sha256_file(target) != Path(name).stem:
            raise DamagedPhotoError(f"the copy {target} does not match its SHA-256; write again")
    summary.images = len(rows)
    _write_csv(summary.csv, rows)
    return summary


def _write_csv(path: Path, rows: list[tuple[str, str, str]]) -> None:
    buf = io.StringIO()
    writer = csv.writer(buf)
    writer.writerow(["image", "label", "group"])
    writer.writerows(rows)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8", newline="") as fh:
        fh.write(buf.getvalue())
