"""Measurements of the app as a user runs it: ``--classify`` throughput over a folder,
start to first result (unfrozen and frozen), and where one image's time goes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from benchmarks.common import ROOT, Result, Settings, Unavailable, guarded
from benchmarks.report import na
from benchmarks.timing import stats, timed_repeats
from desktop.imaging import VIEW_SETS, is_image_path, load_image


def make_images(folder: Path, count: int, data_root: Path) -> str:
    """``count`` 180x180 JPEGs: real ISIC images centre-cropped to 180 px when the data is
    here, else synthetic lesions (noise varies per image so no two files are identical)."""
    folder.mkdir(parents=True, exist_ok=True)
    train = data_root / "Train"
    sources: list[Path] = []
    if train.is_dir():
        per_class = [
            sorted(p for p in d.iterdir() if is_image_path(p))
            for d in sorted(train.iterdir())
            if d.is_dir()
        ]
        i = 0
        while len(sources) < count and any(i < len(c) for c in per_class):
            sources += [c[i] for c in per_class if i < len(c)]
            i += 1
        sources = sources[:count]
    if len(sources) == count:
        for k, src in enumerate(sources):
            with Image.open(src) as img:
                rgb = img.convert("RGB")
            w, h = rgb.size
            side = min(w, h)
            box = ((w - side) // 2, (h - side) // 2, (w + side) // 2, (h + side) // 2)
            rgb.crop(box).resize((180, 180), Image.Resampling.BILINEAR).save(
                folder / f"img_{k:04d}.jpg", quality=90
            )
        return f"{count} ISIC images from {train}, centre-cropped to 180x180, JPEG q90"
    from desktop.cli import synthetic_lesion

    base = np.asarray(synthetic_lesion(180), dtype=np.int16)
    rng = np.random.default_rng(0)
    for k in range(count):
        arr = np.clip(base + rng.integers(-12, 13, base.shape), 0, 255).astype(np.uint8)
        Image.fromarray(arr).save(folder / f"img_{k:04d}.jpg", quality=90)
    return f"{count} synthetic 180x180 lesion JPEGs, q90"


def time_process(cmd: list[str], expect: int) -> float:
    """Wall seconds of one ``--classify --json`` process; checks it classified ``expect`` files."""
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen")
    start = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT, env=env, timeout=900)
    elapsed = time.perf_counter() - start
    if proc.returncode != 0:
        tail = (proc.stderr.strip().splitlines() or ["no message"])[-1][:200]
        raise RuntimeError(f"exit {proc.returncode}: {tail}")
    results = json.loads(proc.stdout)
    # Every file must have been run through the model; "cannot assess" (the synthetic lesion
    # is no dermoscopy) is an answer, only an unreadable file is not.
    ok = sum(1 for r in results if not r.get("error"))
    if ok != expect:
        raise RuntimeError(f"classified {ok} of {expect} images")
    return elapsed


def classify_and_start(model: Path, workdir: Path, s: Settings, data_root: Path) -> Result:
    """--classify over a folder (images/s) and app start to first result (one image).

    Per repeat, one 1-image and one N-image process; throughput excluding start-up
    is (N - 1) / (t_N - t_1), since t_1 is start-up plus one image.
    """
    folder = workdir / "images"
    source = make_images(folder, s.classify_images, data_root)
    one = sorted(folder.iterdir())[0]
    base = [sys.executable, "-m", "desktop", "--classify", "--json", "--model", str(model)]
    n = s.classify_images
    time_process([*base, str(one)], 1)  # warm the page cache once
    t1, tn = [], []
    for _ in range(s.repeats):
        t1.append(time_process([*base, str(one)], 1))
        tn.append(time_process([*base, str(folder)], n))
    excl = [(n - 1) / (b - a) for a, b in zip(t1, tn, strict=True) if b > a]
    return {
        "classify": {
            "images": n,
            "source": source,
            "command": "python -m desktop --classify --json --model MODEL FOLDER",
            "total_s": stats(tn),
            "images_per_s": stats([n / t for t in tn]),
            "images_per_s_excl_startup": stats(excl) if excl else na("start-up dominated"),
            "in_process_ms_per_image": guarded(stage_breakdown, model, sorted(folder.iterdir())),
        },
        "start_unfrozen_s": stats(t1),
        "one_image": str(one),
    }


def stage_breakdown(model: Path, files: list[Path]) -> Result:
    """Where one --classify image's time goes (in this process, default threads): decode +
    resize + colour constancy, the model (every test-time view of the card; one forward pass
    alone beside it), and the whole per-file path with CAM."""
    from desktop.inference import Classifier
    from desktop.results import classify_path

    clf = Classifier(model)
    pre = clf.card.preprocessing
    files = files[:100]
    classify_path(clf, files[0])
    load, infer, one, whole = [], [], [], []
    for f in files:
        t0 = time.perf_counter()
        arr = load_image(f, pre)
        t1 = time.perf_counter()
        clf.probabilities(arr)
        t2 = time.perf_counter()
        clf.run(arr)
        t3 = time.perf_counter()
        classify_path(clf, f)
        t4 = time.perf_counter()
        load.append(t1 - t0)
        infer.append(t2 - t1)
        one.append(t3 - t2)
        whole.append(t4 - t3)
    return {
        "images": len(files),
        "decode_preprocess": 1000 * float(np.median(load)),
        "inference": 1000 * float(np.median(infer)),
        "forward_pass": 1000 * float(np.median(one)),
        "test_time_views": len(VIEW_SETS[clf.card.test_time_views]),
        "classify_path_total": 1000 * float(np.median(whole)),
    }


def frozen_start(model: Path, one_image: str, s: Settings) -> Result:
    """Start to first result of the PyInstaller bundle, when one has been built."""
    exe = ROOT / "dist" / "LesionLens" / ("LesionLens.exe" if os.name == "nt" else "LesionLens")
    if not exe.is_file():
        raise Unavailable(f"no bundle at {exe.relative_to(ROOT)} (make bundle)")
    cmd = [str(exe), "--classify", "--json", "--model", str(model), one_image]
    time_process(cmd, 1)
    return stats([time_process(cmd, 1) for _ in range(s.repeats)])


def _best_ips(fn: Callable[[], object], n: int, runs: int = 2) -> float:
    """Images/s of the faster of ``runs`` passes: the machine is shared, the best is the
    least disturbed."""
    best = float("inf")
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return n / best


def throughput(model: Path, train: Path) -> Result:
    """In-process images/s with 1 view and with the card's views, serial (every image's
    work in one thread, one interpreter: ``workers=0``) against pipelined (one thread per
    core a few groups of images ahead, each group's decoding, preprocessing and views on one
    of them with an interpreter of its own, results in order: the window's and adapt's
    path) and forked (the same on one forked process per core: the command line's), each
    as a share of the machine's limit: cores / (views x one forward pass on one thread)."""
    from dataclasses import replace

    from desktop.batch import classify_paths
    from desktop.inference import Classifier
    from desktop.pipeline import usable_cores
    from desktop.results import expand_paths

    if not train.is_dir():
        raise Unavailable(f"{train} not found")
    files = expand_paths([train])[::7][:300]  # every class, not only the first folder
    serial = Classifier(model)
    card, cores = serial.card, usable_cores()
    arr = load_image(files[0], card.preprocessing)
    one_pass = min(timed_repeats(lambda: serial.run(arr), 5, 20)) * 1000
    out: Result = {"images": len(files), "cores": cores, "forward_pass_ms": one_pass}
    for label, views in (("1_view", "none"), ("views", card.test_time_views)):
        vcard = replace(card, test_time_views=views)
        n_views = len(VIEW_SETS[views])
        limit = cores * 1000.0 / (n_views * one_pass)
        clf = Classifier(model, card=vcard)
        row: Result = {"views": n_views, "limit_images_per_s": limit}
        for name, workers, forked in (
            ("serial", 0, False),
            ("pipelined", None, False),
            ("forked", None, True),
        ):
            ips = _best_ips(
                lambda c=clf, w=workers, f=forked: list(
                    classify_paths(c, files, workers=w, processes=f)
                ),
                len(files),
            )
            row[name] = {"images_per_s": ips, "share_of_limit": ips / limit}
        out[label] = row
    out["ms_per_image"] = stage_times(serial, files[:100])
    return out


def stage_times(clf: Any, files: list[Path]) -> Result:
    """Median ms per image of each stage, serially on one thread: where the time goes."""
    from desktop.imaging import open_image, preprocess
    from desktop.inference import scope_finding
    from desktop.quality import assess_quality

    pre = clf.card.preprocessing
    laps: dict[str, list[float]] = {
        k: [] for k in ("decode", "preprocess", "inference", "scope", "heatmap")
    }
    for f in files:
        t0 = time.perf_counter()
        img = open_image(f, draft_size=pre.draft_size)
        t1 = time.perf_counter()
        arr = preprocess(img, pre)
        assess_quality(img, arr)
        t2 = time.perf_counter()
        out = clf.views(arr)
        t3 = time.perf_counter()
        scope_finding(arr, out.descriptor, clf.card)
        t4 = time.perf_counter()
        clf.cam(out.feature_map, int(np.argmax(out.probabilities)))
        clf.class_maps(out.feature_map)
        t5 = time.perf_counter()
        for key, a, b in zip(laps, (t0, t1, t2, t3, t4), (t1, t2, t3, t4, t5), strict=True):
            laps[key].append(1000 * (b - a))
    return {k: float(np.median(v)) for k, v in laps.items()}


def classify_train(model: Path, train: Path, runs: int = 2) -> Result:
    """``--classify --json`` over the whole training folder (2,241 images), whole process,
    best of ``runs``: the issue's throughput target."""
    if not train.is_dir():
        raise Unavailable(f"{train} not found")
    from desktop.results import expand_paths

    n = len(expand_paths([train]))
    cmd = [sys.executable, "-m", "desktop", "--classify", "--json", "--model", str(model)]
    secs = [time_process([*cmd, str(train)], n) for _ in range(runs)]
    return {
        "images": n,
        "folder": str(train),
        "images_per_s": {"best": n / min(secs), "runs": [n / s for s in secs]},
        "load_average_1min": os.getloadavg()[0],
    }
