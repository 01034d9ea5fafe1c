"""Lesion-history speed: the case browser over 10,000 visits and a 50-visit timeline, each <= 1 s.

    python -m benchmarks.history [--visits 10000] [--timeline 50] [--repeats 5] [--out FILE]

Builds a synthetic store in a temporary folder (never the user's data folder):
``visits`` visits spread over patients with 4 lesions of 5 visits each, every
visit with its own image file and result, plus one lesion with ``timeline``
visits of real 600x450 JPEG photos. The big store is filled in one bulk
transaction (setup, not measured). Then, medians of ``repeats`` runs, in this
process with Qt offscreen:

* ``store_open``: ``Store.open`` (integrity check, scan of every image file for quarantine)
* ``browser_query``: the browser's patient query (all patients; and a search)
* ``case_browser``: from "Cases…" to the dialog filled (store open + query + table)
* ``timeline_query``: one lesion with all its visits and results
* ``timeline``: from "open timeline" to both compared photos decoded and shown

Writes ``benchmarks/history.json`` (``--out``) and prints a table.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from benchmarks.timing import stats, timed_repeats
from desktop.history.service import History, ModelInfo
from desktop.history.store import Store, now_utc
from desktop.labelled.labels import CLASSES
from desktop.prediction import Prediction
from desktop.results import ImageResult

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")  # before Qt is imported (in benchmark())

TARGET_S = 1.0


def _probabilities(rng: np.random.Generator) -> dict[str, float]:
    p = rng.dirichlet(np.ones(len(CLASSES)))
    return {c: float(v) for c, v in zip(CLASSES, p, strict=True)}


def _photo(path: Path, seed: int) -> None:
    rng = np.random.default_rng(seed)
    h, w = 450, 600
    yy, xx = np.mgrid[0:h, 0:w]
    d = np.hypot(xx - w / 2 - seed % 20, yy - h / 2) / (h / 2)
    base = np.stack([220 - 120 * (d < 0.5), 180 - 110 * (d < 0.5), 150 - 90 * (d < 0.5)], -1)
    arr = np.clip(base + rng.normal(0, 10, base.shape), 0, 255).astype(np.uint8)
    Image.fromarray(arr).save(path, quality=90)


def build_store(data: Path, visits: int, timeline: int, photos: Path) -> int:
    """The synthetic store; returns the id of the lesion with ``timeline`` photo visits."""
    rng = np.random.default_rng(0)
    with Store.open(data) as store:
        history = History(store)
        images = store.images
        conn = store.conn
        with store.write():
            per_patient = 20  # 4 lesions x 5 visits
            created = now_utc()
            for n in range(visits):
                patient, rest = divmod(n, per_patient)
                lesion = rest // 5
                code = f"P{patient:05d}"
                conn.execute(
                    "INSERT OR IGNORE INTO patient (code, created) VALUES (?, ?)", (code, created)
                )
                pid = conn.execute("SELECT id FROM patient WHERE code = ?", (code,)).fetchone()[0]
                conn.execute(
                    "INSERT OR IGNORE INTO lesion (patient_id, label, site, created) "
                    "VALUES (?, ?, 'posterior torso', ?)",
                    (pid, f"lesion {lesion + 1}", created),
                )
                lid = conn.execute(
                    "SELECT id FROM lesion WHERE patient_id = ? AND label = ?",
                    (pid, f"lesion {lesion + 1}"),
                ).fetchone()[0]
                blob = f"synthetic visit image {n}".encode() + rng.bytes(64)
                stored = images.put_bytes(blob, ".jpg")
                conn.execute(
                    "INSERT INTO image (sha256, ext, bytes, added) VALUES (?, ?, ?, ?)",
                    (stored.sha256, stored.ext, stored.size, created),
                )
                day = (date(2020, 1, 1) + timedelta(days=int(n % 1500))).isoformat()
                vid = conn.execute(
                    "INSERT INTO visit (lesion_id, taken, image_sha256, original_name, created) "
                    "VALUES (?, ?, ?, ?, ?)",
                    (lid, day, stored.sha256, f"img{n}.jpg", created),
                ).lastrowid
                probs = _probabilities(rng)
                mel = probs["melanoma"]
                level = "alert" if mel >= 0.3 else "no_alert"
                conn.execute(
                    """INSERT INTO result (visit_id, probabilities, label, melanoma_probability,
                           alert_level, verdict, headline, threshold, uncertain,
                           uncertain_reasons, model_version, model_sha256, created)
                       VALUES (?, ?, ?, ?, ?, ?, ?, 0.3, 0, '[]', 'bench', ?, ?)""",
                    (vid, json.dumps(probs), max(probs, key=probs.get), mel, level, level,
                     level, "0" * 64, created),
                )  # fmt: skip
        photos.mkdir(parents=True, exist_ok=True)
        model = ModelInfo("bench", "0" * 64)
        lesion_id = 0
        for i in range(timeline):
            path = photos / f"visit{i:02d}.jpg"
            _photo(path, i)
            day = (date(2021, 1, 1) + timedelta(days=30 * i)).isoformat()
            probs = np.array(list(_probabilities(rng).values()))
            pred = Prediction(CLASSES, probs, CLASSES.index("melanoma"), 0.3, 0.5)
            result = ImageResult(name=path.name, path=path, prediction=pred)
            record = history.add_visit(
                "T-TIMELINE", "left shoulder 1", path, result, model, taken=day
            )
            lesion_id = record["lesion_id"]
    return lesion_id


def _median(fn: Callable[[], Any], repeats: int) -> dict[str, float]:
    """One call per repeat (each opens dialogs: no inner loop), in history.json's keys."""
    s = stats(timed_repeats(fn, repeats))
    return {"median_s": s["median"], "min_s": s["min"], "max_s": s["max"]}


