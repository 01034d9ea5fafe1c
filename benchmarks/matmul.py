"""Attainable float32 GFLOP/s of numpy (OpenBLAS) on this machine, in its own process.

Its own process because BLAS fixes its thread count when numpy is first imported:
``benchmarks.run`` starts this with ``OPENBLAS_NUM_THREADS`` (and friends) set.
Prints one JSON list of GFLOP/s, one per repeat.

    OPENBLAS_NUM_THREADS=1 python -m benchmarks.matmul --n 2048 --repeats 5
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence

import numpy as np

from benchmarks.timing import timed_repeats


def gflops(n: int, repeats: int, min_seconds: float) -> list[float]:
    """GFLOP/s of an ``n x n`` float32 matmul, one value per repeat."""
    a = np.random.default_rng(0).standard_normal((n, n), dtype=np.float32)
    b = a.T.copy()
    a @ b  # warm-up: BLAS thread pool and page faults
    secs = timed_repeats(lambda: a @ b, repeats, min_iters=2, min_seconds=min_seconds)
    return [2 * n**3 / s / 1e9 for s in secs]


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--n", type=int, default=2048)
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--min-seconds", type=float, default=0.5)
    a = p.parse_args(argv)
    print(json.dumps(gflops(a.n, a.repeats, a.min_seconds)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
