"""One identity per image across sources, one label per identity, groups a split must keep whole.

The same ISIC image sits in several sources at other sizes and encodings, so bytes differ:
copies are recognised by ISIC id, by identical bytes, and by a perceptual hash (for files
without an ISIC id). Two files with *different* ISIC ids that look alike are not merged
(the archive says they are two entries) but are kept on one side of any split, as are all
images of one lesion (``lesion_id``).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from desktop.hashing import sha256_file as file_sha256
from desktop.imaging import ImageLoadError, open_image
from desktop.labelled.dataset import Record
from desktop.labelled.labels import LabelMap
from desktop.labelled.sources import Source

NEAR_DUPLICATE_MAX_DISTANCE = 4  # bits of a 64-bit perceptual hash
FLAT_MAX_STD = 2.0  # grey levels: below this an image has no structure for a perceptual hash


@dataclass(frozen=True)
class Item:
    """One image identity: the copy whose pixels are used, its resolved label and group."""

    record: Record  # the kept copy, label resolved
    identity: int
    group: int  # identities sharing a group stay on one side of every split
    sources: tuple[str, ...]  # every source holding a copy
    copies: tuple[Record, ...] = ()  # every copy, labels as read

    @property
    def label(self) -> str:
        return self.record.label

    @property
    def path(self) -> Path:
        return self.record.path

    @property
    def source(self) -> str:
        return self.record.source


@dataclass
class Identities:
    """What :func:`build_identities` found: the identities training may use, what was left
    out and why, and the figures the audit reports."""

    items: list[Item]
    excluded: list[dict[str, str]]  # one entry per identity or file left out, with the reason
    cross_source_duplicates: int
    cross_source_conflicts: int
    conflicts_resolved: int
    conflict_examples: list[dict[str, Any]] = field(default_factory=list)
    hashes: dict[Path, str] = field(default_factory=dict, repr=False)
    # Every identity whose copies were filed under two or more classes, with the label it
    # resolved to (None: left out). Within one source as well as across sources.
    conflicting_labels: list[tuple[tuple[Record, ...], str | None]] = field(
        default_factory=list, repr=False
    )
    train_test_overlap: list[Overlap] = field(default_factory=list, repr=False)

    def summary(self) -> dict[str, Any]:
        reasons: dict[str, int] = defaultdict(int)
        examples: dict[str, str] = {}
        for e in self.excluded:
            reasons[e["reason"]] += 1
            examples.setdefault(e["reason"], f"{e['file']} in {e['source']}: {e['detail']}")
        return {
            "identities": len(self.items),
            "cross_source_duplicates": self.cross_source_duplicates,
            "cross_source_conflicts": self.cross_source_conflicts,
            "cross_source_conflicts_resolved": self.conflicts_resolved,
            "conflict_examples": self.conflict_examples[:10],
            "excluded": dict(sorted(reasons.items())),
            "excluded_examples": dict(sorted(examples.items())),  # one per reason, to go and look
        }


class _UnionFind:
    """Disjoint sets over 0..n-1; the smaller index is a set's root, so results are stable."""

    def __init__(self, n: int) -> None:
        self.parent = list(range(n))

    def find(self, i: int) -> int:
        while self.parent[i] != i:
            self.parent[i] = self.parent[self.parent[i]]
            i = self.parent[i]
        return i

    def union(self, a: int, b: int) -> None:
        ra, rb = self.find(a), self.find(b)
        if ra != rb:
            self.parent[max(ra, rb)] = min(ra, rb)


def _fingerprint(path: Path) -> tuple[str, int | None, int]:
    """(sha256, 64-bit perceptual hash, pixel area of the file); raises ImageLoadError/OSError.

    The hash is None for a flat image (blank, one colour): every flat image hashes alike, so
    a hash match between two of them says nothing about their being one image.
    """
    import imagehash
    from PIL import Image

    digest = file_sha256(path)
    with Image.open(path) as raw:
        area = raw.size[0] * raw.size[1]  # the header's size: draft decoding shrinks
    small = open_image(path, draft_size=64)
    if float(np.asarray(small.convert("L"), dtype=np.float32).std()) < FLAT_MAX_STD:
        return digest, None, area
    bits = imagehash.phash(small).hash.flatten()
    return digest, int("".join("1" if b else "0" for b in bits), 2), area


