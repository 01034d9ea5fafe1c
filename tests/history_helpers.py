"""Helpers shared by the lesion-history tests: the model a stored result names, the
``history`` command line run in-process with a fake classifier, and a photo classified
through the window. The fixtures (``data``, ``window``) are in conftest.py."""

from __future__ import annotations

import io
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from desktop.__main__ import lesion_pdf_writer
from desktop.history import cli as hcli
from desktop.history.service import ModelInfo
from tests.fakes import FakeClassifier

MODEL = ModelInfo("test-1", "0" * 64)
TIMEOUT = 15_000  # ms: a Qt wait in the history tests


def run(
    argv: Sequence[str],
    fake: FakeClassifier | None = None,
    confirm: Callable[[str], bool] | None = None,
) -> tuple[int, str]:
    """``history ARGV`` with ``fake`` (a plain FakeClassifier by default) and the PDF writer
    the entry point gives: exit code, stdout."""
    out = io.StringIO()
    fake = fake if fake is not None else FakeClassifier()
    code = hcli.main(
        argv, factory=lambda _m: fake, out=out, confirm=confirm, pdf_writer=lesion_pdf_writer
    )
    return code, out.getvalue()


def classify_in_window(qtbot: Any, controller: Any, path: Path) -> None:
    """Open ``path`` in the window and wait until its result is shown."""
    with qtbot.waitSignal(controller.runner.jobFinished, timeout=TIMEOUT):
        controller.open_paths([path])
    qtbot.waitUntil(lambda: controller.current is not None, timeout=TIMEOUT)
