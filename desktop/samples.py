"""The shipped sample images and what each one is known to be (``assets/samples/samples.json``).

A newcomer compares the app's answer with the known diagnosis, so the manifest says how the
samples were chosen and each one's data-set label; without a manifest the images in the
folder are still offered, with no known diagnosis. Qt-free: the window lists the samples, and
``python -m trainer samples`` writes the manifest under :data:`MANIFEST`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from desktop.imaging import is_image_path

MANIFEST = "samples.json"


@dataclass(frozen=True)
class Sample:
    path: Path
    diagnosis: str | None = None  # the data set's label; None when the manifest has none


def _manifest(folder: Path) -> dict[str, str]:
    """File name -> known diagnosis; empty when the manifest is missing or malformed."""
    try:
        data = json.loads((folder / MANIFEST).read_text(encoding="utf-8"))
        entries = data["samples"]
        return {
            str(e["file"]): str(e["diagnosis"])
            for e in entries
            if isinstance(e, dict) and e.get("file") and e.get("diagnosis")
        }
    except (OSError, ValueError, KeyError, TypeError):
        return {}


def load_samples(folder: Path | None) -> list[Sample]:
    """The folder's images, sorted by name, each with its known diagnosis when listed."""
    if folder is None or not folder.is_dir():
        return []
    known = _manifest(folder)
    try:
        files = sorted(
            p
            for p in folder.iterdir()
            if p.is_file() and is_image_path(p) and not p.name.startswith(".")
        )
    except OSError:
        return []
    return [Sample(p, known.get(p.name)) for p in files]


def sample_of(folder: Path, diagnosis: str) -> Path:
    """The folder's sample with this known diagnosis (the benchmarks' and screenshots' image,
    whichever the last draw picked); a clear error when the manifest lists none."""
    for s in load_samples(folder):
        if s.diagnosis == diagnosis:
            return s.path
    raise FileNotFoundError(f"no {diagnosis} sample listed in {folder / MANIFEST}")


def known_diagnosis(samples: list[Sample], path: Path | None) -> str | None:
    """The known diagnosis when ``path`` is one of ``samples`` (compared resolved)."""
    if path is None:
        return None
    try:
        target = path.resolve()
    except OSError:
        return None
    for s in samples:
        if s.diagnosis and s.path.resolve() == target:
            return s.diagnosis
    return None
