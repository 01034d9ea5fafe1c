"""The card's seal on its model (desktop/integrity.py): a damaged model file, a card with
swapped class names or a changed preprocessing setting are refused; the shipped pair passes.

Uses the shipped model (a few forward passes each), copied to a temporary folder and broken
there, so nothing in ``assets/`` is touched.
"""

from __future__ import annotations

import base64
import copy
import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from desktop.__main__ import main as cli_main
from desktop.card import CardError, ModelCard, validate
from desktop.general import copy_beside
from desktop.hashing import sha256_file
from desktop.inference import Classifier, ModelLoadError
from desktop.integrity import KEY, SEPARATION, verify_check_images
from desktop.seal import seal_card
from tests.fakes import fresh_python

ROOT = Path(__file__).resolve().parent.parent
MODEL = ROOT / "assets" / "model.tflite"
CARD = ROOT / "assets" / "model.json"


def shipped_card() -> dict[str, Any]:
    return json.loads(CARD.read_text(encoding="utf-8"))


def copy_model(dst: Path, card: dict[str, Any] | None = None) -> Path:
    """The shipped model in ``dst``, with ``card`` (default: the shipped one) beside it."""
    dst.mkdir(parents=True, exist_ok=True)
    shutil.copy(MODEL, dst / "model.tflite")
    card = card if card is not None else shipped_card()
    (dst / "model.json").write_text(json.dumps(card, indent=2), encoding="utf-8")
    copy_beside(card, MODEL.parent, dst)
    return dst / "model.tflite"


def flip_middle(model: Path, count: int = 64) -> None:
    """Invert ``count`` bytes in the middle of the file: it still parses and runs (today)."""
    data = bytearray(model.read_bytes())
    mid = len(data) // 2
    data[mid : mid + count] = bytes(b ^ 0xFF for b in data[mid : mid + count])
    model.write_bytes(bytes(data))


def self_check(model: Path, capsys) -> tuple[int, str, str]:
    code = cli_main(["--self-check", "--model", str(model)])
    out = capsys.readouterr()
    return code, out.out, out.err


def failed_line(stdout: str) -> str:
    lines = [line for line in stdout.splitlines() if line.startswith("FAILED")]
    assert len(lines) == 1, stdout
    return lines[0]


# ------------------------------------------------------------------ the shipped pair


def test_shipped_card_seals_the_shipped_model() -> None:
    seal = ModelCard.from_dict(shipped_card()).integrity
    assert seal is not None, "the shipped card must carry an integrity block"
    assert seal.model_sha256 == sha256_file(MODEL)
    assert 1 <= len(seal.check_images) <= 8


def test_shipped_model_passes_self_check(capsys) -> None:
    code, out, err = self_check(MODEL, capsys)
    assert code == 0, out + err
    assert "integrity: model file SHA-256 matches the card; 4 check images match" in out
    assert out.rstrip().endswith("OK") and "no integrity seal" not in err


def test_check_images_tell_every_pair_of_classes_apart() -> None:
    """So that swapping any two class names in the card moves some check image's figures."""
    seal = ModelCard.from_dict(shipped_card()).integrity
    assert seal is not None
    classes = shipped_card()["classes"]
    for i, a in enumerate(classes):
        for b in classes[i + 1 :]:
            gap = max(abs(c.probabilities[a] - c.probabilities[b]) for c in seal.check_images)
            assert gap >= SEPARATION, (a, b)


# ------------------------------------------------------------------ a damaged model file


def test_tampered_model_is_refused_by_the_classifier(tmp_path: Path) -> None:
    model = copy_model(tmp_path)
    flip_middle(model)
    with pytest.raises(ModelLoadError, match="damaged or was replaced") as info:
        Classifier(model)
    assert "\n" not in str(info.value) and "model.tflite" in str(info.value)


def test_tampered_model_fails_self_check_in_one_line(tmp_path: Path, capsys) -> None:
    model = copy_model(tmp_path)
    flip_middle(model)
    code, out, err = self_check(model, capsys)
    assert code == 1
    assert "damaged or was replaced" in failed_line(out)
    errors = [line for line in err.splitlines() if "cannot load the model" in line]
    assert len(errors) == 1 and "damaged or was replaced" in errors[0]
    assert "Traceback" not in out + err


