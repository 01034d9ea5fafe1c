"""Smoke test of ``python -m benchmarks.run`` in quick mode on the tiny trained run.

Checks the shape of the results (every section present, numbers positive),
never the timings themselves: CI machines are too noisy for that. Most are slow:
they train the tiny run and start TensorFlow.
"""

from __future__ import annotations

import json
import math
import os
import sys
from pathlib import Path

import numpy as np
import pytest

import benchmarks.run as bench
from benchmarks import report
from benchmarks.common import Settings, guarded
from benchmarks.model_side import litert_latency, load_heldout
from benchmarks.targets import targets
from benchmarks.timing import stats, timed_repeats

TRAINER_FUNCTIONS = ("train_dataset", "compile_for_training")


def positive(node) -> bool:
    return isinstance(node, int | float) and math.isfinite(node) and node > 0


def trainer_offers_pipeline() -> bool:
    import trainer.train

    return all(hasattr(trainer.train, name) for name in TRAINER_FUNCTIONS)


@pytest.mark.slow
def test_quick_benchmark_writes_expected_json(tiny_model, tmp_path):
    model = Path(tiny_model)
    run_dir = model.parent
    res = bench.benchmark(
        run_dir,
        model,
        Settings(quick=True, repeats=1),
        threads=(1,),
        data_root=tmp_path / "no-data",  # synthetic 180-px images
    )
    out = tmp_path / "results.json"
    out.write_text(json.dumps(res))  # must be JSON-serialisable as written by main()
    res = json.loads(out.read_text())

    for name in ("int8_tflite", "float32_tflite", "keras_float"):
        assert positive(res["inference_ms"][name]["1"]["median"]), name
        assert 0.0 <= res["accuracy"][name]["val"] <= 1.0, name
    for name in ("int8_tflite", "float32_tflite", "keras"):
        assert positive(res["sizes_bytes"][name]), name
    assert positive(res["flops_per_image"]["flops"])
    assert positive(res["attainable_gflops"]["1"]["numpy_gflops"]["median"])
    assert positive(res["achieved_gflops"]["int8_tflite"]["1"]["gflops"])
    assert positive(res["classify"]["images_per_s"]["median"])
    assert "synthetic" in res["classify"]["source"]
    # The app's inference is every test-time view of the card (the tiny run's: 8), timed
    # beside one forward pass; the TFLite accuracy is measured the way the app reports.
    per_image = res["classify"]["in_process_ms_per_image"]
    assert res["accuracy"]["test_time_views"] == "dihedral" and per_image["test_time_views"] == 8
    assert per_image["inference"] > per_image["forward_pass"] > 0
    assert "as the app (8 views)" in report.format_table(res)
    assert positive(res["app_start_s"]["unfrozen"]["median"])
    assert "frozen" in res["app_start_s"]  # a number or n/a (no bundle)
    assert res["meta"]["card"]["same_model"] is True  # the run's own model, by file hash
    if trainer_offers_pipeline():
        assert res["training"]["pipeline"] == "trainer.train.train_dataset"
        for key in ("pipeline_images_per_s", "train_step_images_per_s", "fit_images_per_s"):
            assert positive(res["training"][key]["median"]), key
    else:  # never a number for a pipeline training does not run
        assert "trainer.train.train_dataset" in res["training"]["n/a"]
    # Every target is measured, except the throughput over the seed data set's Train folder,
    # which a synthetic run has no images for (n/a: pass None).
    measured = {t["name"]: t["pass"] in (True, False) for t in res["targets"]}
    over_train = [n for n in measured if n.startswith("--classify --json over Train")]
    assert len(measured) == 5 and len(over_train) == 1
    assert all(ok for n, ok in measured.items() if n not in over_train)

    table = report.format_table(res)
    assert "PASS" in table or "FAIL" in table


