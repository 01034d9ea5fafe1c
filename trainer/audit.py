"""Audit a dataset: counts, corrupt files, exact and near duplicates, label conflicts, leakage.

Run on its own (``python -m trainer audit``) and at the start of every training run;
its findings drive what the split and the training are allowed to see.
"""

from __future__ import annotations

import json
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from desktop.imaging import ImageLoadError, open_image
from trainer.dataset import DatasetLayout, Record, file_sha256

NEAR_DUPLICATE_MAX_DISTANCE = 4  # bits of a 64-bit perceptual hash


@dataclass(frozen=True)
class AuditPolicy:
    """What training does with what the audit finds (saved with each run)."""

    drop_conflicting_labels: bool = True
    dedupe_same_class: bool = True
    remove_train_test_overlap: bool = True
    near_duplicates: bool = True


@dataclass
class AuditResult:
    classes: tuple[str, ...]
    per_class: dict[str, dict[str, int]]
    corrupt: list[dict[str, str]]
    duplicate_groups: list[list[Record]]
    near_duplicate_groups: list[list[Record]]
    hashes: dict[Path, str] = field(repr=False)

    @property
    def images(self) -> int:
        return sum(sum(v.values()) for v in self.per_class.values())

    @property
    def conflicting_labels(self) -> list[list[Record]]:
        return [g for g in self.duplicate_groups if len({r.label for r in g}) > 1]

    @property
    def train_test_overlap(self) -> list[list[Record]]:
        return [g for g in self.duplicate_groups if len({r.split for r in g}) > 1]

    def to_json(self) -> dict[str, Any]:
        def group(g: list[Record]) -> dict[str, Any]:
            return {
                "files": [{"path": str(r.path), "class": r.label, "split": r.split} for r in g],
                "classes": sorted({r.label for r in g}),
            }

        return {
            "images": self.images,
            "classes": list(self.classes),
            "per_class": self.per_class,
            "corrupt": self.corrupt,
            "duplicate_groups": [group(g) for g in self.duplicate_groups],
            "conflicting_labels": [group(g) for g in self.conflicting_labels],
            "train_test_overlap": [group(g) for g in self.train_test_overlap],
            "near_duplicate_groups": [group(g) for g in self.near_duplicate_groups],
        }


def _phash(path: Path) -> int | None:
    """64-bit DCT perceptual hash (imagehash), None if the file will not decode."""
    import imagehash

    try:
        img = open_image(path, draft_size=64)
    except ImageLoadError:
        return None
    bits = imagehash.phash(img).hash.flatten()
    return int("".join("1" if b else "0" for b in bits), 2)


def run_audit(
    layout: DatasetLayout, near_duplicates: bool = True, progress: bool = True
) -> AuditResult:
    """Hash and decode every file once; group duplicates by content and by look."""
    from tqdm import tqdm

    records = list(layout.train) + list(layout.test)
    per_class: dict[str, dict[str, int]] = {c: {"train": 0, "test": 0} for c in layout.classes}
    corrupt: list[dict[str, str]] = []
    hashes: dict[Path, str] = {}
    by_hash: dict[str, list[Record]] = defaultdict(list)
    phashes: list[tuple[Record, int]] = []
    for rec in tqdm(records, desc="audit", unit="img", disable=not progress):
        per_class[rec.label][rec.split] += 1
        try:
            digest = file_sha256(rec.path)
        except OSError as exc:
            corrupt.append(
                {"path": str(rec.path), "class": rec.label, "split": rec.split, "reason": str(exc)}
            )
            continue
        try:
            open_image(rec.path, draft_size=64)
        except ImageLoadError as exc:
            corrupt.append(
                {"path": str(rec.path), "class": rec.label, "split": rec.split, "reason": str(exc)}
            )
            continue
        hashes[rec.path] = digest
        by_hash[digest].append(rec)
        if near_duplicates:
            ph = _phash(rec.path)
            if ph is not None:
                phashes.append((rec, ph))
    dup_groups = [g for g in by_hash.values() if len(g) > 1]
    dup_groups.sort(key=lambda g: str(g[0].path))
    near = _near_duplicate_groups(phashes, hashes) if near_duplicates else []
    return AuditResult(
        classes=layout.classes,
        per_class=per_class,
        corrupt=corrupt,
        duplicate_groups=dup_groups,
        near_duplicate_groups=near,
        hashes=hashes,
    )


def _near_duplicate_groups(
    phashes: list[tuple[Record, int]], hashes: dict[Path, str]
) -> list[list[Record]]:
    """Pairs of *different* files whose perceptual hashes differ in few bits, merged into groups."""
    if len(phashes) < 2:
        return []
    values = np.array([h for _, h in phashes], dtype=np.uint64)
    n = len(values)
    parent = list(range(n))

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    for i in range(n - 1):
        xor = np.bitwise_xor(values[i + 1 :], values[i])
        dist = np.array([int(v).bit_count() for v in xor]) if n < 64 else _popcount(xor)
        for j in np.nonzero(dist <= NEAR_DUPLICATE_MAX_DISTANCE)[0]:
            a, b = find(i), find(i + 1 + int(j))
            if a != b:
                parent[b] = a
    groups: dict[int, list[Record]] = defaultdict(list)
    for i, (rec, _) in enumerate(phashes):
        groups[find(i)].append(rec)
    out = []
    for g in groups.values():
        if len({hashes[r.path] for r in g}) > 1:  # more than just exact copies
            out.append(sorted(g, key=lambda r: str(r.path)))
    out.sort(key=lambda g: str(g[0].path))
    return out


