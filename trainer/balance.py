"""Balance the training split with Augmentor, inside the run's own work folder.

Only training images are copied and augmented: validation and test images never
are. Outputs are PNG, not JPEG, so that augmented copies do not carry an extra
round of JPEG artefacts that a network could learn as a "minority class" cue.
"""

from __future__ import annotations

import contextlib
import random
import shutil
import sys
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from desktop.hashing import sha256_file as file_sha256
from desktop.imaging import is_image_path
from desktop.labelled.dataset import Record

if TYPE_CHECKING:
    from trainer.config import TrainConfig


@dataclass(frozen=True)
class BalanceResult:
    records: tuple[Record, ...]  # the generated samples (label = class they were made for)
    before: dict[str, int]
    after: dict[str, int]


def target_counts(
    counts: dict[str, int], target: str | int, max_factor: int | None = None
) -> dict[str, int]:
    """Per-class totals to reach: "max" matches the largest class, an int is a floor, "none" adds nothing.

    ``max_factor`` caps any class at that many times its own images: two images
    copied 160 times teach the network those two images, not the class.
    """
    if target == "none":
        return dict(counts)
    goal = max(counts.values()) if target == "max" else int(target)
    return {
        c: max(n, goal if max_factor is None else min(goal, n * max_factor))
        for c, n in counts.items()
    }


def build_pipeline(source: Path, output: Path):
    """Dermoscopy-safe Augmentor operations: geometry and mild photometric change only.

    No elastic distortion, shear or skew: they change a lesion's shape and border,
    which are clinical signs (asymmetry, border irregularity).
    """
    import Augmentor

    p = Augmentor.Pipeline(
        source_directory=str(source), output_directory=str(output), save_format="PNG"
    )
    p.rotate_random_90(probability=0.75)
    p.flip_left_right(probability=0.5)
    p.flip_top_bottom(probability=0.5)
    p.rotate(probability=0.5, max_left_rotation=15, max_right_rotation=15)
    p.zoom(probability=0.5, min_factor=1.05, max_factor=1.25)
    p.random_brightness(probability=0.5, min_factor=0.85, max_factor=1.15)
    p.random_contrast(probability=0.5, min_factor=0.85, max_factor=1.15)
    p.random_color(probability=0.5, min_factor=0.8, max_factor=1.2)
    return p


def balance(
    train: list[Record] | tuple[Record, ...],
    work_dir: Path,
    target: str | int,
    seed: int,
    max_factor: int | None = None,
) -> BalanceResult:
    """Generate extra samples for under-represented classes into ``work_dir`` (absolute)."""
    work_dir = Path(work_dir).resolve()
    counts = dict(sorted(Counter(r.label for r in train).items()))
    goals = target_counts(counts, target, max_factor)
    generated: list[Record] = []
    for class_index, (label, goal) in enumerate(goals.items()):
        need = goal - counts[label]
        if need <= 0:
            continue
        src = work_dir / "source" / label
        out = work_dir / "augmented" / label
        if out.exists():
            shutil.rmtree(out)
        src.mkdir(parents=True, exist_ok=True)
        out.mkdir(parents=True, exist_ok=True)
        for r in train:
            if r.label == label:
                shutil.copy2(r.path, src / r.path.name)
        random.seed(seed + class_index)
        np.random.seed(seed + class_index)
        with contextlib.redirect_stdout(sys.stderr):  # Augmentor prints chatter on stdout
            pipeline = build_pipeline(src, out)
            pipeline.sample(need, multi_threaded=False)
        # Augmentor names files with random UUIDs; order by content so runs repeat exactly.
        made = sorted((p for p in out.iterdir() if is_image_path(p)), key=file_sha256)
        generated.extend(Record(path=p, label=label, split="augmented") for p in made)
    after = dict(counts)
    for r in generated:
        after[r.label] += 1
    return BalanceResult(records=tuple(generated), before=counts, after=after)


def origin_balanced_weights(
    y: np.ndarray, origins: list[str] | tuple[str, ...], num_classes: int, by_class: bool = True
) -> np.ndarray:
    """Per-row loss weights under which every origin weighs the same (``--origin-balance``).

    Why: HAM10000's nevus-heavy clinics make most of the pool, so an unweighted loss learns their
    dermatoscopes' look best; #26 asks whether a model that weighs each origin alike reads an
    unseen dermatoscope better. As weights rather than resampling, every image still comes once an
    epoch. Rows of origin "" (Augmentor's copies, made per class from every origin) get the mean
    weight of their class's own rows. With ``by_class`` the classes are then weighted inversely to
    their weighted totals, as ``--class-weights`` does without origins. Mean weight 1.
    """
    y = np.asarray(y)
    origins = np.asarray(origins, dtype=object)
    if len(origins) != len(y):
        raise ValueError(f"{len(origins)} origins for {len(y)} rows")
    w = np.ones(len(y), dtype=np.float64)
    named = origins != ""
    kinds = sorted(set(origins[named].tolist()))
    for o in kinds:
        here = origins == o
        w[here] = named.sum() / (len(kinds) * here.sum())
    for c in np.unique(y[~named]):
        own = named & (y == c)
        w[~named & (y == c)] = w[own].mean() if own.any() else 1.0
    if by_class:
        totals = np.bincount(y, weights=w, minlength=num_classes)
        present = totals > 0
        factor = np.where(present, w.sum() / (present.sum() * np.maximum(totals, 1e-12)), 0.0)
        w = w * factor[y]
    return (w / w.mean()).astype(np.float32)


def balanced_class_weights(y: np.ndarray, num_classes: int) -> dict[int, float]:
    """Each class weighted inversely to its count, so that every class weighs the same."""
    counts = np.bincount(y, minlength=num_classes).astype(np.float64)
    return {i: float(len(y) / (num_classes * max(c, 1))) for i, c in enumerate(counts)}


def loss_weights(
    config: TrainConfig, y: np.ndarray, origins: tuple[str, ...], num_classes: int
) -> tuple[np.ndarray | None, dict[int, float] | None]:
    """The training loss's weighting: per-row weights (``--origin-balance``) or Keras class
    weights (``--class-weights``), at most one of them."""
    if config.origin_balance:
        return origin_balanced_weights(y, origins, num_classes, config.class_weights), None
    return None, balanced_class_weights(y, num_classes) if config.class_weights else None


def origin_shares(weights: np.ndarray, origins: tuple[str, ...]) -> str:
    """Each origin's share of the total loss weight, for the log ("augmented": Augmentor's)."""
    kind = np.asarray(origins, dtype=object)
    return ", ".join(
        f"{o or 'augmented'} {weights[kind == o].sum() / weights.sum():.2f}"
        for o in sorted(set(origins))
    )
