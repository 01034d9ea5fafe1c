"""End-to-end with a real LiteRT model (the ``tiny_model`` fixture from conftest).

Skipped when no ``tiny_model`` fixture is defined, so the suite runs before the
trainer can produce one. Subprocesses give a clean ``sys.modules`` to prove
that classifying imports neither TensorFlow nor (for the CLI) PySide6.
"""

from __future__ import annotations

import json
import math
import subprocess
import textwrap
from pathlib import Path

import pytest

from desktop.inference import Classifier
from desktop.qt.app import build_window
from desktop.results import classify_path
from tests.fakes import fresh_python, write_images

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def real_model(request) -> Path:
    try:
        return Path(request.getfixturevalue("tiny_model"))
    except pytest.FixtureLookupError:
        pytest.skip("no tiny_model fixture in conftest yet")


def run_entry(args: list[str], check_modules: tuple[str, ...]) -> subprocess.CompletedProcess:
    """``python -m desktop ARGS`` in a fresh interpreter, then assert modules stayed unloaded."""
    script = textwrap.dedent(
        f"""
        import sys
        from desktop.__main__ import main
        code = main({args!r})
        sys.stdout.flush()
        loaded = [m for m in {check_modules!r} if m in sys.modules]
        if loaded:
            print("LOADED:", loaded, file=sys.stderr)
            sys.exit(98)
        sys.exit(code)
        """
    )
    return fresh_python(script, timeout=180)


def test_cli_json_with_real_model_and_no_tensorflow(real_model, tmp_path):
    write_images(tmp_path / "imgs", ["b.png", "a.png"])
    bad = tmp_path / "imgs" / "c.jpg"
    bad.write_bytes(b"not an image")
    proc = run_entry(
        ["--classify", "--json", "--model", str(real_model), str(tmp_path / "imgs")],
        ("tensorflow", "PySide6"),
    )
    assert proc.returncode == 3, proc.stderr
    records = json.loads(proc.stdout)
    assert [Path(r["path"]).name for r in records] == ["a.png", "b.png", "c.jpg"]
    classes = json.loads(real_model.with_suffix(".json").read_text())["classes"]
    for rec in records[:2]:
        assert rec["error"] is None and rec["label"] in classes
        assert set(rec["probabilities"]) == set(classes)
        assert math.isclose(sum(rec["probabilities"].values()), 1.0, abs_tol=1e-5)
        assert isinstance(rec["melanoma_alert"], bool) and isinstance(rec["uncertain"], bool)
    assert records[2]["error"] and records[2]["label"] is None


def test_self_check_with_real_model(real_model):
    proc = run_entry(["--self-check", "--model", str(real_model)], ("tensorflow", "PySide6"))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert proc.stdout.rstrip().endswith("OK")


def test_broken_model_exits_1(tmp_path, real_model):
    broken = tmp_path / "model.tflite"
    broken.write_bytes(b"not a flatbuffer")
    (tmp_path / "model.json").write_text(real_model.with_suffix(".json").read_text())
    proc = run_entry(["--classify", "--json", "--model", str(broken), str(tmp_path)], ())
    assert proc.returncode == 1 and proc.stdout == ""
    assert "cannot load the model" in proc.stderr


def test_window_with_real_model_matches_cli(qtbot, qsettings, real_model, tmp_path):
    classifier = Classifier(real_model)
    window, controller = build_window(classifier, settings=qsettings, samples=tmp_path / "none")
    qtbot.addWidget(window)
    (img,) = write_images(tmp_path, ["lesion.png"])
    with qtbot.waitSignal(controller.runner.jobFinished, timeout=30_000):
        controller.open_paths([img])
    qtbot.waitUntil(lambda: window.image_view.photo is not None, timeout=30_000)
    assert window.image_view.has_overlay  # the CAM came through
    assert round(sum(v for _, v in window.bars.shown()), 6) == 100.0
    shown = controller.current.prediction.probabilities
    again = classify_path(Classifier(real_model), img).prediction.probabilities
    assert list(shown) == pytest.approx(list(again), abs=1e-6)


