"""``python -m trainer analyse``: argument handling, and the calibration analysis on the shipped model."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from conftest import make_dataset

from trainer.__main__ import main

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.parametrize("analysis", ["cues", "calibration"])
def test_missing_run_folder_is_a_usage_error(analysis, tmp_path, capsys):
    missing = tmp_path / "no-such-run"
    assert main(["analyse", analysis, "--run", str(missing)]) == 2
    out, err = capsys.readouterr()
    assert out == ""
    assert err.strip() == f"error: run folder not found: {missing}"


def test_run_without_its_files_names_the_missing_one(tmp_path, capsys):
    (tmp_path / "config.json").write_text("{}")
    assert main(["analyse", "cues", "--run", str(tmp_path)]) == 2
    assert "model.json not found" in capsys.readouterr().err
    assert main(["analyse", "calibration", "--run", str(tmp_path)]) == 2
    assert "split.json not found" in capsys.readouterr().err


def test_calibration_checks_model_and_target_before_loading(tmp_path, capsys):
    (tmp_path / "split.json").write_text("{}")
    bad_model = tmp_path / "none.tflite"
    assert main(["analyse", "calibration", "--run", str(tmp_path), "--model", str(bad_model)]) == 2
    assert f"model not found: {bad_model}" in capsys.readouterr().err
    assert main(["analyse", "calibration", "--run", str(tmp_path), "--target", "1.5"]) == 2
    assert "--target must be between 0 and 1" in capsys.readouterr().err


def test_analysis_kind_is_required(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["analyse"])
    assert exc.value.code == 2
    assert "cues" in capsys.readouterr().err


def test_calibration_of_the_shipped_model_on_a_synthetic_split(tmp_path, capsys):
    card = json.loads((ROOT / "assets" / "model.json").read_text(encoding="utf-8"))
    data = make_dataset(tmp_path / "data", classes=tuple(card["classes"]), per_class=2)
    rows = [{"path": str(p), "class": p.parent.name} for p in sorted(data.rglob("*.jpg"))]
    run = tmp_path / "run"
    run.mkdir()
    (run / "split.json").write_text(json.dumps({"val": rows, "internal_test": []}))
    before = sorted(run.rglob("*"))

    assert main(["analyse", "calibration", "--run", str(run), "--split", "val"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["images"] == len(rows) == 2 * len(card["classes"])
    assert result["split"] == "val" and result["target"] == 0.05
    assert 0 <= result["ece"] <= 1 and 0 <= result["accuracy"] <= 1
    low, mid, high = result["calibrated_ece_percentiles_5_50_95"]
    assert 0 <= low <= mid <= high <= 1
    assert sorted(run.rglob("*")) == before  # the run folder is never written to

    # An empty split is an error, not a division by zero.
    assert main(["analyse", "calibration", "--run", str(run)]) == 2
    assert "no readable images in split 'internal_test'" in capsys.readouterr().err


def test_compare_tabulates_every_split_and_source_from_report_json(tmp_path):
    from trainer.analyse import compare

    run = tmp_path / "run-a"
    run.mkdir()
    mel = {"roc_auc": 0.8125, "sensitivity": 0.9, "specificity": 0.45, "threshold": 0.1}
    source = {"images": 40, "melanomas": 10, "balanced_accuracy": 0.5, "melanoma": mel}
    report = {
        "evaluations": {
            "val": {"by_source": {"ham": source}},
            "holdout": {
                "by_source": {"isic2017": {**source, "melanoma": {**mel, "roc_auc": None}}}
            },
        }
    }
    (run / "report.json").write_text(json.dumps(report))
    table = compare([run]).splitlines()
    assert table[2] == "| run-a | val | ham | 40 | 10 | 0.500 | 0.812 | 0.900 | 0.450 |"
    assert table[3].startswith("| run-a | holdout | isic2017 |") and "| n/a |" in table[3]
    assert len(table) == 4


def test_tta_views_are_the_eight_symmetries_and_none_is_the_plain_model(tmp_path, capsys):
    from desktop.imaging import model_views

    square = np.arange(4 * 4 * 3).reshape(4, 4, 3)
    seen = {view.tobytes() for view in model_views(square, "dihedral")}
    assert len(seen) == 8  # eight different images: no view repeated, none missing
    batch = np.stack([square, square + 1])
    for one, many in zip(model_views(square, "flips"), model_views(batch, "flips"), strict=True):
        assert (many[0] == one).all()  # a batch's views are its images' views

    card = json.loads((ROOT / "assets" / "model.json").read_text(encoding="utf-8"))
    data = make_dataset(tmp_path / "data", classes=tuple(card["classes"]), per_class=1)
    rows = [{"path": str(p), "class": p.parent.name} for p in sorted(data.rglob("*.jpg"))]
    run = tmp_path / "run"
    run.mkdir()
    (run / "split.json").write_text(json.dumps({"val": rows}))

    assert main(["analyse", "calibration", "--run", str(run), "--split", "val"]) == 0
    plain = json.loads(capsys.readouterr().out)
    assert main(["analyse", "tta", "--run", str(run), "--split", "val"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["images"] == len(rows) and result["melanomas"] == 1
    assert [result[k]["views"] for k in ("none", "flips", "dihedral")] == [1, 4, 8]
    assert result["none"]["accuracy"] == pytest.approx(plain["accuracy"])
    for k in ("none", "flips", "dihedral"):
        assert 0 <= result[k]["balanced_accuracy"] <= 1
        assert 0 <= result[k]["melanoma_roc_auc"] <= 1
    assert main(["analyse", "tta", "--run", str(tmp_path / "nope")]) == 2
