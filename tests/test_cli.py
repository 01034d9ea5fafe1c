"""``python -m desktop --classify / --self-check``: schema, exit codes, no Qt, no TensorFlow."""

from __future__ import annotations

import io
import json
import math
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from desktop import cli
from desktop.inference import ModelLoadError
from tests.fakes import FakeClassifier, fresh_python, probs_for, write_images

ROOT = Path(__file__).resolve().parent.parent
KEYS = {
    "near_alert_threshold",
    "path",
    "label",
    "probabilities",
    "melanoma_probability",
    "melanoma_alert",
    "uncertain",
    "error",
}


def run_classify(paths, fake=None, as_json=True):
    out = io.StringIO()
    fake = fake or FakeClassifier()
    code = cli.classify(paths, as_json=as_json, factory=lambda _model: fake, out=out)
    return code, out.getvalue()


def check_schema(records, classes):
    assert isinstance(records, list)
    for rec in records:
        assert set(rec) >= KEYS
        if rec["error"] is None:
            assert rec["label"] in classes
            assert set(rec["probabilities"]) == set(classes)
            assert math.isclose(sum(rec["probabilities"].values()), 1.0, abs_tol=1e-6)
            assert isinstance(rec["melanoma_alert"], bool)
            assert isinstance(rec["uncertain"], bool)
            assert rec["melanoma_probability"] == rec["probabilities"]["melanoma"]
        else:
            assert isinstance(rec["error"], str) and "\n" not in rec["error"]
            for key in KEYS - {"path", "error"}:
                assert rec[key] is None


def test_json_all_good_exits_0(tmp_path):
    fake = FakeClassifier(probabilities=probs_for(FakeClassifier().card.classes, melanoma=0.3))
    files = write_images(tmp_path / "imgs", ["b.png", "a.png"])
    code, text = run_classify([tmp_path / "imgs"], fake)
    assert code == 0
    records = json.loads(text)
    check_schema(records, fake.card.classes)
    assert [Path(r["path"]).name for r in records] == ["a.png", "b.png"]  # sorted
    assert records[0]["melanoma_alert"] is True  # exactly at the threshold
    assert len(files) == 2


def test_json_with_unreadable_file_exits_3_and_reports_the_rest(tmp_path):
    (good,) = write_images(tmp_path, ["good.png"])
    bad = tmp_path / "bad.jpg"
    bad.write_bytes(b"definitely not a jpeg")
    code, text = run_classify([good, bad, tmp_path / "missing.png"])
    assert code == 3
    records = json.loads(text)
    check_schema(records, FakeClassifier().card.classes)
    assert [r["error"] is None for r in records] == [True, False, False]
    assert "not found" in records[2]["error"]


def test_table_output_is_readable(tmp_path):
    (good,) = write_images(tmp_path, ["good.png"])
    code, text = run_classify([good], as_json=False)
    assert code == 0
    assert "good.png" in text and "Nevus".lower() in text.lower() and "not a diagnosis" in text


def test_model_load_failure_exits_1(tmp_path, capsys):
    def broken(_model):
        raise ModelLoadError("model file not found: x.tflite")

    out = io.StringIO()
    assert cli.classify([tmp_path], as_json=True, factory=broken, out=out) == 1
    assert out.getvalue() == ""  # nothing half-written for a script to parse
    assert "model file not found" in capsys.readouterr().err


def test_real_loader_with_missing_model_exits_1(tmp_path):
    args = cli.parse_args(["--classify", str(tmp_path), "--model", str(tmp_path / "none.tflite")])
    assert cli.run(args) == 1


@pytest.mark.parametrize(
    "argv",
    [
        ["--classify"],
        ["--json", "x.png"],
        ["--classify", "--self-check", "x.png"],
        ["--self-check", "x.png"],
        ["--bogus"],
        ["--classify", "x.png", "--data-dir", "cases"],  # the window's store; nothing stored
    ],
)
def test_usage_errors_exit_2(argv):
    with pytest.raises(SystemExit) as exc:
        cli.parse_args(argv)
    assert exc.value.code == 2


def test_flags_may_follow_paths():
    args = cli.parse_args(["--classify", "a.png", "--json", "b.png"])
    assert args.classify and args.json and args.paths == ["a.png", "b.png"]