@pytest.mark.slow
def test_missing_pieces_are_reported_not_raised(tiny_model, tmp_path):
    """A run folder without float export, Keras model, config or split still yields a report."""
    model = Path(tiny_model)
    bare = tmp_path / "bare"
    bare.mkdir()
    s = Settings(quick=True, repeats=1)
    latency = guarded(litert_latency, bare / "model_float32.tflite", None, 1, None, s)
    assert "n/a" in latency
    assert "n/a" in guarded(load_heldout, bare, None, 0)
    res = {"targets": targets({}, model)}
    assert [t["pass"] for t in res["targets"]][:3] == [None, None, None]


def test_one_timing_helper_summarises_repeats():
    calls = []
    secs = timed_repeats(lambda: calls.append(1), repeats=3, min_iters=4)
    assert len(secs) == 3 and len(calls) == 12 and all(s >= 0 for s in secs)
    assert stats([3.0, 1.0, 2.0]) == {"median": 2.0, "min": 1.0, "max": 3.0, "n": 3}
    with pytest.raises(ValueError):
        stats([])


@pytest.mark.slow
def test_training_rows_time_the_trainers_own_functions(trained_run, monkeypatch):
    """Train mode calls the trainer's pipeline and compile functions (stand-ins here, with the
    signatures asked of ``trainer.train``) and times nothing else as 'the pipeline'."""
    import argparse

    import keras
    import tensorflow as tf

    import trainer.train
    from benchmarks import tf_side

    used = []

    def train_dataset(config, x, y, num_classes):
        used.append(("pipeline", x.dtype.name, len(x)))
        y1h = keras.utils.to_categorical(y, num_classes)
        return (
            tf.data.Dataset.from_tensor_slices((x, y1h))
            .map(lambda a, b: (tf.cast(a, tf.float32), b))
            .batch(config.batch_size, drop_remainder=True)
        )

    def compile_for_training(config, parts, steps_per_epoch):
        used.append(("compile", steps_per_epoch))
        loss = keras.losses.CategoricalCrossentropy(from_logits=True)
        parts.model.compile(optimizer="adam", loss=loss)

    classes = len(json.loads((trained_run / "model.json").read_text())["classes"])
    args = argparse.Namespace(
        config=str(trained_run / "config.json"), classes=classes, batches=2, steps=1, repeats=1
    )
    for name in TRAINER_FUNCTIONS:
        monkeypatch.delattr(trainer.train, name, raising=False)
    missing = tf_side.train_mode(args)
    assert "trainer.train.train_dataset" in missing["n/a"] and not used

    monkeypatch.setattr(trainer.train, "train_dataset", train_dataset, raising=False)
    monkeypatch.setattr(trainer.train, "compile_for_training", compile_for_training, raising=False)
    out = tf_side.train_mode(args)
    batch = out["batch_size"]
    assert used == [("pipeline", "uint8", 2 * batch), ("compile", 2)]
    assert out["pipeline"] == "trainer.train.train_dataset"
    for key in ("pipeline_images_per_s", "train_step_images_per_s", "fit_images_per_s"):
        assert positive(out[key]["median"]), key


def test_results_carry_no_absolute_path_of_this_checkout():
    from benchmarks.common import ROOT, without_root

    res = {
        "meta": {"run": str(ROOT / "runs" / "shipped"), "n": 3},
        "x": [f"{ROOT}/assets/m not found"],
    }
    clean = without_root(res)
    assert clean == {"meta": {"run": "runs/shipped", "n": 3}, "x": ["assets/m not found"]}


# ---------------------------------------------------------------- benchmarks.robustness


