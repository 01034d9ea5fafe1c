"""Read each data source in its native layout, recognised from its files (read-only).

Layouts:

- ``folders``: one subfolder per class, optionally under ``Train/`` (and ``Test/``);
- ``ham10000``: a metadata CSV with ``image_id`` and ``dx`` (``lesion_id``, ``dx_type`` optional);
- ``isic2017``: ISIC 2017 Part 3 ground truth (``image_id, melanoma, seborrheic_keratosis``);
- ``isic2020``: SIIM-ISIC 2020 training ground truth (``image_name, patient_id, diagnosis``,
  ``target``); ``patient_id`` groups a patient's images, ``unknown`` is a partial label
  (benign, no class: see :data:`desktop.labelled.labels.BENIGN_UNSPECIFIED`);
- ``isic-onehot``: ISIC 2018/2019 ``GroundTruth.csv`` (``image`` + one-hot class columns);
- ``csv``: a plain ``image,label[,group]`` CSV, paths relative to the CSV.

Rows that cannot be used (a missing file, an unknown label, one id with two labels) are
counted with an example in :attr:`Source.problems` and left out; the run goes on.
"""

from __future__ import annotations

import csv
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from desktop.imaging import is_image_path
from desktop.labelled.dataset import DatasetError, Record, discover
from desktop.labelled.labels import LabelMap, normalise

FORMATS = ("folders", "ham10000", "isic2017", "isic2020", "isic-onehot", "csv")
# Label trust when copies of one image disagree (higher wins): histopathology beats an expert
# challenge ground truth, which beats follow-up/consensus, which beats a folder name.
EVIDENCE_RANK = {"histo": 4, "challenge": 3, "confocal": 2, "consensus": 2, "follow_up": 2}
FOLDER_RANK = 1
ONEHOT_COLUMNS = ("MEL", "NV", "BCC", "AK", "AKIEC", "BKL", "DF", "VASC", "SCC", "UNK")
EXPECTED = (
    "class subfolders (optionally under Train/ and Test/); a HAM10000 metadata CSV "
    "(image_id, dx); ISIC 2017 Part 3 ground-truth CSVs (image_id, melanoma, "
    "seborrheic_keratosis); an ISIC 2020 ground-truth CSV (image_name, patient_id, diagnosis, "
    "target); an ISIC 2018/2019 GroundTruth.csv (image + one-hot columns); "
    "or a CSV with columns image,label[,group]"
)


@dataclass
class Source:
    """One data folder as read: its records and what had to be left out."""

    name: str
    path: Path
    format: str
    records: list[Record] = field(default_factory=list)
    problems: dict[str, dict[str, Any]] = field(default_factory=dict)

    def problem(self, kind: str, example: str) -> None:
        entry = self.problems.setdefault(kind, {"count": 0, "example": example})
        entry["count"] += 1

    def per_class(self) -> dict[str, int]:
        out: dict[str, int] = defaultdict(int)
        for r in self.records:
            out[r.label] += 1
        return dict(sorted(out.items()))

    def summary(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "path": self.path.name,  # never a machine's absolute path in shipped files
            "format": self.format,
            "images": len(self.records),
            "per_class": self.per_class(),
            "problems": self.problems,
        }


def _header(path: Path) -> list[str]:
    try:
        with open(path, newline="", encoding="utf-8-sig") as f:
            return [h.strip() for h in next(csv.reader(f), [])]
    except (OSError, UnicodeDecodeError):
        return []


def _rows(path: Path) -> list[dict[str, str]]:
    """Rows with lower-cased column names: layouts are recognised case-insensitively."""
    with open(path, newline="", encoding="utf-8-sig") as f:
        return [
            {(k or "").strip().lower(): (v or "").strip() for k, v in row.items()}
            for row in csv.DictReader(f)
        ]


def csv_format(path: Path) -> str | None:
    """Which known CSV layout a file is in, from its header."""
    cols = {c.lower() for c in _header(path)}
    if {"image_id", "dx"} <= cols:
        return "ham10000"
    if {"image_id", "melanoma", "seborrheic_keratosis"} <= cols:
        return "isic2017"
    if {"image_name", "diagnosis", "target"} <= cols:
        return "isic2020"
    if "image" in cols and {"mel", "nv"} <= cols:
        return "isic-onehot"
    if {"image", "label"} <= cols:
        return "csv"
    return None