# ------------------------------------------------------------------ a card that lies


def test_swapped_class_names_fail_self_check(tmp_path: Path, capsys) -> None:
    card = shipped_card()
    classes = card["classes"]
    a, b = classes.index("nevus"), classes.index("seborrheic keratosis")
    classes[a], classes[b] = classes[b], classes[a]
    model = copy_model(tmp_path, card)
    Classifier(model)  # a valid card and the right file: only the check images can tell
    code, out, _ = self_check(model, capsys)
    assert code == 1
    line = failed_line(out)
    assert "check image" in line and ("nevus" in line or "seborrheic keratosis" in line)


def test_swapping_melanoma_with_another_class_fails_self_check(tmp_path: Path, capsys) -> None:
    card = shipped_card()
    classes = card["classes"]
    a, b = classes.index("melanoma"), classes.index("nevus")
    classes[a], classes[b] = classes[b], classes[a]
    card["melanoma_index"] = b
    code, out, _ = self_check(copy_model(tmp_path, card), capsys)
    assert code == 1 and "check image" in failed_line(out)


@pytest.mark.parametrize(
    ("key", "value"),
    [("color_constancy", "none"), ("crop", 0.9), ("constancy_power", 4)],
)
def test_wrong_preprocessing_fails_self_check(tmp_path: Path, capsys, key: str, value) -> None:
    card = shipped_card()
    card["preprocessing"][key] = value
    code, out, _ = self_check(copy_model(tmp_path, card), capsys)
    assert code == 1
    assert "preprocessing" in failed_line(out)


def test_other_test_time_views_fail_self_check(tmp_path: Path, capsys) -> None:
    card = shipped_card()
    card["test_time_views"] = "none"
    code, out, _ = self_check(copy_model(tmp_path, card), capsys)
    assert code == 1 and "check image" in failed_line(out)


def test_unsealed_older_card_passes_self_check_with_a_warning(tmp_path: Path, capsys) -> None:
    card = shipped_card()
    del card[KEY]
    model = copy_model(tmp_path, card)
    flip_middle(model, count=0)  # untouched
    code, out, err = self_check(model, capsys)
    assert code == 0 and "integrity: not sealed (older card)" in out
    warnings = [line for line in err.splitlines() if "no integrity seal" in line]
    assert len(warnings) == 1


# ------------------------------------------------------------------ the card's validation


def _bad(mutate) -> dict[str, Any]:
    card = shipped_card()
    mutate(card[KEY])
    return card


def _png_of(text: bytes) -> str:
    return base64.b64encode(text).decode("ascii")


MALFORMED = {
    "short hash": lambda b: b.update(model_sha256=b["model_sha256"][:63]),
    "upper-case hash": lambda b: b.update(model_sha256=b["model_sha256"].upper()),
    "non-hex hash": lambda b: b.update(model_sha256="g" * 64),
    "hash not a string": lambda b: b.update(model_sha256=123),
    "no check images": lambda b: b.pop("check_images"),
    "empty check images": lambda b: b.update(check_images=[]),
    "check image not an object": lambda b: b.update(check_images=["x"]),
    "png not base64": lambda b: b["check_images"][0].update(png="not base64!"),
    "png not a PNG": lambda b: b["check_images"][0].update(png=_png_of(b"GIF89a" + b"\0" * 40)),
    "missing class": lambda b: b["check_images"][0]["probabilities"].pop("nevus"),
    "extra class": lambda b: b["check_images"][0]["probabilities"].update(wart=0.0),
    "probability over 1": lambda b: b["check_images"][0]["probabilities"].update(nevus=1.5),
    "probability not a number": lambda b: b["check_images"][0]["probabilities"].update(nevus="x"),
    "zero tolerance": lambda b: b.update(tolerance=0),
    "block not an object": lambda b: b.clear() or b.update(model_sha256=None),
}


