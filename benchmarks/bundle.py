"""Size and start-up time of the frozen bundle, as a user double-clicking it feels them.

    .venv/bin/python -m benchmarks.bundle [--bundle dist/LesionLens] [--model M.tflite] [--runs 5]

Times are wall-clock from process start to exit (the result is printed just
before exit), medians of ``--runs`` runs. "Cold" evicts the bundle's and the
model's files from the page cache first (``posix_fadvise(DONTNEED)`` per file,
Linux only: no root, no effect on other programs' cache), which is close to the
first start after a reboot or download; "warm" is a repeat start. Writes
benchmarks/bundle.json. Build the bundle first (``make bundle``).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path

from desktop import APP_NAME, __version__
from desktop.samples import sample_of

ROOT = Path(__file__).resolve().parent.parent

DEFAULT_IMAGE = sample_of(ROOT / "assets" / "samples", "melanoma")


def disk_usage(folder: Path) -> int:
    """Bytes on disk like ``du``: allocated blocks, symlinks not followed, hard links once."""
    seen: set[tuple[int, int]] = set()
    total = 0
    for path in [folder, *folder.rglob("*")]:
        st = path.lstat()
        if (st.st_dev, st.st_ino) in seen:
            continue
        seen.add((st.st_dev, st.st_ino))
        blocks = getattr(st, "st_blocks", None)
        total += blocks * 512 if blocks is not None else st.st_size
    return total


def evict(paths: list[Path]) -> bool:
    """Drop these files' clean pages from the page cache; False where unsupported."""
    if not hasattr(os, "posix_fadvise"):
        return False
    for path in paths:
        try:
            fd = os.open(path, os.O_RDONLY)
        except OSError:
            continue
        try:
            os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
        finally:
            os.close(fd)
    return True


def time_run(cmd: list[str], env: dict[str, str], expect: int = 0) -> float:
    """Seconds from spawn to exit; fails loudly if the command does not succeed."""
    start = time.perf_counter()
    done = subprocess.run(cmd, env=env, capture_output=True, text=True)
    elapsed = time.perf_counter() - start
    if done.returncode != expect:
        raise SystemExit(f"{' '.join(cmd)} exited {done.returncode}:\n{done.stderr[-2000:]}")
    return elapsed


def measure(
    name: str, cmd: list[str], env: dict[str, str], files: list[Path], runs: int
) -> dict[str, float | list[float] | None]:
    cold: list[float] = []
    for _ in range(runs):
        if not evict(files):
            break
        cold.append(time_run(cmd, env))
    time_run(cmd, env)  # make sure everything is cached
    warm = [time_run(cmd, env) for _ in range(runs)]
    result = {
        "cold_median_s": round(statistics.median(cold), 3) if cold else None,
        "warm_median_s": round(statistics.median(warm), 3),
        "cold_runs_s": [round(t, 3) for t in cold],
        "warm_runs_s": [round(t, 3) for t in warm],
    }
    cold_txt = f"{result['cold_median_s']:.2f} s" if cold else "n/a"
    print(f"  {name:<26} cold {cold_txt:>7}   warm {result['warm_median_s']:.2f} s")
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bundle", type=Path, default=ROOT / "dist" / APP_NAME)
    parser.add_argument("--model", type=Path, help="default: the model inside the bundle")
    parser.add_argument("--image", type=Path, default=DEFAULT_IMAGE)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "bundle.json")
    parser.add_argument("--note", default="", help="free text stored in the JSON (conditions)")
    args = parser.parse_args(argv)

    bundle = args.bundle.resolve()
    exe = bundle / (f"{APP_NAME}-cli.exe" if sys.platform == "win32" else APP_NAME)
    if not exe.is_file():
        raise SystemExit(f"no bundle at {bundle}; run `make bundle` first")
    model = args.model.resolve() if args.model else bundle / "_internal" / "assets" / "model.tflite"
    if not model.is_file():
        raise SystemExit(f"no model at {model}; pass --model")
    model_args = ["--model", str(model)] if args.model else []
    files = [p for p in bundle.rglob("*") if p.is_file() and not p.is_symlink()]
    files += [model, model.with_suffix(".json"), args.image.resolve()]
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "VIRTUAL_ENV"))}
    env["QT_QPA_PLATFORM"] = "offscreen"

    size = disk_usage(bundle)
    print(f"{APP_NAME} {__version__} bundle {bundle}: {size / 2**20:.0f} MiB on disk")
    print(f"start-up, median of {args.runs} (process start -> result -> exit):")
    timings = {
        "version": measure("--version", [str(exe), "--version"], env, files, args.runs),
        "self_check": measure(
            "--self-check", [str(exe), "--self-check", *model_args], env, files, args.runs
        ),
        "classify_one": measure(
            "--classify 1 image --json",
            [str(exe), "--classify", str(args.image.resolve()), "--json", *model_args],
            env,
            files,
            args.runs,
        ),
    }
    report = {
        "app": APP_NAME,
        "version": __version__,
        "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "platform": f"{platform.system()} {platform.machine()} ({platform.platform()})",
        "cpu_count": os.cpu_count(),
        "load_average_at_start": list(os.getloadavg()) if hasattr(os, "getloadavg") else None,
        "bundle_bytes_on_disk": size,
        "bundle_mib_on_disk": round(size / 2**20, 1),
        "model": str(model.relative_to(ROOT) if model.is_relative_to(ROOT) else model.name),
        "model_bytes": model.stat().st_size,
        "image": args.image.name,
        "runs": args.runs,
        "cold_means": "bundle, model and image evicted from the page cache (posix_fadvise)",
        "note": args.note,
        "timings": timings,
    }
    args.out.write_text(json.dumps(report, indent=2) + "\n")
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
