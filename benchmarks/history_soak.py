"""Kill -9 soak of the lesion-history case store: nothing committed is ever lost.

    python -m benchmarks.history_soak [--kills 30] [--seed 0]      (also: make soak)

In a temporary folder (never the user's data folder), a worker process repeats
one kind of write (``add`` a visit, ``delete`` a visit, ``import`` an exported
case, ``reclassify``: a new result) and reports each one on stdout after its
commit returned; the parent kills it with SIGKILL at a random moment, ``--kills``
times per kind. After every kill the store is opened as the app would (integrity
check, orphan photos to quarantine/) and every visit reported committed so far
must still be there with its results and a photo whose bytes match its SHA-256.
Prints ``visits lost: N, photos lost: M`` (counted, not assumed); exit 1 if any.
"""

from __future__ import annotations

import argparse
import random
import signal
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image

OPS = ("add", "delete", "import", "reclassify")
MODEL_VERSION = "soak"


@dataclass
class Ledger:
    """What the workers reported committed: visit -> photo hash, visit -> results seen."""

    visits: dict[int, str] = field(default_factory=dict)
    results: dict[int, int] = field(default_factory=dict)
    deleting: set[int] = field(default_factory=set)  # delete begun, commit not reported
    visits_lost: int = 0
    photos_lost: int = 0
    kills: int = 0
    quarantined: int = 0  # photos of uncommitted adds, moved aside (never deleted)

    def read(self, line: str) -> None:
        kind, *rest = line.split()
        if kind == "add":
            self.visits[int(rest[0])] = rest[1]
            self.results[int(rest[0])] = 1
        elif kind == "imp":
            for item in rest:
                vid, sha, n = item.split(":")
                self.visits[int(vid)] = sha
                self.results[int(vid)] = int(n)
        elif kind == "res":
            self.results[int(rest[0])] = int(rest[1])
        elif kind == "del-begin":
            self.deleting.add(int(rest[0]))
        elif kind == "del":
            self.deleting.discard(int(rest[0]))
            self.visits.pop(int(rest[0]), None)
            self.results.pop(int(rest[0]), None)


# The worker ----------------------------------------------------------------------------------
def _result(rng: random.Random, path: Path):  # noqa: ANN202 (ImageResult; imported lazily)
    from desktop.labelled.labels import CLASSES
    from desktop.prediction import Prediction
    from desktop.results import ImageResult

    probs = np.array([rng.random() + 0.01 for _ in CLASSES])
    probs /= probs.sum()
    pred = Prediction(CLASSES, probs, CLASSES.index("melanoma"), 0.3, 0.5)
    return ImageResult(name=path.name, path=path, prediction=pred)


def worker(op: str, data: Path, pool: Path, export: Path, seed: int) -> None:
    """Repeat ``op`` forever, printing each commit; the parent kills this process."""
    from desktop.history.service import History, ModelInfo
    from desktop.history.store import Store

    rng = random.Random(seed)
    photos = sorted(pool.glob("*.png"))
    model = ModelInfo(MODEL_VERSION, "0" * 64)
    with Store.open(data) as store:
        history = History(store)
        print("ready", flush=True)

        def add() -> None:
            path = rng.choice(photos)
            record = history.add_visit(
                f"S{rng.randrange(4)}", "back", path, _result(rng, path), model, taken="2024-01-01"
            )
            print(f"add {record['id']} {record['image']['sha256']}", flush=True)

        def pick() -> tuple[int, str]:
            row = store.conn.execute(
                "SELECT v.id, p.code FROM visit v JOIN lesion l ON l.id = v.lesion_id "
                "JOIN patient p ON p.id = l.patient_id ORDER BY RANDOM() LIMIT 1"
            ).fetchone()
            return int(row[0]), str(row[1])

        while True:
            if op == "add" or store.conn.execute("SELECT COUNT(*) FROM visit").fetchone()[0] < 5:
                add()
            elif op == "delete":
                vid, code = pick()
                print(f"del-begin {vid}", flush=True)
                history.delete(history.plan_delete(code, visit_id=vid))
                print(f"del {vid}", flush=True)
            elif op == "import":
                case = history.import_case(export, as_patient=f"I-{uuid.uuid4().hex[:10]}")
                items = [
                    f"{v['id']}:{v['image']['sha256']}:{len(v['results'])}"
                    for lesion in case["lesions"]
                    for v in lesion["visits"]
                ]
                print("imp " + " ".join(items), flush=True)
            else:
                vid, _ = pick()
                path = history.verified_photo(vid)
                record = history.add_result(vid, _result(rng, path), model)
                print(f"res {vid} {len(record['results'])}", flush=True)


# The parent ----------------------------------------------------------------------------------
def _photos(folder: Path, n: int, seed: int) -> None:
    folder.mkdir(parents=True)
    rng = np.random.default_rng(seed)
    for i in range(n):
        arr = rng.integers(0, 256, (48, 48, 3), dtype=np.uint8)
        Image.fromarray(arr).save(folder / f"photo{i:02d}.png")