def resolve_label(copies: list[Record], labels: LabelMap) -> tuple[str | None, bool]:
    """(label, disagreed): the trusted label of one image from all its copies.

    The highest-ranked copies decide; if they disagree the image is left out (None). Lower-ranked
    copies may only *refine* within what the higher ones allow (``akiec`` + a folder saying
    "squamous cell carcinoma" -> squamous cell carcinoma); a lower-ranked copy that contradicts
    is overruled. ``disagreed`` says whether any copy's own label differed from the result.
    """
    by_rank = sorted(copies, key=lambda r: -r.rank)
    allowed: frozenset[str] | None = None
    for rank in sorted({r.rank for r in copies}, reverse=True):
        maps = [m for r in by_rank if r.rank == rank and (m := labels.lookup(r.raw_label))]
        if not maps:
            continue
        if allowed is None:
            allowed = frozenset.intersection(*(m.allows for m in maps))
            if not allowed:
                return None, True  # equally trusted copies contradict: never guess
            continue
        # Lower ranks only refine within what the trusted labels allow; one that contradicts
        # them is overruled, and two at one rank that refine differently leave it coarse.
        narrowed = {allowed & m.allows for m in maps} - {frozenset()}
        if len(narrowed) == 1:
            allowed = narrowed.pop()
    if not allowed:
        return None, True
    if len(allowed) == 1:
        label = next(iter(allowed))
    else:
        defaults = [r.label for r in by_rank if r.label in allowed]
        label = defaults[0] if defaults else sorted(allowed)[0]
    return label, any(r.label != label for r in copies)


@dataclass
class _Fingerprints:
    """The readable records, index ``k`` throughout the phases, with what was measured."""

    records: list[Record]
    order: list[int]  # k -> index among every record read (the tie-breaker of equal copies)
    digests: list[str]
    phashes: list[int | None]
    areas: list[int]


@dataclass
class _Links:
    """Three partitions of the fingerprinted files, coarsest last."""

    same: _UnionFind  # copies of one image: one identity, one label
    alike: _UnionFind  # same, or looks alike under another ISIC id: a Train/Test overlap
    together: _UnionFind  # alike, or one lesion / patient: one side of every split


@dataclass(frozen=True)
class Overlap:
    """A source's own Test/ images that are also in its Train/ (its published split leaks)."""

    source: str
    test: tuple[Record, ...]
    train: tuple[Record, ...]
    near_duplicate: bool  # True when only the look links them (no shared identity)


def build_identities(
    sources: list[Source], labels: LabelMap, near_duplicates: bool = True, progress: bool = True
) -> Identities:
    """One identity per image across sources, its trusted label, and the groups a split keeps
    whole: the heart of the leak-free split.

    Phases: *fingerprint* every file (bytes, perceptual hash, size; unreadable ones are left
    out); *exact union* of files with equal bytes or ISIC id (and lesion / patient groups for
    the split); *near-duplicate union* of files whose perceptual hashes are within
    :data:`NEAR_DUPLICATE_MAX_DISTANCE` bits (one image unless two ISIC ids say otherwise);
    *resolve* each identity's label and the copy whose pixels are used.
    """
    records = [r for s in sources for r in s.records]
    fp, excluded = _fingerprint_all(records, progress)
    links = _exact_union(fp)
    if near_duplicates:
        _near_duplicate_union(fp, links)
    ids = _resolve(fp, links, labels)
    ids.excluded[:0] = excluded  # unreadable files first, as they were found
    ids.train_test_overlap = _train_test_overlap(fp, links)
    return ids


def _fingerprint_all(
    records: list[Record], progress: bool
) -> tuple[_Fingerprints, list[dict[str, str]]]:
    """Fingerprint phase: hash every file once; an unreadable file is left out, with why."""
    from tqdm import tqdm

    fp = _Fingerprints([], [], [], [], [])
    excluded: list[dict[str, str]] = []
    for i, r in enumerate(tqdm(records, desc="identify", unit="img", disable=not progress)):
        try:
            d, ph, area = _fingerprint(r.path)
        except (ImageLoadError, OSError) as exc:
            excluded.append(
                {
                    "file": r.path.name,
                    "source": r.source,
                    "reason": "unreadable",
                    "detail": str(exc).replace(str(r.path), r.path.name),  # no machine paths
                }
            )
            continue
        fp.records.append(r)
        fp.order.append(i)
        fp.digests.append(d)
        fp.phashes.append(ph)
        fp.areas.append(area)
    return fp, excluded


def _exact_union(fp: _Fingerprints) -> _Links:
    """Exact union phase: equal bytes or one ISIC id are one image; a lesion (or patient)
    group only keeps its images on one side of the split."""
    n = len(fp.records)
    links = _Links(_UnionFind(n), _UnionFind(n), _UnionFind(n))
    first: dict[tuple[str, str], int] = {}
    for k, r in enumerate(fp.records):
        keys = [("sha", fp.digests[k])] + ([("isic", r.isic_id)] if r.isic_id else [])
        for key in keys:
            j = first.setdefault(key, k)
            links.same.union(j, k)
            links.alike.union(j, k)
            links.together.union(j, k)
        if r.group:
            j = first.setdefault(("group", r.group), k)
            links.together.union(j, k)
    return links