def test_self_check(tmp_path):
    out = io.StringIO()
    assert cli.self_check(factory=lambda _m: FakeClassifier(), out=out) == 0
    assert out.getvalue().rstrip().endswith("OK")

    def broken(_m):
        raise ModelLoadError("model card not found: model.json")

    out = io.StringIO()
    assert cli.self_check(factory=broken, out=out) == 1
    assert "FAILED" in out.getvalue()


def test_classify_path_imports_neither_qt_nor_tensorflow(tmp_path):
    """Run in a fresh interpreter: pytest-qt has already imported PySide6 here."""
    write_images(tmp_path / "imgs", ["a.png"])
    script = textwrap.dedent(
        f"""
        import sys
        from desktop import __main__ as entry, front_door
        from tests.fakes import FakeClassifier
        front_door.default_factory = lambda model: FakeClassifier()
        code = entry.main(["--classify", "--json", {str(tmp_path / "imgs")!r}])
        bad = [m for m in ("PySide6", "tensorflow") if m in sys.modules]
        print("IMPORTED", bad, file=sys.stderr)
        sys.exit(code if not bad else 99)
        """
    )
    proc = fresh_python(script)
    assert proc.returncode == 0, proc.stderr
    records = json.loads(proc.stdout)  # stdout holds exactly the JSON array
    assert len(records) == 1 and records[0]["label"] == "nevus"


# Issue 15: assessable, alert level, threshold, no images, log lines, plain reasons -------------


def test_json_records_carry_assessable_alert_level_and_threshold(tmp_path):
    classes = FakeClassifier().card.classes
    fake = FakeClassifier(
        probabilities=probs_for(classes, nevus=0.8),
        by_size={(210, 210): probs_for(classes, melanoma=0.35, nevus=0.5)},
    )
    write_images(tmp_path, ["a.png"])
    write_images(tmp_path / "b", ["b.png"], size=210)
    code, text = run_classify([tmp_path / "a.png", tmp_path / "b" / "b.png"], fake)
    assert code == 0
    plain, alert = json.loads(text)
    for rec in (plain, alert):
        assert rec["assessable"] is True and rec["reason"] is None
        assert rec["melanoma_threshold"] == pytest.approx(fake.card.melanoma_threshold)
    assert (plain["alert_level"], plain["melanoma_alert"]) == ("no_alert", False)
    assert (alert["alert_level"], alert["melanoma_alert"]) == ("alert", True)


def test_out_of_scope_image_has_no_class_and_no_alert(tmp_path):
    classes = FakeClassifier().card.classes
    fake = FakeClassifier(probabilities=probs_for(classes, melanoma=0.9), out_of_scope=[(230, 230)])
    write_images(tmp_path, ["photo.png"], size=230)
    write_images(tmp_path, ["lesion.png"], size=200)
    code, text = run_classify([tmp_path / "photo.png", tmp_path / "lesion.png"], fake)
    assert code == 0  # every file was read; one simply cannot be assessed
    photo, lesion = json.loads(text)
    assert photo["assessable"] is False and photo["label"] is None
    assert photo["melanoma_alert"] is False and photo["probabilities"] is None
    assert photo["alert_level"] == "cannot_assess" and photo["error"] is None
    assert "dermoscopy" in photo["reason"] and "\n" not in photo["reason"]
    assert lesion["assessable"] is True and lesion["melanoma_alert"] is True


def test_tiny_image_is_not_assessable_and_never_alerts(tmp_path):
    classes = FakeClassifier().card.classes
    fake = FakeClassifier(probabilities=probs_for(classes, melanoma=0.9))
    write_images(tmp_path, ["tiny.png"], size=20)
    code, text = run_classify([tmp_path / "tiny.png"], fake)
    (rec,) = json.loads(text)
    assert code == 0 and rec["assessable"] is False and rec["melanoma_alert"] is False
    assert "too small" in rec["reason"]
    code, table = run_classify([tmp_path / "tiny.png"], fake, as_json=False)
    assert "CANNOT ASSESS" in table and "MELANOMA" not in table.split("\n", 1)[1].split("\n")[0]


@pytest.mark.parametrize("as_json", [True, False])
def test_no_images_found_exits_3_with_a_message(tmp_path, capsys, as_json):
    (tmp_path / "empty").mkdir()
    (tmp_path / "empty" / "notes.txt").write_text("not an image")
    out = io.StringIO()
    code = cli.classify(
        [tmp_path / "empty"], as_json=as_json, factory=lambda _m: FakeClassifier(), out=out
    )
    assert code == 3
    assert "no image files found" in capsys.readouterr().err
    assert out.getvalue() == ("[]\n" if as_json else "")  # JSON stays parseable


