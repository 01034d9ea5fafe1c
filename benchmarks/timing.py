"""The one timing helper of every benchmark: repeats, median and spread.

One module so that every published figure is a median of repeats computed the same
way; the machines these run on are shared and noisy, and a single sample misleads.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence

import numpy as np


def stats(samples: Sequence[float]) -> dict[str, float]:
    """Median and spread of repeats: one number from a noisy machine would mislead."""
    if len(samples) == 0:
        raise ValueError("no samples to summarise")
    arr = np.asarray(samples, dtype=np.float64)
    return {
        "median": float(np.median(arr)),
        "min": float(arr.min()),
        "max": float(arr.max()),
        "n": len(arr),
    }


def timed_repeats(
    fn: Callable[[], object], repeats: int, min_iters: int = 1, min_seconds: float = 0.0
) -> list[float]:
    """Seconds per call of ``fn``, one sample per repeat.

    Each repeat calls ``fn`` at least ``min_iters`` times and for at least
    ``min_seconds``, so sub-millisecond calls are averaged over enough of them
    for the clock's resolution not to matter.
    """
    if repeats < 1 or min_iters < 1:
        raise ValueError("repeats and min_iters must be at least 1")
    out = []
    for _ in range(repeats):
        n, start = 0, time.perf_counter()
        while n < min_iters or time.perf_counter() - start < min_seconds:
            fn()
            n += 1
        out.append((time.perf_counter() - start) / n)
    return out
