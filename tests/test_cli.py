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
from tests.fakes import FakeClassifier, probs_for, write_images

ROOT = Path(__file__).resolve().parent.parent
KEYS = {
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
        sys.path.insert(0, {str(ROOT)!r})
        from desktop import __main__ as entry, cli
        from tests.fakes import FakeClassifier
        cli.default_factory = lambda model: FakeClassifier()
        code = entry.main(["--classify", "--json", {str(tmp_path / "imgs")!r}])
        bad = [m for m in ("PySide6", "tensorflow") if m in sys.modules]
        print("IMPORTED", bad, file=sys.stderr)
        sys.exit(code if not bad else 99)
        """
    )
    proc = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=120, cwd=ROOT
    )
    assert proc.returncode == 0, proc.stderr
    records = json.loads(proc.stdout)  # stdout holds exactly the JSON array
    assert len(records) == 1 and records[0]["label"] == "nevus"