def test_robustness_report_counts_flips_changes_and_the_band():
    from benchmarks.robustness import Outcome, compare, meets

    def o(alert: bool, top: str = "nevus", ok: bool = True, p: float = 0.01) -> Outcome:
        return Outcome(alert=alert, top=top, shown=top, said=top, assessable=ok, melanoma=p)

    t = 0.05  # band +-0.5 log-odds: about 0.031 .. 0.080
    orig = [o(True, p=0.9), o(True, p=0.06), o(False), o(False), o(False, "bcc", p=0.02)]
    var = [o(False, p=0.01), o(False, p=0.04), o(True, p=0.5), o(False), o(False, "ak", False)]
    mel = [True, False, False, False, True]
    r = compare(orig, var, mel, t)
    assert r["alert_flips"] == 0.6  # three of five
    assert (r["alert_on_to_off"], r["alert_off_to_on"], r["melanoma_alerts_lost"]) == (2, 1, 1)
    assert r["hard_alert_flips"] == 0.4  # 0.06 -> 0.04 stays inside the band
    assert r["class_changes"] == r["said_class_changes"] == 0.2
    assert r["assessability_changes"] == 0.2
    # variant scores: melanomas 0.01, 0.01 against 0.04, 0.5, 0.01: one tie in three pairs each
    assert r["melanoma_roc_auc"] == pytest.approx(1 / 6, abs=1e-4)
    assert meets(r) == {
        "alert_flips": False,
        "class_changes": False,
        "assessability_changes": False,
    }
    same = compare(orig, orig, mel, t)
    assert same["alert_flips"] == same["class_changes"] == same["assessability_changes"] == 0.0
    assert all(meets(same).values())
    with pytest.raises(ValueError):
        compare(orig, var[:4], mel, t)


def test_robustness_measures_every_variant_of_every_image():
    from benchmarks.robustness import VARIANTS, measure_set
    from benchmarks.robustness_report import markdown
    from tests.fakes import FakeClassifier, lesion_image

    clf = FakeClassifier()  # the same probabilities for every picture: nothing may flip
    images = [lesion_image(96, seed=i) for i in range(5)]
    res = measure_set(clf, images, [True, False, False, False, False], 0.05)
    assert clf.calls == 5 * (1 + len(VARIANTS))
    assert res["images"] == 5 and res["melanomas"] == 1 and set(res["variants"]) == set(VARIANTS)
    for v in res["variants"].values():
        assert v["alert_flips"] == v["class_changes"] == 0.0
        assert v["meets"]["alert_flips"] and v["meets"]["class_changes"]
    report = {
        "model": {"version": "v"},
        "created": "2026-12-03",
        "targets": {"alert_flips": 0.03, "class_changes": 0.05, "assessability_changes": 0.01},
        "band_log_odds": 0.5,
        "variants": {k: v.description for k, v in VARIANTS.items()},
        "sets": {"s": {**res, "title": "five"}},
    }
    assert markdown(report).count("\n| ") == len(VARIANTS) + 1


def test_robustness_side_by_side_needs_the_same_images():
    """Two models' re-capture figures in one table, column by column; results of other
    images (another seed or sample) are refused rather than set side by side."""
    from benchmarks.robustness_report import side_by_side

    def result(flips: float, seed: int = 7, images: int = 10) -> dict:
        v = {"alert_flips": flips, "class_changes": 2 * flips}
        o = {"alerts": 0.3, "melanoma_roc_auc": 0.7}
        sets = {"held": {"images": images, "melanomas": 2, "original": o, "variants": {"b": v}}}
        return {"seed": seed, "variants": {"b": "brighter"}, "sets": sets}

    table = side_by_side({"plain": result(0.1), "levelled": result(0.02)})
    assert "| | plain | levelled |" in table
    assert "| brighter: alert flips / class changes | 10.0 % / 20.0 % | 2.0 % / 4.0 % |" in table
    for other in (result(0.02, seed=8), result(0.02, images=11)):
        with pytest.raises(ValueError, match="same images"):
            side_by_side({"plain": result(0.1), "other": other})