def test_table_says_possible_melanoma_in_words(tmp_path):
    classes = FakeClassifier().card.classes
    fake = FakeClassifier(probabilities=probs_for(classes, melanoma=0.35, nevus=0.5))
    (good,) = write_images(tmp_path, ["good.png"])
    code, text = run_classify([good], fake, as_json=False)
    assert code == 0
    assert "POSSIBLE MELANOMA: refer to a dermatologist" in text
    assert "1 possible melanoma" in text and "threshold" not in text.lower()


def test_unreadable_reason_is_plain_and_said_once(tmp_path):
    data = io.BytesIO()
    from tests.fakes import lesion_image

    lesion_image(200).save(data, "JPEG", quality=90)
    cut = tmp_path / "cut.jpg"
    cut.write_bytes(data.getvalue()[: len(data.getvalue()) // 2])
    code, text = run_classify([cut])
    (rec,) = json.loads(text)
    assert code == 3
    assert "bytes not processed" not in rec["error"]
    assert rec["error"].count("truncated") == 1 and "incomplete" in rec["error"]
    code, table = run_classify([cut], as_json=False)
    row = next(line for line in table.splitlines() if line.startswith("cut.jpg"))
    assert row.count("cut.jpg") == 1 and "UNREADABLE" in row


NATIVE_LOG = "INFO: Created TensorFlow Lite XNNPACK delegate for CPU."


@pytest.mark.parametrize("as_json", [True, False], ids=["json", "table"])
def test_native_log_lines_never_reach_stdout(tmp_path, as_json):
    """A stand-in that writes to file descriptor 1 the way LiteRT's C++ code does."""
    write_images(tmp_path / "imgs", ["a.png", "b.png"])
    flags = ", '--json'" if as_json else ""
    script = textwrap.dedent(
        f"""
        import os, sys
        from desktop import __main__ as entry, front_door
        from tests.fakes import FakeClassifier

        class Noisy(FakeClassifier):
            def __init__(self):
                os.write(1, b{NATIVE_LOG!r} + b"\\n")
                super().__init__()
            def predict_image(self, img, with_cam=True):
                os.write(1, b"native chatter from inference\\n")
                return super().predict_image(img, with_cam)

        front_door.default_factory = lambda model: Noisy()
        sys.exit(entry.main(["--classify", {str(tmp_path / "imgs")!r}{flags}]))
        """
    )
    proc = fresh_python(script)
    assert proc.returncode == 0, proc.stderr
    assert "INFO" not in proc.stdout and "chatter" not in proc.stdout
    assert NATIVE_LOG in proc.stderr and proc.stderr.count("chatter") == 2
    if as_json:
        assert [Path(r["path"]).name for r in json.loads(proc.stdout)] == ["a.png", "b.png"]
    else:
        assert proc.stdout.startswith("FILE") and "a.png" in proc.stdout


def test_runtime_start_up_line_comes_before_the_table(tmp_path):
    """With the real LiteRT model and stdout and stderr on one terminal, the delegate line
    is printed while the model loads, above the table, not between its rows."""
    model = ROOT / "assets" / "model.tflite"
    if not model.is_file():
        pytest.skip("no shipped model")
    write_images(tmp_path / "imgs", ["a.png", "b.png"])
    proc = subprocess.run(
        [sys.executable, "-m", "desktop", "--classify", str(tmp_path / "imgs")],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        timeout=120,
        cwd=ROOT,
    )
    assert proc.returncode == 0, proc.stdout
    lines = proc.stdout.splitlines()
    header = next(i for i, line in enumerate(lines) if line.startswith("FILE"))
    logs = [i for i, line in enumerate(lines) if line.startswith("INFO")]
    assert all(i < header for i in logs), lines
    assert lines[header + 1].startswith("a.png") and lines[header + 2].startswith("b.png")


def test_help_names_the_history_and_adapt_commands(capsys):
    """`--help` is where people look first: it must say the other two commands exist."""
    from desktop.cli import parse_args

    with pytest.raises(SystemExit):
        parse_args(["--help"])
    out = " ".join(capsys.readouterr().out.split())
    assert "lesionlens history --help" in out
    assert "lesionlens adapt --help" in out
