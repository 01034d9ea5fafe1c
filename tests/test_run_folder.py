"""The run folder (trainer/run_folder.py): one owner of every file a training run writes,
and report.md rendered whole from report.json and the card (trainer/report.py)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from trainer.config import TrainConfig
from trainer.report import SECTIONS, ReportInput, render_installed_report, render_report
from trainer.run_folder import RunFileMissing, RunFolder, read_cache, write_cache, write_json


def test_file_names_are_the_ones_runs_have_always_had(tmp_path: Path) -> None:
    # Tools, docs and installed runs rely on these names: a rename is a format change.
    run = RunFolder(tmp_path)
    names = {
        run.config: "config.json",
        run.audit: "audit.json",
        run.split: "split.json",
        run.balance: "balance.json",
        run.report_json: "report.json",
        run.report_md: "report.md",
        run.card: "model.json",
        run.model: "model.tflite",
        run.model_float32: "model_float32.tflite",
        run.model_keras: "model.keras",
        run.installed_card: "model.installed.json",
        run.installed_report: "report.installed.md",
        run.cache("val"): "cache/val.npz",
        run.probs("val"): "val_probs.npz",
        run.operating_points: "operating_points.json",
        run.last_checkpoint: "checkpoints/last.keras",
        run.best_weights: "checkpoints/best.weights.h5",
        run.state: "checkpoints/state.json",
        run.plots: "plots",
        run.work: "work",
    }
    for path, name in names.items():
        assert path == tmp_path / name


def test_json_files_round_trip(tmp_path: Path) -> None:
    run = RunFolder(tmp_path)
    config = TrainConfig(seed=7, image_size=64)
    run.write_config(config)
    assert run.read_config() == config
    data = {"a": np.float32(0.5), "b": np.arange(3), "c": Path("x/y"), "d": [1, "two"]}
    plain = {"a": 0.5, "b": [0, 1, 2], "c": "x/y", "d": [1, "two"]}
    for write, read in (
        (run.write_audit, run.read_audit),
        (run.write_split, run.read_split),
        (run.write_report, run.read_report),
        (run.write_card, run.read_card),
    ):
        write(data)
        assert read() == plain
    run.write_balance({"nevus": 3}, {"nevus": 5})
    assert run.read_balance() == {"before": {"nevus": 3}, "after": {"nevus": 5}}
    run.write_report_md("# Model report\n")
    assert run.read_report_md() == "# Model report\n"
    # The exact bytes every run has written: two-space indent and a final newline.
    assert run.card.read_text(encoding="utf-8") == json.dumps(plain, indent=2) + "\n"
    assert run.config.read_text(encoding="utf-8") == json.dumps(config.to_dict(), indent=2) + "\n"


def test_config_written_before_a_setting_existed_reads_at_its_default(tmp_path: Path) -> None:
    run = RunFolder(tmp_path)
    old = TrainConfig().to_dict()
    del old["test_time_views"]
    write_json(run.config, {**old, "gone_setting": 1})
    assert run.read_config().test_time_views == TrainConfig().test_time_views


def test_checkpoint_state_probs_and_operating_points_round_trip(tmp_path: Path) -> None:
    run = RunFolder(tmp_path)
    assert run.read_state() == {}  # before the first epoch
    run.checkpoints.mkdir()
    run.write_state({"epoch": 2, "history": [{"loss": 1.5}]})
    assert run.read_state() == {"epoch": 2, "history": [{"loss": 1.5}]}
    probs, y = np.eye(3)[[0, 2]], np.array([0, 2])
    run.write_probs("val", probs, y)
    got_probs, got_y = run.read_probs("val")
    assert np.array_equal(got_probs, probs) and np.array_equal(got_y, y)
    run.write_operating_points({"alert": {"melanoma_high": 0.8}})
    assert json.loads(run.operating_points.read_text())["alert"] == {"melanoma_high": 0.8}


def test_split_records_read_old_and_new_split_files(tmp_path: Path) -> None:
    run = RunFolder(tmp_path)
    run.write_split(
        {
            "val": [{"path": "/d/nevus/a.jpg", "class": "nevus", "source": "s"}],
            "test": ["/d/melanoma/b.jpg"],  # older runs: bare paths, class = folder
        }
    )
    assert run.split_records("val") == [(Path("/d/nevus/a.jpg"), "nevus")]
    assert run.split_records("test") == [(Path("/d/melanoma/b.jpg"), "melanoma")]
    assert run.split_records("holdout") == []


def test_image_cache_round_trips_and_a_stale_key_is_a_miss(tmp_path: Path) -> None:
    path = RunFolder(tmp_path).cache("train")
    assert read_cache(path, "k1") is None
    x, y = np.zeros((2, 4, 4, 3), np.uint8), np.array([1, 0])
    write_cache(path, x, y, [0, 2], "k1")
    got = read_cache(path, "k1")
    assert got is not None
    assert np.array_equal(got[0], x) and np.array_equal(got[1], y) and got[2].tolist() == [0, 2]
    assert read_cache(path, "k2") is None
    assert not list(path.parent.glob("*.tmp.npz"))


def test_a_missing_file_names_itself(tmp_path: Path) -> None:
    run = RunFolder(tmp_path / "run")
    with pytest.raises(RunFileMissing, match=r"split\.json not found: .*run.split\.json"):
        run.split_records("val")
    with pytest.raises(RunFileMissing, match=r"model card \(model\.json\) not found"):
        run.read_card()
    for read in (run.read_config, run.read_report, run.read_report_md):
        with pytest.raises(FileNotFoundError):  # RunFileMissing is one: old handlers still work
            read()
    with pytest.raises(RunFileMissing, match="run folder not found"):
        run.need(run.card)
    run.path.mkdir()
    with pytest.raises(RunFileMissing, match=r"model\.keras not found") as caught:
        run.need(run.model_keras)
    assert caught.value.path == run.model_keras


def _report_input() -> ReportInput:
    """The smallest report.json and card the report renders."""
    figures = {
        "images": 10,
        "accuracy": 0.8,
        "balanced_accuracy": 0.7,
        "melanoma": {"sensitivity": 0.9, "specificity": 0.6, "roc_auc": 0.85, "threshold": 0.3},
        "ece": 0.05,
        "per_class": {
            "nevus": {"precision": 0.8, "recall": 0.9, "f1": 0.85, "roc_auc": None, "support": 5}
        },
    }
    by_source = {"isic": {"images": 10, "melanomas": 2, "accuracy": 0.8, "balanced_accuracy": 0.7}}
    by_source["isic"]["melanoma"] = figures["melanoma"]
    evaluation = {"int8": figures, "float": figures, "by_source": by_source}
    metrics = {
        "measured_on": "val",
        "model": "int8",
        **{k: 0.5 for k in ("accuracy", "balanced_accuracy", "macro_f1", "macro_roc_auc")},
        **{k: 0.5 for k in ("melanoma_sensitivity", "melanoma_specificity")},
        **{k: 0.05 for k in ("ece_before_temperature", "ece_after_temperature")},
        "float_accuracy": 0.8,
        "quantized_top1_agreement": 0.99,
        "images": 10,
    }
    card = {
        "model_version": "2026.01.01-abc",
        "trainer_version": "1",
        "created": "today",
        "metrics": metrics,
        "alert": {"melanoma_threshold": 0.3, "target_sensitivity": 0.9},
        "calibration": {"temperature": 1.5},
    }
    report = {
        "evaluations": {"val": evaluation},
        "model_bytes": 4096,
        "training": {"epochs_run": 2, "best_epoch": 1, "train_seconds": 60, "wall_seconds": 90},
        "config": {"seed": 0, "data": ["x"], "out": "y"},
    }
    return ReportInput(report, card)


def test_report_is_its_sections_in_order() -> None:
    r = _report_input()
    text = render_report(r)
    assert text == "\n".join(line for section in SECTIONS for line in section(r))
    headings = [line for line in text.splitlines() if line.startswith("#")]
    assert headings == [
        "# Model report",
        "## Per class",
        "## Every split",
        "## Per source",
        "## Training",
        "## Plots",
    ]
    assert text.endswith("(kept in `docs/`).\n")
    assert "roc_by_source" not in text
    roc = render_report(ReportInput(r.report, r.card, roc=True))
    assert "![melanoma ROC per source](plots/roc_by_source.png)\n\n## Training" in roc


def test_installed_report_is_rendered_again_with_the_out_of_source_check(tmp_path: Path) -> None:
    r = _report_input()
    run = RunFolder(tmp_path)
    run.write_report(r.report)
    oos = {
        "config": {"holdout_source": "vienna"},
        "evaluations": {"holdout": r.report["evaluations"]["val"]},
        "card_metrics": {"model": "int8"},
    }
    plain = render_report(r)
    installed = render_installed_report(run, r.card, oos, "holdout-vienna")
    # The section sits just before "## Per source", everything else as in report.md.
    cut = plain.index("## Per source")
    section = installed[cut : installed.index("## Per source")]
    assert installed == plain[:cut] + section + plain[cut:]
    assert section.startswith("## Out-of-source check\n")
    assert "run `holdout-vienna`" in section and section.endswith("roc_out_of_source.png)\n\n")


def _held_out_run(path: Path, config: dict) -> RunFolder:
    run = RunFolder(path)
    path.mkdir()
    figures = {"images": 40, "accuracy": 0.5, "balanced_accuracy": 0.4}
    figures["melanoma"] = {"sensitivity": 0.8, "specificity": 0.6, "roc_auc": 0.7}
    run.write_report(
        {
            "config": config,
            "evaluations": {"holdout": {"int8": figures}},
            "card_metrics": {"model": "int8"},
        }
    )
    return run


def test_the_out_of_source_check_takes_only_a_run_of_the_same_recipe(tmp_path: Path) -> None:
    from trainer.export import ExportError, attach_out_of_source

    shipped = RunFolder(tmp_path / "shipped")
    shipped.path.mkdir()
    config = TrainConfig(data=("a", "b"), consistency=4.0).to_dict()
    # The shipped run saved before some knob existed (so without it), its held-out run after:
    # still the same recipe, as the one owner of "same recipe", trainer.config.recipe, says.
    write_json(shipped.config, {k: v for k, v in config.items() if k != "exposure_level"})
    shipped.write_card({"metrics": {}})
    same = _held_out_run(tmp_path / "same", {**config, "holdout_source": "b", "out": "x"})
    card_path, _ = attach_out_of_source(shipped.path, same.path)
    figures = json.loads(card_path.read_text())["metrics"]["out_of_source"]
    assert figures["source"] == "b" and figures["melanoma_roc_auc"] == 0.7
    other = _held_out_run(tmp_path / "other", {**config, "consistency": 0.0, "holdout_source": "b"})
    with pytest.raises(ExportError, match="differs in: consistency"):
        attach_out_of_source(shipped.path, other.path)


def test_a_recipe_names_its_sources_by_folder_wherever_they_sit() -> None:
    from trainer.config import recipe

    here = recipe({"data": ["../shared/data/isic2017", "/mnt/ham10000"], "consistency": 4.0})
    assert here == recipe({"data": ["isic2017", "ham10000"], "consistency": 4.0})
    assert here != recipe({"data": ["isic2017"], "consistency": 4.0})
    assert recipe({}) == {}


def test_a_killed_session_still_counts_up_to_its_last_finished_epoch():
    """The run's time is stamped into the checkpoint state at every epoch: a session killed
    after its first epoch (no Ctrl-C, no export) is counted when the run resumes."""
    from trainer.run_clock import RunClock

    t = [100.0]
    state: dict = {}
    first = RunClock(state, wall_start=100.0, now=lambda: t[0])
    t[0] = 110.0  # data read, decoded
    first.start_fit()
    t[0] = 170.0  # epoch 1 ends: the checkpoint writes the state
    saved = dict(first.stamp(state))
    assert saved == {"wall_seconds": 70.0, "train_seconds": 60.0}
    t[0] = 500.0  # killed during epoch 2: nothing more is written
    t[0] = 1000.0  # the next session resumes from the saved state
    second = RunClock(saved, wall_start=1000.0, now=lambda: t[0])
    t[0] = 1005.0
    second.start_fit()
    t[0] = 1065.0  # epoch 2 ends
    second.stamp(saved)
    t[0] = 1080.0  # evaluated and exported: wall time runs on, training time does not
    second.stamp(saved, fitting=False)
    assert saved == {"wall_seconds": 70.0 + 80.0, "train_seconds": 60.0 + 60.0}
    # a run finished before the state kept its time: the report's figure is the earlier time
    old = RunClock({}, wall_start=0.0, earlier_wall=90.0, now=lambda: 10.0)
    assert old.stamp({}, fitting=False)["wall_seconds"] == 100.0