def test_window_classifying_does_not_import_tensorflow(real_model, tmp_path):
    (img,) = write_images(tmp_path, ["lesion.png"])
    script = textwrap.dedent(
        f"""
        import os, sys
        os.environ["QT_QPA_PLATFORM"] = "offscreen"
        from PySide6.QtCore import QSettings
        from desktop.qt.app import build_window, create_application, load_classifier
        app = create_application()
        classifier, error = load_classifier(__import__("pathlib").Path({str(real_model)!r}))
        assert classifier is not None, error
        settings = QSettings({str(tmp_path / "s.ini")!r}, QSettings.Format.IniFormat)
        window, controller = build_window(classifier, settings=settings)
        controller.open_paths([{str(img)!r}])
        controller.runner.wait(60_000)
        app.processEvents()
        assert controller.current is not None and controller.current.ok
        assert "tensorflow" not in sys.modules, "TensorFlow was imported"
        controller.shutdown()
        print("CLEAN")
        """
    )
    proc = fresh_python(script, timeout=180)
    assert proc.returncode == 0 and "CLEAN" in proc.stdout, proc.stderr


def test_a_slightly_blurred_photo_is_judged_with_a_caution(real_model):
    """Soft focus between the blur refusal and a sharp photo: the real classifier assesses it,
    keeps the class the probabilities give, and says the result is less reliable."""
    from PIL import ImageFilter

    from desktop import quality, verdict
    from desktop.imaging import preprocess
    from tests.fakes import lesion_image

    clf = Classifier(real_model)
    for tenths in range(5, 600, 3):  # the first radius whose model input lands in the band
        img = lesion_image(300).filter(ImageFilter.GaussianBlur(tenths / 10))
        s = quality.sharpness(preprocess(img, clf.card.preprocessing))
        if quality.MIN_SHARPNESS <= s < quality.SOFT_SHARPNESS:
            break
    else:
        pytest.fail("no blur radius gave a sharpness in the caution band")
    pred = clf.predict_image(img, with_cam=False)
    assert pred.assessable and pred.quality_issues == ()
    (caution,) = [c for c in pred.cautions if "slightly blurred" in c]
    shown = float(caution.split("sharpness ", 1)[1].split(";", 1)[0])
    assert shown < quality.SOFT_SHARPNESS and abs(shown - s) < 0.5
    said = verdict.verdict_for(pred, clf.card)
    assert "less reliable" in said.text and caution in said.reasons
    sharp = lesion_image(300)
    assert quality.sharpness(preprocess(sharp, clf.card.preprocessing)) >= quality.SOFT_SHARPNESS
    assert not [c for c in clf.predict_image(sharp, with_cam=False).cautions if "blurred" in c]


def test_a_file_and_a_decoded_image_get_the_same_quality_findings(real_model, tmp_path):
    """The file path (the command line's, the window's: measured once on a worker, handed on)
    and the decoded image's give the same soft-focus caution; a black-and-white copy of the
    same photo is refused on both, with no class, no alert and no heat-map."""
    from PIL import ImageFilter

    from desktop import quality
    from desktop.imaging import preprocess
    from tests.fakes import lesion_image

    clf = Classifier(real_model)
    for tenths in range(5, 600, 3):
        soft = lesion_image(300).filter(ImageFilter.GaussianBlur(tenths / 10))
        if (
            quality.MIN_SHARPNESS
            <= quality.sharpness(preprocess(soft, clf.card.preprocessing))
            < quality.SOFT_SHARPNESS
        ):
            break
    grey = lesion_image(300).convert("L")
    for name, img in (("soft.png", soft), ("grey.png", grey)):
        img.save(tmp_path / name)
        from_file = classify_path(clf, tmp_path / name).prediction
        decoded = clf.predict_image(img)
        assert from_file.cautions == decoded.cautions
        assert from_file.quality_issues == decoded.quality_issues
    assert [c for c in from_file.cautions if "slightly blurred" in c] == []  # grey: refused
    assert not decoded.assessable and decoded.cam is None
    (reason,) = decoded.quality_issues
    assert reason.startswith("the image is black and white")
    soft_pred = classify_path(clf, tmp_path / "soft.png").prediction
    assert soft_pred.assessable and any("slightly blurred" in c for c in soft_pred.cautions)
