"""Duplicate-aware, stratified hold-out split, made before any augmentation."""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Callable
from pathlib import Path

import numpy as np

from desktop.labelled.dataset import Record


def stratified_group_split(
    records: tuple[Record, ...] | list[Record],
    group_of: dict[Path, int],
    fractions: tuple[float, ...],
    seed: int,
    stratum: Callable[[Record], str] = lambda r: r.label,
) -> list[list[Record]]:
    """Split into ``1 + len(fractions)`` parts: the first is training, then one per fraction.

    Whole duplicate groups are assigned together (no copy of an image straddles the
    split); each group goes to the part whose per-class quota is furthest from full,
    which keeps class proportions close to the requested fractions. Deterministic from ``seed``.
    """
    rng = np.random.default_rng(seed)
    groups: dict[int, list[Record]] = defaultdict(list)
    for r in records:
        groups[group_of.get(r.path, -1 - len(groups))].append(r)
    # The majority stratum of a group (class, or class and source) decides where it counts.
    by_label: dict[str, list[list[Record]]] = defaultdict(list)
    for g in groups.values():
        label = Counter(stratum(r) for r in g).most_common(1)[0][0]
        by_label[label].append(sorted(g, key=lambda r: str(r.path)))
    shares = np.array([1.0 - sum(fractions), *fractions])
    if shares[0] <= 0 or np.any(shares < 0):
        raise ValueError("split fractions must be non-negative and sum to less than 1")
    parts: list[list[Record]] = [[] for _ in shares]
    for label in sorted(by_label):
        label_groups = by_label[label]
        order = rng.permutation(len(label_groups))
        total = sum(len(g) for g in label_groups)
        targets = shares * total
        filled = np.zeros(len(shares))
        # Held-out parts are filled first (largest deficit), training takes the rest.
        for idx in order:
            g = label_groups[idx]
            deficits = targets - filled
            deficits[0] = deficits[0] * 0.999  # ties go to the held-out parts
            k = int(np.argmax(deficits))
            parts[k].extend(g)
            filled[k] += len(g)
    return [sorted(p, key=lambda r: str(r.path)) for p in parts]