def benchmark(visits: int, timeline: int, repeats: int, log: Callable[[str], None]) -> dict:
    from PySide6.QtWidgets import QApplication, QWidget

    from desktop.qt.app import create_application
    from desktop.qt.controllers.history import HistoryController

    app = create_application([sys.argv[0]])
    res: dict[str, Any] = {
        "meta": {
            "date": datetime.now(UTC).isoformat(timespec="seconds"),
            "python": platform.python_version(),
            "machine": f"{platform.system()} {platform.machine()}, {os.cpu_count()} CPUs",
            "visits": visits,
            "timeline_visits": timeline,
            "repeats": repeats,
            "target_s": TARGET_S,
        }
    }
    with tempfile.TemporaryDirectory(prefix="lesionlens-history-bench-") as tmp:
        data = Path(tmp) / "data"
        log(f"building a store with {visits} + {timeline} visits")
        start = time.perf_counter()
        lesion_id = build_store(data, visits, timeline, Path(tmp) / "photos")
        res["meta"]["build_s"] = time.perf_counter() - start
        res["meta"]["db_bytes"] = (data / "history.sqlite3").stat().st_size

        def open_close() -> None:
            Store.open(data).close()

        log("store_open")
        res["store_open"] = _median(open_close, repeats)
        with Store.open(data) as store:
            history = History(store)
            log("browser_query")
            res["browser_query"] = _median(lambda: history.patients(""), repeats)
            res["browser_search"] = _median(lambda: history.patients("P001"), repeats)
            log("timeline_query")
            res["timeline_query"] = _median(lambda: history.lesion(lesion_id), repeats)
            n = len(history.patients(""))
        res["meta"]["browser_rows"] = n

        host = QWidget()

        def case_browser() -> None:
            ctl = HistoryController(host, data_dir=data)
            browser = ctl.open_cases()
            assert browser is not None and browser.patients.rowCount() == n
            app.processEvents()
            browser.close()
            ctl.shutdown()

        log("case_browser")
        res["case_browser"] = _median(case_browser, repeats)

        ctl = HistoryController(host, data_dir=data)
        ctl.history()

        def open_timeline() -> None:
            dialog = ctl.open_timeline(lesion_id)
            assert dialog is not None
            deadline = time.perf_counter() + 30
            while (
                dialog.view_a.image is None or dialog.view_b.image is None or ctl.busy()
            ) and time.perf_counter() < deadline:
                QApplication.processEvents()
                time.sleep(0.001)
            assert dialog.view_a.image is not None and dialog.view_b.image is not None
            assert dialog.visits.rowCount() == timeline
            dialog.close()

        log("timeline")
        res["timeline"] = _median(open_timeline, repeats)
        ctl.shutdown()
    for key in ("case_browser", "timeline"):
        res[key]["pass"] = res[key]["median_s"] <= TARGET_S
    return res


ROWS = (
    ("store_open", "open store (integrity check + quarantine scan)"),
    ("browser_query", "browser query, all patients"),
    ("browser_search", "browser query, search 'P001'"),
    ("case_browser", "Cases\u2026 dialog filled (open + query + table)"),
    ("timeline_query", "timeline query (one lesion, all visits)"),
    ("timeline", "timeline dialog, both photos shown"),
)


def format_table(res: dict) -> str:
    m = res["meta"]
    lines = [
        f"Lesion history: {m['visits']} visits ({m['browser_rows']} patients), "
        f"timeline of {m['timeline_visits']} visits; {m['machine']}; "
        f"median of {m['repeats']}",
        f"{'what':<50} {'median':>9} {'min':>9} {'max':>9}  target",
    ]
    for key, label in ROWS:
        r = res[key]
        target = ""
        if "pass" in r:
            target = f"\u2264 {TARGET_S:.0f} s {'PASS' if r['pass'] else 'FAIL'}"
        lines.append(
            f"{label:<50} {r['median_s'] * 1000:>7.1f} ms {r['min_s'] * 1000:>6.1f} ms "
            f"{r['max_s'] * 1000:>6.1f} ms  {target}"
        )
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--visits", type=int, default=10_000)
    parser.add_argument("--timeline", type=int, default=50)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument(
        "--out", type=Path, default=Path(__file__).resolve().parent / "history.json"
    )
    args = parser.parse_args(argv)
    res = benchmark(
        args.visits,
        args.timeline,
        args.repeats,
        log=lambda msg: print(f"[history bench] {msg}", file=sys.stderr, flush=True),
    )
    res["meta"]["command"] = " ".join(
        ["python", "-m", "benchmarks.history", *(argv if argv is not None else sys.argv[1:])]
    )
    args.out.write_text(json.dumps(res, indent=2) + "\n", encoding="utf-8")
    print(format_table(res))
    print(f"\nwritten {args.out}", file=sys.stderr)
    return 0 if all(res[k]["pass"] for k in ("case_browser", "timeline")) else 1


if __name__ == "__main__":
    sys.exit(main())