def _image_index(root: Path) -> dict[str, Path]:
    """Image files under a folder by stem (first one in sorted order wins)."""
    index: dict[str, Path] = {}
    for p in sorted(root.rglob("*")):
        if p.is_file() and is_image_path(p):
            index.setdefault(p.stem, p)
            index.setdefault(p.stem.lower(), p)
    return index


def read_source(data: str | Path, labels: LabelMap, name: str | None = None) -> Source:
    """Recognise a folder's layout and read its labelled images."""
    root = Path(data).expanduser().resolve()
    if not root.is_dir():
        raise DatasetError(f"data folder not found: {root}")
    name = name or root.name
    csvs = sorted(p for p in root.glob("*.csv") if p.is_file())
    known = [(p, csv_format(p)) for p in csvs]
    known = [(p, f) for p, f in known if f]
    if known:
        kinds = {f for _, f in known}
        fmt = sorted(kinds)[0] if len(kinds) == 1 else "+".join(sorted(kinds))
        source = Source(name, root, fmt)
        index = _image_index(root)
        for path, f in known:
            _READERS[f](path, index, labels, source)
        _drop_contradictions(source)
        return source
    try:
        # Not strict: one source may hold a single class (a folder of extra melanomas), and an
        # empty class folder is reported, not fatal; the pooled data is checked for training.
        layout = discover(root, strict=False)
    except DatasetError as exc:
        raise DatasetError(
            f"{root.name}: no known layout ({exc}). Expected one of: {EXPECTED}"
        ) from None
    source = Source(name, root, "folders")
    for r in list(layout.train) + list(layout.test):
        _add(source, labels, r.path, r.label, r.split, "", FOLDER_RANK)
    filled = {r.label for r in layout.train}
    for c in layout.classes:
        if c not in filled:
            source.problem("class folder without images", c)
    return source


def _add(
    source: Source,
    labels: LabelMap,
    path: Path,
    raw: str,
    split: str,
    group: str,
    rank: int,
    origin: str = "",
) -> None:
    mapping = labels.lookup(raw)
    if mapping is None:
        source.problem(f"label not in the label map: {raw}", path.name)
        return
    source.records.append(
        Record(
            path=path,
            label=mapping.default,
            split=split,
            source=source.name,
            raw_label=raw,
            group=f"{source.name}:{group}" if group else "",
            rank=rank,
            origin=origin,
        )
    )


def _find(index: dict[str, Path], image: str, csv_path: Path, source: Source) -> Path | None:
    if not image:
        source.problem("row without an image name", csv_path.name)
        return None
    direct = (csv_path.parent / image).resolve()
    if direct.is_file() and direct.is_relative_to(csv_path.parent):
        return direct
    stem = Path(image).stem
    found = index.get(stem) or index.get(stem.lower())
    if found is None:
        source.problem("file named in the CSV not found", image)
    return found


def _read_ham(path: Path, index, labels: LabelMap, source: Source) -> None:
    for row in _rows(path):
        p = _find(index, row.get("image_id", ""), path, source)
        if p is not None:
            rank = EVIDENCE_RANK.get(row.get("dx_type", "").lower(), FOLDER_RANK + 1)
            origin = row.get("dataset", "").strip().lower()
            lesion = row.get("lesion_id", "")
            _add(source, labels, p, row.get("dx", ""), "train", lesion, rank, origin)


def _read_isic2020(path: Path, index, labels: LabelMap, source: Source) -> None:
    """``diagnosis`` names the class; ``target`` (1 = melanoma) must agree with it."""
    for row in _rows(path):
        p = _find(index, row.get("image_name", ""), path, source)
        if p is None:
            continue
        raw = row.get("diagnosis", "")
        target = row.get("target", "")
        if target in ("0", "1") and (target == "1") != (normalise(raw) == "melanoma"):
            source.problem("diagnosis and target disagree", p.name)
            continue
        group = row.get("patient_id", "")
        _add(source, labels, p, raw, "train", group, EVIDENCE_RANK["challenge"])


def _read_isic2017(path: Path, index, labels: LabelMap, source: Source) -> None:
    for row in _rows(path):
        p = _find(index, row.get("image_id", ""), path, source)
        if p is None:
            continue
        try:
            mel, sk = float(row["melanoma"]), float(row["seborrheic_keratosis"])
        except (KeyError, ValueError):
            source.problem("ground-truth flags are not numbers", row.get("image_id", ""))
            continue
        if mel and sk:
            source.problem("both melanoma and seborrheic keratosis flagged", p.name)
            continue
        raw = "melanoma" if mel else "seborrheic keratosis" if sk else "nevus"
        _add(source, labels, p, raw, "train", "", EVIDENCE_RANK["challenge"])


