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

from desktop.imaging import ImageLoadError, open_image
from desktop.labelled.dataset import Record, file_sha256
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
    items: list[Item]
    excluded: list[dict[str, str]]  # one entry per identity or file left out, with the reason
    cross_source_duplicates: int
    cross_source_conflicts: int
    conflicts_resolved: int
    conflict_examples: list[dict[str, Any]] = field(default_factory=list)
    hashes: dict[Path, str] = field(default_factory=dict, repr=False)

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


def build_identities(
    sources: list[Source], labels: LabelMap, near_duplicates: bool = True, progress: bool = True
) -> Identities:
    from tqdm import tqdm

    records = [r for s in sources for r in s.records]
    excluded: list[dict[str, str]] = []
    ok: list[int] = []
    digests: list[str] = []
    phashes: list[int | None] = []
    areas: list[int] = []
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
        ok.append(i)
        digests.append(d)
        phashes.append(ph)
        areas.append(area)
    n = len(ok)
    same = _UnionFind(n)  # copies of one image
    together = _UnionFind(n)  # must share a side of the split
    first: dict[tuple[str, str], int] = {}
    for k, i in enumerate(ok):
        r = records[i]
        keys = [("sha", digests[k])] + ([("isic", r.isic_id)] if r.isic_id else [])
        for key in keys:
            j = first.setdefault(key, k)
            same.union(j, k)
            together.union(j, k)
        if r.group:
            j = first.setdefault(("group", r.group), k)
            together.union(j, k)
    if near_duplicates and n > 1:
        values = np.array([h or 0 for h in phashes], dtype=np.uint64)
        hashed = np.array([h is not None for h in phashes])
        for k in range(n - 1):
            if not hashed[k]:
                continue
            dist = np.bitwise_count(np.bitwise_xor(values[k + 1 :], values[k]))
            for j in np.nonzero((dist <= NEAR_DUPLICATE_MAX_DISTANCE) & hashed[k + 1 :])[0]:
                m = k + 1 + int(j)
                a, b = records[ok[k]].isic_id, records[ok[m]].isic_id
                together.union(k, m)
                if a is None or b is None or a == b:
                    same.union(k, m)

    members: dict[int, list[int]] = defaultdict(list)
    for k in range(n):
        members[same.find(k)].append(k)
    items: list[Item] = []
    dup = conflicts = resolved = 0
    examples: list[dict[str, Any]] = []
    for ident, (_, ks) in enumerate(sorted(members.items())):
        copies = [records[ok[k]] for k in ks]
        srcs = tuple(sorted({c.source for c in copies}))
        label, disagreed = resolve_label(copies, labels)
        if len(srcs) > 1:
            dup += 1
            cross_disagree = len({c.label for c in copies}) > 1 or disagreed
            if cross_disagree:
                conflicts += 1
                if label is not None:
                    resolved += 1
                if len(examples) < 20:
                    examples.append(
                        {
                            "copies": [f"{c.source}/{c.path.name}: {c.raw_label}" for c in copies],
                            "resolved": label,
                        }
                    )
        if label is None:
            excluded.append(
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
        kept_k = max(ks, key=lambda k: (records[ok[k]].rank, areas[k], -ok[k]))
        kept = records[ok[kept_k]]
        split = "test" if any(c.split == "test" for c in copies) else kept.split
        items.append(
            Item(
                record=replace(kept, label=label, split=split),
                identity=ident,
                group=together.find(kept_k),
                sources=srcs,
                copies=tuple(copies),
            )
        )
        if len(ks) > 1 and len(srcs) == 1:
            excluded.extend(
                {
                    "file": records[ok[k]].path.name,
                    "source": srcs[0],
                    "reason": "copy kept once",
                    "detail": kept.path.name,
                }
                for k in ks
                if k != kept_k
            )
    hashes = {records[i].path: digests[k] for k, i in enumerate(ok)}
    return Identities(items, excluded, dup, conflicts, resolved, examples, hashes)