@pytest.mark.parametrize("name", list(MALFORMED))
def test_malformed_integrity_block_is_refused(name: str) -> None:
    with pytest.raises(CardError, match="integrity") as info:
        validate(_bad(MALFORMED[name]))
    assert "\n" not in str(info.value)


def test_integrity_block_tolerates_extra_keys_and_older_cards_have_none() -> None:
    card = shipped_card()
    card[KEY]["written_by"] = "adapt 0.2"
    card[KEY]["check_images"][0]["note"] = "newer writers may add keys"
    assert ModelCard.from_dict(card).integrity is not None
    del card[KEY]
    assert ModelCard.from_dict(card).integrity is None


# ------------------------------------------------------------------ writing a seal


def test_seal_card_reproduces_the_shipped_seal(tmp_path: Path) -> None:
    card = shipped_card()
    unsealed = {k: v for k, v in card.items() if k != KEY}
    before = copy.deepcopy(unsealed)
    sealed = seal_card(unsealed, MODEL)
    assert unsealed == before  # the caller's dict is left alone
    assert {k: v for k, v in sealed.items() if k != KEY} == unsealed
    assert sealed[KEY]["model_sha256"] == card[KEY]["model_sha256"]
    clf = Classifier(MODEL, card=ModelCard.from_dict(sealed))
    assert verify_check_images(clf, clf.card.integrity) <= 1e-6


def test_seal_command_adds_only_the_integrity_block(tmp_path: Path, capsys) -> None:
    from desktop.seal import main

    card = shipped_card()
    del card[KEY]
    model = copy_model(tmp_path, card)
    assert main(["--seal", str(model)]) == 0
    written = json.loads(model.with_suffix(".json").read_text(encoding="utf-8"))
    assert {k: v for k, v in written.items() if k != KEY} == card
    assert written[KEY]["model_sha256"] == sha256_file(model)
    code, out, _ = self_check(model, capsys)
    assert code == 0 and "integrity: model file SHA-256 matches the card" in out, out


def test_verifying_a_seal_needs_neither_the_card_module_nor_a_classifier() -> None:
    """desktop.integrity only reads and checks the seal (the card imports it); sealing is
    desktop.seal's."""
    proc = fresh_python(
        """
        import sys
        import desktop.integrity as integrity
        print(sorted(m for m in sys.modules if m in ("desktop.card", "desktop.inference")))
        print(hasattr(integrity, "seal_card"))
        """
    )
    assert proc.returncode == 0 and proc.stdout.split("\n")[:2] == ["[]", "False"], proc.stderr
    proc = subprocess.run(
        [sys.executable, "-m", "desktop.seal", "--help"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0 and "usage: python -m desktop.seal" in proc.stdout
    assert "--seal MODEL.tflite" in proc.stdout


def test_install_refuses_a_model_its_card_was_not_sealed_for(tmp_path: Path) -> None:
    from trainer.export import ExportError, install

    run = tmp_path / "run"
    model = copy_model(run)
    flip_middle(model)
    dest = tmp_path / "assets"
    with pytest.raises(ExportError, match="damaged or was replaced"):
        install(run, dest)
    assert not dest.exists() or not any(dest.iterdir())


def test_a_training_run_seals_its_card(tiny_model: Path) -> None:
    """The trainer seals at export: the run's card names its model's hash and its check
    images pass on that model (slow: needs the tiny training run)."""
    clf = Classifier(tiny_model)
    seal = clf.card.integrity
    assert seal is not None and seal.model_sha256 == sha256_file(tiny_model)
    assert verify_check_images(clf, seal) <= seal.tolerance


def test_a_sibling_export_runs_with_the_card_unsealed(tmp_path: Path) -> None:
    """Benchmarks run a run's float32 model with the int8 model's card: unsealed for that."""
    from desktop.integrity import unsealed

    model = copy_model(tmp_path)
    flip_middle(model)  # stands in for "another file with the same inputs and outputs"
    card = ModelCard.from_dict(shipped_card())
    with pytest.raises(ModelLoadError):
        Classifier(model, card=card)
    sibling = unsealed(card)
    assert sibling.integrity is None and KEY not in sibling.raw
    assert card.integrity is not None  # the original is untouched
    Classifier(model, card=sibling)
