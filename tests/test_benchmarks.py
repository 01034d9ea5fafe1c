"""Smoke test of ``benchmarks/run.py`` in quick mode on the tiny trained run.

Checks the shape of the results (every section present, numbers positive),
never the timings themselves: CI machines are too noisy for that.
"""

from __future__ import annotations

import importlib.util
import json
import math
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def bench():
    spec = importlib.util.spec_from_file_location(
        "lesionlens_bench", ROOT / "benchmarks" / "run.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def positive(node) -> bool:
    return isinstance(node, int | float) and math.isfinite(node) and node > 0


def test_quick_benchmark_writes_expected_json(bench, tiny_model, tmp_path):
    model = Path(tiny_model)
    run_dir = model.parent
    res = bench.benchmark(
        run_dir,
        model,
        bench.Settings(quick=True, repeats=1),
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
    assert positive(res["app_start_s"]["unfrozen"]["median"])
    assert "frozen" in res["app_start_s"]  # a number or n/a (no bundle)
    for key in ("pipeline_images_per_s", "train_step_images_per_s", "fit_images_per_s"):
        assert positive(res["training"][key]["median"]), key
    assert [t["pass"] in (True, False) for t in res["targets"]] == [True] * 4

    table = bench.format_table(res)
    assert "PASS" in table or "FAIL" in table


def test_missing_pieces_are_reported_not_raised(bench, tiny_model, tmp_path):
    """A run folder without float export, Keras model, config or split still yields a report."""
    model = Path(tiny_model)
    bare = tmp_path / "bare"
    bare.mkdir()
    s = bench.Settings(quick=True, repeats=1)
    latency = bench.guarded(bench.litert_latency, bare / "model_float32.tflite", None, 1, None, s)
    assert "n/a" in latency
    assert "n/a" in bench.guarded(bench.load_heldout, bare, None, 0)
    res = {"targets": bench.targets({}, model)}
    assert [t["pass"] for t in res["targets"]][:3] == [None, None, None]
