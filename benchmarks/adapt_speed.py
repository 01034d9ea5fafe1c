"""How long adapting to a clinic takes, and how much memory: the whole ``adapt`` command on
400 labelled images, as a clinic PC would run it (a fresh process, a cold feature cache; its
peak memory is of the process and the forked children it reads images in).

    python -m benchmarks.adapt_speed [--images 400]     # writes benchmarks/adapt_speed.json

The clinic is 400 images drawn (seeded) from ``../shared/data/isic-9class/Train`` and laid
out as class folders of links in a temporary folder; nothing is written into the data
folder. Target: <= 60 s and <= 1 GiB peak memory on this 2-core machine. A second run with
the cache of the first measures a re-run (only the new images are extracted).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from benchmarks.common import DEFAULT_DATA, ROOT, machine_info

OUT = ROOT / "benchmarks" / "adapt_speed.json"
TARGET_S = 60.0
TARGET_MIB = 1024.0
SEED = 20261203


def clinic(data_root: Path, n: int, into: Path) -> int:
    """``n`` seeded images of the seed data set as class folders of links; returns how many."""
    train = data_root / "Train"
    files = sorted(p for p in train.glob("*/*") if p.suffix.lower() in (".jpg", ".jpeg", ".png"))
    if not files:
        raise FileNotFoundError(f"no images under {train}")
    for p in random.Random(SEED).sample(files, min(n, len(files))):
        folder = into / p.parent.name
        folder.mkdir(parents=True, exist_ok=True)
        (folder / p.name).symlink_to(p.resolve())
    return min(n, len(files))


def timed_adapt(data: Path, out: Path, model: Path) -> dict[str, float]:
    """Wall seconds and peak memory (MiB) of one ``adapt`` run. ``adapt`` reads the images in
    forked children, so the peak is of the whole process tree: the sum of each process's
    resident memory, sampled, where Linux gives it (pages the children share with the parent
    count once per process: an upper bound); else the largest single process's."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    command = [sys.executable, "-m", "desktop", "adapt", "--data", str(data), "--out", str(out)]
    command += ["--model", str(model), "--force"]
    start = time.perf_counter()
    with tempfile.TemporaryFile("w+", encoding="utf-8") as log:  # no pipe to fill while polling
        with subprocess.Popen(command, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=log) as run:
            tree_peak = 0.0
            while run.poll() is None and time.perf_counter() - start < 1800:
                tree_peak = max(tree_peak, tree_rss_kib(run.pid))
                time.sleep(0.1)
            run.wait(timeout=60)
        log.seek(0)
        err = log.read()
    wall = time.perf_counter() - start
    if run.returncode != 0:
        raise RuntimeError(err.strip().splitlines()[-1] if err else "failed")
    largest = max(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss, before)
    peak = tree_peak if tree_peak > 0 else largest
    return {"seconds": round(wall, 2), "peak_mib": round(peak / 1024.0, 1)}


def tree_rss_kib(pid: int) -> float:
    """Resident memory (KiB) of ``pid`` and every process under it, summed, from /proc; 0 where
    it cannot be read."""
    proc = Path("/proc")
    if not (proc / str(pid)).is_dir():
        return 0.0
    parents: dict[int, list[int]] = {}
    for entry in proc.iterdir():
        if entry.name.isdigit():
            try:
                ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            parents.setdefault(ppid, []).append(int(entry.name))
    total, todo = 0.0, [pid]
    while todo:
        p = todo.pop()
        todo += parents.get(p, [])
        try:
            rollup = (proc / str(p) / "smaps_rollup").read_text()
        except OSError:
            continue
        total += sum(
            float(line.split()[1]) for line in rollup.splitlines() if line.startswith("Rss:")
        )
    return total


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--images", type=int, default=400)
    ap.add_argument("--data", default=str(DEFAULT_DATA))
    ap.add_argument("--model", default=str(ROOT / "assets" / "model.tflite"))
    args = ap.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="lesionlens-clinic-") as tmp:
        data, out = Path(tmp) / "clinic", Path(tmp) / "adapted"
        n = clinic(Path(args.data), args.images, data)
        cold = timed_adapt(data, out, Path(args.model))
        warm = timed_adapt(data, out, Path(args.model))
    result = {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "images": n,
        "cold": cold,
        "cached": warm,
        "tree": True,  # peak memory summed over the process and its children
        "targets": {"seconds": TARGET_S, "peak_mib": TARGET_MIB},
        "pass": cold["seconds"] <= TARGET_S and cold["peak_mib"] <= TARGET_MIB,
        "machine": machine_info(),
        "note": f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores at the end",
        "cpus": os.cpu_count(),
    }
    OUT.write_text(json.dumps(result, indent=1) + "\n")
    print(json.dumps({k: result[k] for k in ("images", "cold", "cached", "pass")}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
