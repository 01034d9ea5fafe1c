"""Which model file the window uses, and loading it: the shipped one or a clinic's adapted one,
remembered in QSettings. No widgets here, so the app, the model controller and the adapt
controller share it without importing each other.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QSettings

from desktop.qt import texts
from desktop.results import SupportsClassify

MODEL_KEY = "model/path"  # the adapted model in use; absent or empty: the shipped one


def shipped_model() -> Path:
    from desktop.inference import DEFAULT_MODEL

    return DEFAULT_MODEL


def saved_model(settings: QSettings) -> Path | None:
    """The adapted model chosen last time (None: the shipped model)."""
    value = settings.value(MODEL_KEY, "")
    text = str(value).strip() if value else ""
    return Path(text) if text else None


def remember_model(settings: QSettings, path: Path | None) -> None:
    if path is None:
        settings.remove(MODEL_KEY)
    else:
        settings.setValue(MODEL_KEY, str(path))
    settings.sync()


def load_classifier(model: Path | None = None) -> tuple[SupportsClassify | None, str | None]:
    """The classifier, or None and a one-line reason to show in the window."""
    from desktop.front_door import open_model

    try:
        return open_model(model)
    except Exception as exc:  # the window must open whatever the runtime does
        return None, f"unexpected error while loading the model: {exc}"


def startup_classifier(
    settings: QSettings, explicit: Path | None = None
) -> tuple[SupportsClassify | None, str | None, str | None]:
    """(classifier, load error, notice) for start-up: ``--model`` wins, then the remembered
    model, then the shipped one; ``notice`` says why a remembered model was not used."""
    if explicit is not None:
        return (*load_classifier(explicit), None)
    saved = saved_model(settings)
    if saved is None:
        return (*load_classifier(None), None)
    if saved.is_file():
        classifier, reason = load_classifier(saved)
        if classifier is not None:
            return classifier, None, None
    else:
        reason = "the file is no longer there"
    remember_model(settings, None)
    classifier, error = load_classifier(None)
    return classifier, error, texts.saved_model_unusable(str(saved), reason or "")


def model_path(classifier: SupportsClassify | None) -> Path | None:
    path = getattr(classifier, "model_path", None)
    return Path(path) if path is not None else None


def same_file(a: Path | None, b: Path | None) -> bool:
    try:
        return a is not None and b is not None and a.resolve() == b.resolve()
    except OSError:
        return False
