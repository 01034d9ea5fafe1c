"""Broken models and cards give clear messages, never tracebacks; nothing touches the network."""

from __future__ import annotations

import json
import shutil
import socket
from pathlib import Path

import pytest

from desktop.__main__ import main as cli_main
from desktop.general import copy_beside
from desktop.inference import Classifier, ModelLoadError
from desktop.qt.app import build_window, load_classifier
from tests.fakes import write_images


def _copy_model(src: Path, dst_dir: Path) -> Path:
    dst_dir.mkdir(parents=True, exist_ok=True)
    shutil.copy(src, dst_dir / "model.tflite")
    shutil.copy(src.with_suffix(".json"), dst_dir / "model.json")
    copy_beside(json.loads(src.with_suffix(".json").read_text()), src.parent, dst_dir)
    return dst_dir / "model.tflite"


def _edit_card(model: Path, **changes) -> None:
    card = json.loads(model.with_suffix(".json").read_text())
    for dotted, value in changes.items():
        node = card
        *parents, leaf = dotted.split("__")
        for key in parents:
            node = node[key]
        if value is None:
            del node[leaf]
        else:
            node[leaf] = value
    model.with_suffix(".json").write_text(json.dumps(card))


BREAKAGES = {
    "missing model": (lambda m: m.unlink(), "not found"),
    "truncated model": (lambda m: m.write_bytes(m.read_bytes()[:2000]), "cannot be loaded"),
    "wrong file as model": (lambda m: m.write_bytes(b"%PDF-1.4\n" * 100), "cannot be loaded"),
    "missing card": (lambda m: m.with_suffix(".json").unlink(), "card not found"),
    "invalid card JSON": (
        lambda m: m.with_suffix(".json").write_text("{not json"),
        "not valid JSON",
    ),
    "incomplete card": (lambda m: _edit_card(m, calibration=None), "incomplete"),
    "card with fewer classes": (
        lambda m: _edit_card(
            m,
            classes=json.loads(m.with_suffix(".json").read_text())["classes"][:-1],
            cam__bias=[0.0] * 8,
            cam__weights=[
                row[:-1] for row in json.loads(m.with_suffix(".json").read_text())["cam"]["weights"]
            ],
        ),
        "classes",
    ),
    "card with another input size": (
        lambda m: _edit_card(m, input__size=64, preprocessing__size=64),
        "input",
    ),
}


@pytest.mark.parametrize("name", list(BREAKAGES))
def test_broken_model_or_card_is_a_clear_message_everywhere(
    name, tiny_model, tmp_path, qtbot, qsettings, capsys
):
    break_it, expected = BREAKAGES[name]
    model = _copy_model(tiny_model, tmp_path / "m")
    break_it(model)
    with pytest.raises(ModelLoadError, match=expected) as info:
        Classifier(model)
    assert "\n" not in str(info.value)
    # The self-check fails with an explanation, not a traceback.
    assert cli_main(["--self-check", "--model", str(model)]) == 1
    out = capsys.readouterr()
    assert "Traceback" not in out.out + out.err and expected.lower() in (out.out + out.err).lower()
    # The window still opens and shows the reason.
    classifier, error = load_classifier(model)
    assert classifier is None and expected.lower() in error.lower()
    window, controller = build_window(
        None, load_error=error, settings=qsettings, samples=tmp_path / "none"
    )
    qtbot.addWidget(window)
    window.show()
    assert window.model_banner.isVisible() and window.model_banner.kind != "none"
    assert expected.lower() in window.model_banner._body.text().lower()
    assert window.model_status.text() == "No model loaded"


@pytest.fixture
def no_network(monkeypatch):
    """Any attempt to create a socket fails the test."""
    attempts: list[tuple] = []

    def forbidden(*args, **kwargs):
        attempts.append(args)
        raise AssertionError("the app tried to open a network connection")

    monkeypatch.setattr(socket, "socket", forbidden)
    monkeypatch.setattr(socket, "create_connection", forbidden)
    monkeypatch.setattr(socket, "getaddrinfo", forbidden)
    return attempts


def test_offline_classify_and_gui_flow(no_network, tiny_model, tmp_path, qtbot, qsettings, capsys):
    images = write_images(tmp_path / "imgs", ["a.png", "b.png"])
    assert (
        cli_main(["--classify", "--json", "--model", str(tiny_model), str(tmp_path / "imgs")]) == 0
    )
    assert len(json.loads(capsys.readouterr().out)) == 2
    window, controller = build_window(
        Classifier(tiny_model), settings=qsettings, samples=tmp_path / "none"
    )
    qtbot.addWidget(window)
    with qtbot.waitSignal(controller.runner.jobFinished, timeout=30_000):
        controller.open_paths(images)
    qtbot.waitUntil(lambda: controller.current is not None, timeout=30_000)
    assert no_network == []
