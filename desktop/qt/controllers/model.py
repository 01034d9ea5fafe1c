"""Which model the window classifies with: the shipped one or a clinic's adapted one.

The choice is kept in QSettings so it survives a restart; a remembered model that is gone
or no longer loads gives way to the shipped model, with a message (never a window without
a model because a USB stick was unplugged). Switching models swaps the classifier the
window's batch runner, result pane, PDF and lesion history read, so every new result (and
every result saved to a case, which records the model's version and SHA-256) comes from
the model shown in the status bar.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QObject, QSettings

from desktop.qt import texts
from desktop.qt.controllers.batch import BatchController
from desktop.qt.controllers.main import MainController
from desktop.qt.main_window import MainWindow
from desktop.qt.model_choice import (  # noqa: F401 (re-exported for callers of the controller)
    MODEL_KEY,
    load_classifier,
    model_path,
    remember_model,
    same_file,
    saved_model,
    shipped_model,
    startup_classifier,
)
from desktop.qt.workers import InferenceRunner
from desktop.results import SupportsClassify


class ModelController(QObject):
    """Model ▸ Adapt to this clinic… and Use the shipped model; the status bar's model line."""

    def __init__(
        self,
        window: MainWindow,
        main: MainController,
        *,
        settings: QSettings,
        data_dir: Path | None = None,
        shipped: Path | None = None,
        notice: str | None = None,
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent or window)
        from desktop.qt.controllers.adapt import AdaptController

        self.window = window
        self.main = main
        self.settings = settings
        self.shipped = shipped if shipped is not None else shipped_model()
        self.adapt = AdaptController(self, data_dir=data_dir)
        window.adapt_action.triggered.connect(lambda _=False: self.adapt.open())
        window.shipped_model_action.triggered.connect(lambda _=False: self.use_shipped())
        window.closing.connect(self.shutdown)
        self.refresh()
        if notice:
            self.show_notice(notice)

    @property
    def classifier(self) -> SupportsClassify | None:
        return self.main.classifier

    def refresh(self) -> None:
        """The status bar's model line and what the Model menu offers."""
        clf, w = self.classifier, self.window
        if clf is not None:
            line = texts.model_status_line(clf.model_name, getattr(clf.card, "adaptation", None))
            w.model_status.setText(line)
            w.model_status.setToolTip(line)
        on_shipped = same_file(model_path(clf), self.shipped)
        w.shipped_model_action.setEnabled(not on_shipped)

    def show_notice(self, notice: str) -> None:
        self.window.model_banner.show_message("info", texts.SAVED_MODEL_UNUSABLE_TITLE, notice)
        self.window.say(notice, 15000)

    def use_model(self, path: Path) -> str | None:
        """Load ``path`` and classify with it from now on; None, or why it could not be."""
        classifier, error = load_classifier(path)
        if classifier is None:
            return error or "the model could not be loaded"
        self.switch(classifier)
        shipped = same_file(path, self.shipped)
        remember_model(self.settings, None if shipped else Path(path).resolve())
        return None

    def use_shipped(self) -> str | None:
        return self.use_model(self.shipped)

    def switch(self, classifier: SupportsClassify) -> None:
        """Classify with ``classifier`` from now on; what the old model said is cleared, so
        no result on screen comes from a model other than the one named below it."""
        main, w = self.main, self.window
        if main.batch is not None:  # a running batch belongs to the old model
            main.batch.job = None  # its late signals are ignored
            main.runner.cancel()
            main.runner.wait(10_000)
        main.classifier, main.card, main.load_error = classifier, classifier.card, None
        main.image.card = classifier.card
        if main.runner is None:  # the window opened without a model
            main.runner = InferenceRunner(classifier, main)
            main.batch = BatchController(w, main.runner, main.show_result, main)
            for action in (w.open_action, w.open_folder_action, w.paste_action):
                action.setEnabled(True)
            w.try_samples_button.setEnabled(True)
        else:
            main.runner.classifier = classifier
        main.current = None
        w.hide_progress()
        w.detail.clear()
        w.save_report_action.setEnabled(False)
        main.image.clear(texts.IMAGE_PLACEHOLDER)
        w.batch_panel.model.clear()
        w.show_batch_panel(False)
        w.export_csv_action.setEnabled(False)
        w.time_status.setText("")
        w.set_empty_state(True)
        w.setWindowTitle(texts.window_title())
        w.model_banner.clear()
        w.detail.set_classes(classifier.card.classes)
        main.rebuild_samples_menu()
        self.refresh()
        w.say(texts.model_in_use(getattr(classifier.card, "adaptation", None) is not None), 10_000)

    def shutdown(self) -> None:
        self.adapt.shutdown()
