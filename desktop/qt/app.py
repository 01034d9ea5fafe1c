"""QApplication setup and the window's entry point (``python -m desktop [PATH...]``)."""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence
from pathlib import Path

from PySide6.QtCore import QSettings, Qt
from PySide6.QtGui import QGuiApplication, QIcon
from PySide6.QtWidgets import QApplication

from desktop import APP_NAME, __version__
from desktop.imaging import guard_decoder
from desktop.qt.controllers.main import MainController
from desktop.qt.main_window import MainWindow
from desktop.qt.model_choice import load_classifier, startup_classifier  # noqa: F401 (load_classifier: re-exported)
from desktop.qt.window_state import available_geometry
from desktop.results import SupportsClassify

ORGANIZATION = "LesionLens"


def samples_dir() -> Path:
    """``assets/samples`` beside the bundled model (works frozen or not)."""
    from desktop.inference import DEFAULT_MODEL

    return DEFAULT_MODEL.parent / "samples"


def create_application(argv: Sequence[str] | None = None) -> QApplication:
    app = QApplication.instance()
    if app is None:
        QGuiApplication.setHighDpiScaleFactorRoundingPolicy(
            Qt.HighDpiScaleFactorRoundingPolicy.PassThrough  # 125 % and 150 % stay crisp
        )
        app = QApplication(list(argv) if argv is not None else sys.argv[:1])
    app.setApplicationName(APP_NAME)
    # No application display name: Qt would append it to every title ("LesionLens — x.jpg
    # — LesionLens"); the window's title already starts with the app name.
    app.setOrganizationName(ORGANIZATION)
    app.setApplicationVersion(__version__)
    icon = samples_dir().parent / "icon.png"
    if icon.is_file():
        app.setWindowIcon(QIcon(str(icon)))
    return app  # type: ignore[return-value]


def build_window(
    classifier: SupportsClassify | None,
    load_error: str | None = None,
    settings: QSettings | None = None,
    samples: Path | None = None,
    data_dir: Path | None = None,
    notice: str | None = None,
) -> tuple[MainWindow, MainController]:
    """The main window and its controllers; ``data_dir`` is the case store (None: the
    environment's or the per-user default, see
    :func:`desktop.qt.controllers.history.gui_data_dir`); ``notice`` says why a remembered
    adapted model was not loaded."""
    window = MainWindow()
    controller = MainController(
        window,
        classifier,
        settings=settings,
        samples_dir=samples if samples is not None else samples_dir(),
        load_error=load_error,
    )
    from desktop.qt.controllers.history import HistoryController

    # Save to case, Cases
    controller.history = HistoryController(window, controller, data_dir=data_dir)
    from desktop.qt.controllers.model import ModelController

    # Model menu: adapt to this clinic, back to the shipped model; the status bar's model
    controller.models = ModelController(
        window, controller, settings=controller.settings, data_dir=data_dir, notice=notice
    )
    return window, controller


def run_app(
    paths: Sequence[str | os.PathLike[str]] = (),
    model: Path | None = None,
    data_dir: Path | None = None,
) -> int:
    """Open the window (with ``paths`` if given) and run the event loop."""
    app = create_application()
    # Its threads read files beside what is on screen and the open case store: a file that
    # crashes the decoder must cost only itself (docs/bad-files.md).
    guard_decoder()

    settings = QSettings()
    classifier, error, notice = startup_classifier(settings, model)  # the remembered model
    window, controller = build_window(
        classifier, error, settings=settings, data_dir=data_dir, notice=notice
    )
    window.show()
    window.fit_into(available_geometry(window))  # again, now that the frame's size is known
    if paths and classifier is not None:
        controller.open_paths(list(paths))
    return app.exec()