def _popcount(x: np.ndarray) -> np.ndarray:
    """Vectorised popcount of uint64 values."""
    b = x.view(np.uint8).reshape(-1, 8)
    return np.unpackbits(b, axis=1).sum(axis=1)


def format_table(result: AuditResult) -> str:
    """Human-readable audit summary."""
    lines = [f"{'class':<30} {'train':>6} {'test':>6}"]
    lines.append("-" * 44)
    for c in result.classes:
        pc = result.per_class[c]
        lines.append(f"{c:<30} {pc['train']:>6} {pc['test']:>6}")
    lines.append("-" * 44)
    lines.append(f"{'images':<30} {result.images:>13}")
    lines.append("")
    lines.append(f"corrupt or unreadable files:        {len(result.corrupt)}")
    lines.append(f"exact duplicate groups:             {len(result.duplicate_groups)}")
    lines.append(f"  filed under different classes:    {len(result.conflicting_labels)}")
    lines.append(f"  present in both Train and Test:   {len(result.train_test_overlap)}")
    lines.append(
        f"near-duplicate groups (phash<={NEAR_DUPLICATE_MAX_DISTANCE}): {len(result.near_duplicate_groups)}"
    )
    for item in result.corrupt[:20]:
        lines.append(f"  corrupt: {item['reason']}")
    for g in result.conflicting_labels[:10]:
        lines.append("  conflict: " + " | ".join(f"{r.label}/{r.path.name}" for r in g))
    return "\n".join(lines)


@dataclass(frozen=True)
class CleanData:
    """The records training may use, the ones it may not (with reasons), and duplicate groups."""

    train: tuple[Record, ...]
    test: tuple[Record, ...]
    excluded: tuple[tuple[Record, str], ...]
    group_of: dict[Path, int]  # records sharing a group must sit on one side of any split


def apply_policy(layout: DatasetLayout, audit: AuditResult, policy: AuditPolicy) -> CleanData:
    """Turn audit findings into the training and test sets, per the documented policy."""
    corrupt = {Path(c["path"]) for c in audit.corrupt}
    excluded: list[tuple[Record, str]] = []
    keep_train: list[Record] = []
    keep_test: list[Record] = []
    skip: set[Path] = set()
    if policy.drop_conflicting_labels:
        for g in audit.conflicting_labels:
            for r in g:
                skip.add(r.path)
                excluded.append(
                    (r, "conflicting labels: " + ", ".join(sorted({x.label for x in g})))
                )
    test_hashes = {audit.hashes[r.path] for r in layout.test if r.path in audit.hashes}
    seen: set[tuple[str, str]] = set()
    for r in layout.train:
        if r.path in corrupt:
            excluded.append((r, "unreadable"))
            continue
        if r.path in skip:
            continue
        digest = audit.hashes[r.path]
        if policy.remove_train_test_overlap and digest in test_hashes:
            excluded.append((r, "also in Test (kept out of training)"))
            continue
        if policy.dedupe_same_class and (digest, r.label) in seen:
            excluded.append((r, "exact duplicate (kept once)"))
            continue
        seen.add((digest, r.label))
        keep_train.append(r)
    seen_test: set[tuple[str, str]] = set()
    for r in layout.test:
        if r.path in corrupt or r.path in skip:
            if r.path in corrupt:
                excluded.append((r, "unreadable"))
            continue
        key = (audit.hashes[r.path], r.label)
        if policy.dedupe_same_class and key in seen_test:
            excluded.append((r, "exact duplicate (kept once)"))
            continue
        seen_test.add(key)
        keep_test.append(r)

    # Groups: exact duplicates share a hash; near-duplicates join them.
    parent: dict[Path, Path] = {}

    def find(p: Path) -> Path:
        while parent.setdefault(p, p) != p:
            parent[p] = parent[parent[p]]
            p = parent[p]
        return p

    by_hash: dict[str, Path] = {}
    for r in keep_train:
        first = by_hash.setdefault(audit.hashes[r.path], r.path)
        parent[find(r.path)] = find(first)
    if policy.near_duplicates:
        for g in audit.near_duplicate_groups:
            for r in g[1:]:
                parent[find(r.path)] = find(g[0].path)
    roots: dict[Path, int] = {}
    group_of = {r.path: roots.setdefault(find(r.path), len(roots)) for r in keep_train}
    return CleanData(tuple(keep_train), tuple(keep_test), tuple(excluded), group_of)


def audit_json(result: AuditResult) -> str:
    return json.dumps(result.to_json(), indent=2)