def _prepare(tmp: Path, seed: int) -> tuple[Path, Path, Path]:
    """Photo pool, an exported 3-visit case, and the store under test (empty)."""
    from desktop.history.service import History, ModelInfo
    from desktop.history.store import Store

    pool, export, data = tmp / "pool", tmp / "export", tmp / "data"
    _photos(pool, 24, seed)
    rng = random.Random(seed)
    with Store.open(tmp / "source") as store:
        history = History(store)
        for path in sorted(pool.glob("*.png"))[:3]:
            history.add_visit(
                "E1", "back", path, _result(rng, path), ModelInfo(MODEL_VERSION, "0" * 64)
            )
        history.export("E1", export)
    return pool, export, data


def _verify(data: Path, ledger: Ledger) -> None:
    """Open as the app does, then every reported visit: present, its results, photo by hash."""
    from desktop.history.images import OK
    from desktop.history.store import Store

    with Store.open(data) as store:
        ledger.quarantined = store.quarantine_count()
        rows = {
            int(r[0]): (str(r[1]), int(r[2]))
            for r in store.conn.execute(
                "SELECT v.id, v.image_sha256, COUNT(r.id) FROM visit v "
                "LEFT JOIN result r ON r.visit_id = v.id GROUP BY v.id"
            )
        }
        for vid in sorted(ledger.deleting):  # killed mid-delete: either outcome is right
            if vid not in rows:
                ledger.visits.pop(vid, None)
        ledger.deleting.clear()
        for vid, sha in list(ledger.visits.items()):
            if vid not in rows or rows[vid][0] != sha or rows[vid][1] < ledger.results[vid]:
                ledger.visits_lost += 1
                ledger.visits.pop(vid)
                continue
            ext = store.conn.execute("SELECT ext FROM image WHERE sha256 = ?", (sha,)).fetchone()
            if ext is None or store.images.status(sha, ext[0]) != OK:
                ledger.photos_lost += 1
                ledger.visits.pop(vid)


def _one_kill(cmd: list[str], rng: random.Random, ledger: Ledger, max_wait: float) -> None:
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    lines: list[str] = []
    ready = threading.Event()

    def reader() -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            if line.strip() == "ready":
                ready.set()
            else:
                lines.append(line.strip())
        ready.set()

    thread = threading.Thread(target=reader, daemon=True)
    thread.start()
    ready.wait(120)
    time.sleep(rng.uniform(0.0, max_wait))
    proc.send_signal(signal.SIGKILL)
    proc.wait(60)
    thread.join(60)
    err = proc.stderr.read() if proc.stderr else ""
    if proc.returncode != -signal.SIGKILL:
        raise RuntimeError(f"the worker ended by itself ({proc.returncode}): {err.strip()[-500:]}")
    ledger.kills += 1
    for line in lines:
        ledger.read(line)


def soak(kills: int, seed: int = 0, log: Callable[[str], None] = print) -> Ledger:
    """``kills`` SIGKILLs per write kind against one store; the ledger counts what was lost."""
    rng = random.Random(seed)
    ledger = Ledger()
    with tempfile.TemporaryDirectory(prefix="lesionlens-soak-") as tmp_name:
        tmp = Path(tmp_name)
        pool, export, data = _prepare(tmp, seed)
        for op in OPS:
            start = time.monotonic()
            for _ in range(kills):
                cmd = [sys.executable, "-m", "benchmarks.history_soak", "--worker", op,
                       "--data", str(data), "--pool", str(pool), "--export", str(export),
                       "--seed", str(rng.randrange(1 << 30))]  # fmt: skip
                _one_kill(cmd, rng, ledger, max_wait=0.4)
                _verify(data, ledger)
            log(
                f"{op}: {kills} kills in {time.monotonic() - start:.0f} s; "
                f"{len(ledger.visits)} committed visits tracked"
            )
    return ledger


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kills", type=int, default=30, help="SIGKILLs per kind of write")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--worker", choices=OPS, help=argparse.SUPPRESS)
    parser.add_argument("--data", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--pool", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--export", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        worker(args.worker, args.data, args.pool, args.export, args.seed)
        return 0
    if sys.platform == "win32":  # pragma: no cover
        print("the soak needs POSIX signals (SIGKILL)", file=sys.stderr)
        return 2
    ledger = soak(args.kills, args.seed, log=lambda m: print(f"[soak] {m}", file=sys.stderr))
    print(
        f"{ledger.kills} kills ({args.kills} per kind: {', '.join(OPS)}); "
        f"{len(ledger.visits)} committed visits checked after the last one; "
        f"{ledger.quarantined} photo(s) of uncommitted writes in quarantine/"
    )
    print(f"visits lost: {ledger.visits_lost}, photos lost: {ledger.photos_lost}")
    return 1 if ledger.visits_lost or ledger.photos_lost else 0


if __name__ == "__main__":
    sys.exit(main())