def _read_onehot(path: Path, index, labels: LabelMap, source: Source) -> None:
    for row in _rows(path):
        p = _find(index, row.get("image", ""), path, source)
        if p is None:
            continue
        hot = [c for c in row if c.upper() in ONEHOT_COLUMNS and _truthy(row[c])]
        if len(hot) != 1:
            source.problem("not exactly one class column set", p.name)
            continue
        _add(source, labels, p, hot[0].upper(), "train", "", EVIDENCE_RANK["challenge"])


def _read_plain(path: Path, index, labels: LabelMap, source: Source) -> None:
    for row in _rows(path):
        p = _find(index, row.get("image", ""), path, source)
        if p is not None:
            _add(
                source, labels, p, row.get("label", ""), "train", row.get("group", ""), FOLDER_RANK
            )


def _truthy(value: str) -> bool:
    try:
        return float(value) >= 0.5
    except ValueError:
        return False


def _drop_contradictions(source: Source) -> None:
    """One file listed twice with two different classes: both left out (never guessed)."""
    labels_of: dict[Path, set[str]] = defaultdict(set)
    for r in source.records:
        labels_of[r.path].add(r.label)
    keep, seen = [], set()
    for r in source.records:
        if len(labels_of[r.path]) > 1:
            if r.path not in seen:
                source.problem("one image listed with two classes", r.path.name)
                seen.add(r.path)
            continue
        if r.path in seen:
            continue  # the same row twice: keep one
        seen.add(r.path)
        keep.append(r)
    source.records = keep


_READERS = {
    "ham10000": _read_ham,
    "isic2017": _read_isic2017,
    "isic2020": _read_isic2020,
    "isic-onehot": _read_onehot,
    "csv": _read_plain,
}


def read_sources(folders: list[str] | tuple[str, ...], labels: LabelMap) -> list[Source]:
    """Every ``--data`` folder; names made unique; an empty source is kept and reported."""
    out: list[Source] = []
    names: set[str] = set()
    for folder in folders:
        base = Path(folder).expanduser().resolve().name or "data"
        name, k = base, 2
        while name in names:
            name, k = f"{base}-{k}", k + 1
        names.add(name)
        src = read_source(folder, labels, name)
        if not src.records:
            src.problem("no usable images in this source", src.path.name)
        out.append(src)
    if not any(s.records for s in out):
        raise DatasetError(
            "no usable labelled images in any data folder. Expected one of: " + EXPECTED
        )
    return out


# Licence and citation of the public sources the trainer knows, by format (or folder name).
TERMS = {
    "ham10000": {
        "licence": "CC BY-NC-SA 4.0",
        "citation": "Tschandl P, Rosendahl C, Kittler H. The HAM10000 dataset, a large collection of "
        "multi-source dermatoscopic images of common pigmented skin lesions. Sci Data 5, 180161 (2018).",
    },
    "isic2017": {
        "licence": "ISIC Archive terms (CC-BY-NC)",
        "citation": "Codella NCF et al. Skin lesion analysis toward melanoma detection: a challenge at "
        "the 2017 ISBI, hosted by the ISIC. ISBI 2018.",
    },
    "isic2020": {
        "licence": "CC BY-NC 4.0 (ISIC Archive)",
        "citation": "Rotemberg V et al. A patient-centric dataset of images and metadata for "
        "identifying melanomas using clinical context. Sci Data 8, 34 (2021). "
        "doi:10.34970/2020-ds01",
    },
    "isic-9class": {
        "licence": "ISIC Archive terms (CC-BY-NC)",
        "citation": "The International Skin Imaging Collaboration (ISIC) Archive, as sorted into the "
        "Kaggle set 'Skin cancer ISIC The International Skin Imaging Collaboration'.",
    },
}


def source_terms(source: Source) -> dict[str, str]:
    """Licence and citation for the card; 'unknown' rather than a guess."""
    return (
        TERMS.get(source.format)
        or TERMS.get(source.name)
        or {
            "licence": "unknown: check the source's terms",
            "citation": "",
        }
    )