def _near_duplicate_union(fp: _Fingerprints, links: _Links) -> None:
    """Near-duplicate union phase: files that look alike share a side of the split; they are
    one image unless both carry an ISIC id and the ids differ (the archive's two entries)."""
    n = len(fp.records)
    if n < 2:
        return
    values = np.array([h or 0 for h in fp.phashes], dtype=np.uint64)
    hashed = np.array([h is not None for h in fp.phashes])
    for k in range(n - 1):
        if not hashed[k]:
            continue
        dist = np.bitwise_count(np.bitwise_xor(values[k + 1 :], values[k]))
        for j in np.nonzero((dist <= NEAR_DUPLICATE_MAX_DISTANCE) & hashed[k + 1 :])[0]:
            m = k + 1 + int(j)
            a, b = fp.records[k].isic_id, fp.records[m].isic_id
            links.together.union(k, m)
            links.alike.union(k, m)
            if a is None or b is None or a == b:
                links.same.union(k, m)


def _resolve(fp: _Fingerprints, links: _Links, labels: LabelMap) -> Identities:
    """Resolve phase: one label per identity (or left out when trusted copies contradict),
    the copy whose pixels are used, its split group, and the cross-source figures."""
    members: dict[int, list[int]] = defaultdict(list)
    for k in range(len(fp.records)):
        members[links.same.find(k)].append(k)
    ids = Identities([], [], 0, 0, 0)
    for ident, (_, ks) in enumerate(sorted(members.items())):
        copies = [fp.records[k] for k in ks]
        srcs = tuple(sorted({c.source for c in copies}))
        label, disagreed = resolve_label(copies, labels)
        if len({c.label for c in copies}) > 1:
            ids.conflicting_labels.append((tuple(copies), label))
        if len(srcs) > 1:
            _count_cross_source(ids, copies, label, disagreed)
        if label is None:
            ids.excluded.append(
                {
                    "file": copies[0].path.name,
                    "source": "+".join(srcs),
                    "reason": "conflicting labels",
                    "detail": ", ".join(sorted({c.label for c in copies})),
                }
            )
            continue
        # Pixels from the copy with the most trusted label (the original archive's, e.g. HAM10000
        # rather than a re-filed resized copy), then the largest. Taking the largest alone would
        # give every non-melanocytic class isic-9class's look and melanocytic ones HAM's: a cue.
        kept_k = max(ks, key=lambda k: (fp.records[k].rank, fp.areas[k], -fp.order[k]))
        kept = fp.records[kept_k]
        split = "test" if any(c.split == "test" for c in copies) else kept.split
        ids.items.append(
            Item(
                record=replace(kept, label=label, split=split),
                identity=ident,
                group=links.together.find(kept_k),
                sources=srcs,
                copies=tuple(copies),
            )
        )
        if len(ks) > 1 and len(srcs) == 1:
            ids.excluded.extend(
                {
                    "file": fp.records[k].path.name,
                    "source": srcs[0],
                    "reason": "copy kept once",
                    "detail": kept.path.name,
                }
                for k in ks
                if k != kept_k
            )
    ids.hashes = {r.path: d for r, d in zip(fp.records, fp.digests, strict=True)}
    return ids


def _count_cross_source(
    ids: Identities, copies: list[Record], label: str | None, disagreed: bool
) -> None:
    """One image in several sources; whether they disagree on its class, and how it ended."""
    ids.cross_source_duplicates += 1
    if len({c.label for c in copies}) > 1 or disagreed:
        ids.cross_source_conflicts += 1
        if label is not None:
            ids.conflicts_resolved += 1
        if len(ids.conflict_examples) < 20:
            ids.conflict_examples.append(
                {
                    "copies": [f"{c.source}/{c.path.name}: {c.raw_label}" for c in copies],
                    "resolved": label,
                }
            )


def _train_test_overlap(fp: _Fingerprints, links: _Links) -> list[Overlap]:
    """Per source, the images of its own Test/ that are also (identical, one ISIC id, or
    near-duplicate) in its own Train/: the leak the source's published split carries.

    The split already keeps every such group out of training (a group with a test image is
    test); this only reports it.
    """
    by_look: dict[tuple[int, str], list[int]] = defaultdict(list)
    for k, r in enumerate(fp.records):
        by_look[(links.alike.find(k), r.source)].append(k)
    out: list[Overlap] = []
    for (_, source), ks in sorted(by_look.items()):
        test = [k for k in ks if fp.records[k].split == "test"]
        train = [k for k in ks if fp.records[k].split != "test"]
        if not test or not train:
            continue
        shared = {links.same.find(k) for k in test} & {links.same.find(k) for k in train}
        out.append(
            Overlap(
                source=source,
                test=tuple(fp.records[k] for k in test),
                train=tuple(fp.records[k] for k in train),
                near_duplicate=not shared,
            )
        )
    return out