def test_feature_rows_are_read_once_and_again_when_the_file_changes(tmp_path):
    """``load_arrays`` keeps the last files read (one run is scored on several sets), but a
    re-written file is read again, the arrays cannot be changed in place, and a caller's new
    keys do not reach the next caller."""
    from benchmarks.common import load_arrays

    path = tmp_path / "rows.npz"
    np.savez(path, pooled=np.zeros((2, 3)))
    first = load_arrays(path)
    first["extra"] = np.ones(1)
    again = load_arrays(path)
    assert "extra" not in again and again["pooled"] is first["pooled"]
    with pytest.raises(ValueError):
        again["pooled"][0, 0] = 1.0
    np.savez(path, pooled=np.ones((4, 3)))
    assert load_arrays(path)["pooled"].shape == (4, 3)


def test_borderline_figures_count_re_takes_inside_and_outside_the_band_and_reach_the_card(
    tmp_path,
):
    """Flips per (image, re-take) for images whose original lies in the band and for the
    others; the mirror and the quarter turn (test-time views) and unassessable originals do
    not count; ``--write-card`` puts the held-out set's figures where the verdict reads them."""
    from benchmarks import robustness as rb
    from desktop.card import load_card
    from tests.fakes import card_dict

    def o(alert: bool, p: float, ok: bool = True) -> rb.Outcome:
        return rb.Outcome(
            alert=alert, top="nevus", shown="nevus", said="nevus", assessable=ok, melanoma=p
        )

    t = 0.05
    lo, hi = rb.band_ends(t)
    original = [
        o(True, 0.055),
        o(False, 0.045),
        o(True, 0.6),
        o(False, 0.001),
        o(False, 0.05, False),
    ]
    outcomes = {
        "original": original,
        "jpeg_q40": [o(False, 0.04), o(False, 0.045), o(True, 0.6), o(True, 0.9), o(True, 0.9)],
        "half_size": [o(True, 0.06), o(True, 0.06), o(True, 0.6), o(False, 0.001), o(True, 0.9)],
        "mirror": [o(False, 0.01)] * 5,  # a test-time view: never counted
    }
    b = rb.band_flips(outcomes, lo, hi)
    assert b["images_in_band"] == 2 and b["images"] == 4
    assert b["flips_in_band"] == 0.5  # 2 of 4 pairs
    assert b["flips_outside"] == 0.25  # 1 of 4 pairs
    res = {"sets": {rb.HELD_OUT: {"borderline": b}}}
    card_path = tmp_path / "model.json"
    card_path.write_text(json.dumps(card_dict(threshold=t)), encoding="utf-8")
    rb.write_card(card_path, rb.card_block(res, t))
    card = load_card(card_path)
    assert card.borderline is not None and card.borderline.flips_in_band == 0.5
    assert card.borderline.band == rb.BAND and card.borderline.images == 4
    with pytest.raises(SystemExit, match="threshold"):
        rb.write_card(card_path, rb.card_block(res, 0.2))
    assert load_card(card_path).borderline is not None  # the card is left as it was
    assert not card_path.with_name("model.json.tmp").exists()


@pytest.mark.skipif(not Path("/proc/self/smaps_rollup").is_file(), reason="Linux /proc only")
def test_adapt_memory_counts_the_children_it_reads_images_in() -> None:
    """benchmarks.adapt_speed sums the whole process tree's resident memory: a child holding
    64 MiB of its own adds about that much to its parent's figure."""
    import subprocess
    import time

    from benchmarks.adapt_speed import tree_rss_kib

    alone = tree_rss_kib(os.getpid())
    child = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import time; b = bytearray(64 << 20); b[::4096] = b'x' * (16384); time.sleep(30)",
        ]
    )
    try:
        deadline = time.time() + 20
        tree = 0.0
        while time.time() < deadline:
            tree = tree_rss_kib(os.getpid())
            if tree - alone > 60 * 1024:
                break
            time.sleep(0.1)
        assert tree - alone > 60 * 1024
    finally:
        child.kill()
        child.wait()
    assert tree_rss_kib(2**22 + 12345) == 0.0  # no such process
