"""Behaviour of the main window: what happens on open, drop, paste, select, save.

The classifier is handed in (never built here) so tests can pass a fake with
exact probabilities, and a missing model is just ``classifier=None`` plus a
reason to show. A job's progress is :class:`BatchController`'s, the photo and
heat-map :class:`ImageController`'s; this class wires them to the window.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from PIL import Image
from PySide6.QtCore import QObject, QSettings, QStandardPaths, Qt
from PySide6.QtGui import QGuiApplication, QImage
from PySide6.QtWidgets import QFileDialog, QMessageBox

from desktop import APP_NAME
from desktop.imaging import IMAGE_EXTENSIONS
from desktop.qt import texts
from desktop.qt.controllers.batch import BatchController
from desktop.qt.controllers.image import ImageController
from desktop.qt.controllers.reports import ReportController
from desktop.qt.convert import qimage_to_pil
from desktop.qt.main_window import MainWindow, local_paths
from desktop.qt.recent import RecentFiles, readable
from desktop.qt.report import ReportError, write_report
from desktop.qt.views.detail_pane import result_view
from desktop.qt.views.menus import fill_recent_menu, fill_samples_menu
from desktop.qt.views.model_card_dialog import ModelCardDialog
from desktop.qt.window_state import WindowState
from desktop.qt.workers import InferenceRunner, Input, PastedImage
from desktop.results import ImageResult, SupportsClassify
from desktop.results_csv import write_csv
from desktop.samples import known_diagnosis, load_samples

if TYPE_CHECKING:  # both read this controller; desktop.qt.app.build_window makes them
    from desktop.qt.controllers.history import HistoryController
    from desktop.qt.controllers.model import ModelController


def list_samples(folder: Path | None) -> list[Path]:
    """Images shipped in ``assets/samples`` (the folder may be missing or empty)."""
    return [s.path for s in load_samples(folder)]


class MainController(QObject):
    """Connects the window's actions and signals to classification and files."""

    def __init__(
        self,
        window: MainWindow,
        classifier: SupportsClassify | None,
        *,
        settings: QSettings | None = None,
        samples_dir: Path | None = None,
        load_error: str | None = None,
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent or window)
        self.window = window
        self.classifier = classifier
        self.card = classifier.card if classifier is not None else None
        self.settings = settings if settings is not None else QSettings()
        self.samples_dir = samples_dir
        self.load_error = load_error
        self.current: ImageResult | None = None
        self.last_dialog: ModelCardDialog | None = None
        self.recent = RecentFiles(self.settings)
        self.window_state = WindowState(self.settings)
        self.image = ImageController(
            window.image_pane, self.card, self.window_state, self, classifier=classifier
        )
        self.window_state.restore(window)
        self.runner = InferenceRunner(classifier, self) if classifier is not None else None
        self.batch = (
            BatchController(window, self.runner, self.show_result, self)
            if self.runner is not None
            else None
        )
        self.reports = ReportController(self)  # clinician name, batch report
        self.history: HistoryController | None = None  # Save to case, Cases
        self.models: ModelController | None = None  # the Model menu, the status bar's model
        self._connect()
        self._show_model_state()
        self.rebuild_recent_menu()
        window.set_empty_state(True)  # before the samples menu, which hides its button
        self.rebuild_samples_menu()

    def _connect(self) -> None:
        w = self.window
        w.open_action.triggered.connect(self.open_dialog)
        w.open_folder_action.triggered.connect(self.open_folder_dialog)
        w.paste_action.triggered.connect(self.paste)
        w.save_report_action.triggered.connect(lambda: self.save_report())
        w.export_csv_action.triggered.connect(lambda: self.export_csv())
        w.batch_panel.export_button.clicked.connect(lambda: self.export_csv())
        w.quit_action.triggered.connect(w.close)
        w.model_card_action.triggered.connect(self.show_model_card)
        w.try_samples_button.clicked.connect(self.open_all_samples)
        w.cancel_action.triggered.connect(self.cancel)
        w.cancel_button.clicked.connect(self.cancel)
        w.pathsDropped.connect(self.open_paths)
        w.imageDropped.connect(lambda img: self.open_qimage(img, texts.DROPPED_IMAGE))
        w.closing.connect(self.shutdown)
        # A file deleted, moved or made unreadable since the menu was built is dropped
        # each time the menu opens, not offered until the next start.
        w.recent_menu.aboutToShow.connect(self.rebuild_recent_menu)

    def _show_model_state(self) -> None:
        w = self.window
        if self.classifier is None:
            w.show_no_model(texts.model_load_failed_detail(self.load_error))
            return
        w.model_banner.clear()
        w.model_status.setText(texts.model_status(self.classifier.model_name))
        w.detail.set_classes(self.classifier.card.classes)

    # Opening inputs -----------------------------------------------------------------------
    def open_paths(self, paths: Sequence[str | os.PathLike[str]]) -> int | None:
        """Classify files and/or folders; returns the job id (None when nothing started)."""
        paths = [Path(p) for p in paths if str(p)]
        if not paths:
            return None
        for p in paths:
            self.add_recent(p)
        label = paths[0].name if len(paths) == 1 else f"{len(paths)} items"
        return self._start(list(paths), label)

    def open_image(self, img: Image.Image, name: str = texts.PASTED_IMAGE) -> int | None:
        return self._start([PastedImage(img, name)], name)

    def open_qimage(self, qimg: QImage, name: str = texts.PASTED_IMAGE) -> int | None:
        if qimg.isNull():
            self.window.say(texts.UNREADABLE_IMAGE)
            return None
        return self.open_image(qimage_to_pil(qimg), name)

    def paste(self) -> int | None:
        """Ctrl+V: an image on the clipboard, or files copied in the file manager."""
        mime = QGuiApplication.clipboard().mimeData()
        if mime is not None:
            paths = local_paths(mime)
            if paths:
                return self.open_paths(paths)
            if mime.hasImage():
                return self.open_qimage(QImage(mime.imageData()), texts.PASTED_IMAGE)
        self.window.say(texts.CLIPBOARD_EMPTY)
        return None

    def ask_open_files(self) -> list[str]:
        """The file dialog (a method so tests can replace it)."""
        files, _ = QFileDialog.getOpenFileNames(
            self.window,
            texts.OPEN_IMAGES_TITLE,
            self._last_dir(),
            texts.image_file_filter(sorted(IMAGE_EXTENSIONS)),
        )
        return files

    def ask_folder(self) -> str:
        return QFileDialog.getExistingDirectory(
            self.window, texts.OPEN_FOLDER_TITLE, self._last_dir()
        )

    def ask_save_path(self, title: str, suggested: str, file_filter: str) -> str:
        path, _ = QFileDialog.getSaveFileName(
            self.window, title, str(Path(self._last_dir()) / suggested), file_filter
        )
        return path

    def open_dialog(self) -> int | None:
        files = self.ask_open_files()
        return self.open_paths(files) if files else None

    def open_folder_dialog(self) -> int | None:
        folder = self.ask_folder()
        return self.open_paths([folder]) if folder else None

    def _last_dir(self) -> str:
        recent = self.recent_files()
        if recent:
            p = Path(recent[0])
            return str(p if p.is_dir() else p.parent)
        return QStandardPaths.writableLocation(QStandardPaths.StandardLocation.PicturesLocation)

    def _start(self, items: list[Input], label: str) -> int | None:
        w = self.window
        if self.batch is None:
            w.say(texts.NO_MODEL_CANNOT_CLASSIFY, 8000)
            return None
        self.current = None
        self._clear_detail(texts.classifying(label))
        w.set_empty_state(False)
        w.setWindowTitle(texts.window_title(label))
        return self.batch.start(items)

    def cancel(self) -> None:
        if self.batch is not None:
            self.batch.cancel()

    def shutdown(self) -> None:
        """On close: remember the layout, stop the batch, let the worker finish its image."""
        self.save_view_settings()
        if self.batch is not None:
            self.batch.shutdown()
        self.image.wait(5000)

    # Detail -------------------------------------------------------------------------------
    def _clear_detail(self, message: str | None = None) -> None:
        self.window.detail.clear()
        self.window.save_report_action.setEnabled(False)
        self.image.clear(message)

    def show_result(self, result: ImageResult) -> None:
        """Fill the detail pane for one result and fetch its large image in the background."""
        w = self.window
        self.current = result
        self._clear_detail()
        known = known_diagnosis(load_samples(self.samples_dir), result.path)
        w.detail.show_result(result_view(result, self.card, known))
        w.setWindowTitle(texts.window_title(result.name))
        pred = result.prediction
        if pred is None:
            self.image.clear(texts.NO_IMAGE_TO_SHOW)
            w.time_status.setText("")
            return
        w.time_status.setText(texts.inference_time(pred.elapsed_ms))
        w.save_report_action.setEnabled(True)
        self.image.show(result)

    def save_view_settings(self) -> None:
        self.window_state.save(self.window)
        self.image.save_settings()

    # Recent files and samples -------------------------------------------------------------
    def recent_files(self) -> list[str]:
        return self.recent.paths()

    def add_recent(self, path: Path) -> None:
        self.recent.add(path)
        self.rebuild_recent_menu()

    def rebuild_recent_menu(self) -> None:
        fill_recent_menu(
            self.window.recent_menu,
            self.recent_files(),
            self.open_recent,
            self.clear_recent,
        )

    def open_recent(self, path: str) -> int | None:
        """Open a recent entry, unless it has gone since the menu was shown: then say so
        and drop it."""
        if not readable(path):
            self.window.say(texts.recent_gone(Path(path).name), 8000)
            self.rebuild_recent_menu()
            return None
        return self.open_paths([path])

    def clear_recent(self) -> None:
        self.recent.clear()
        self.rebuild_recent_menu()

    def rebuild_samples_menu(self) -> None:
        samples = load_samples(self.samples_dir)
        button = self.window.try_samples_button
        button.setVisible(bool(samples))
        if not samples:
            button.setEnabled(False)
        fill_samples_menu(
            self.window.samples_menu,
            [(s.path, texts.sample_item(s.path.name, s.diagnosis)) for s in samples],
            lambda p: self.open_paths([p]),
            self.open_all_samples,
            enabled=self.classifier is not None,
        )

    def open_all_samples(self) -> int | None:
        """The newcomer's first step: every shipped sample, as a batch."""
        samples = list_samples(self.samples_dir)
        return self.open_paths(samples) if samples else None

    # Save, export, about ------------------------------------------------------------------
    def save_report(self, path: str | os.PathLike[str] | None = None) -> Path | None:
        result, w = self.current, self.window
        if result is None or result.prediction is None or self.classifier is None:
            w.say(texts.NOTHING_TO_REPORT, 5000)
            return None
        if path is None:
            stem = Path(result.name).stem or "image"
            path = self.ask_save_path(
                texts.SAVE_REPORT_TITLE, f"{stem}-report.pdf", texts.PDF_FILTER
            )
            if not path:
                return None
        photo, overlay, shown = self.image.report_images(result)
        classes = result.prediction.classes
        try:
            out = write_report(
                path,
                result,
                self.classifier.card,
                self.classifier.model_name,
                photo,
                overlay,
                heatmap_class=classes[shown] if shown is not None else None,
                subject=self.reports.subject(result.path),
                clinician=self.reports.clinician,
            )
        except (ReportError, OSError) as exc:
            QMessageBox.warning(w, APP_NAME, texts.report_not_saved(exc))
            return None
        w.say(texts.report_saved(out), 8000)
        return out

    def export_csv(self, path: str | os.PathLike[str] | None = None) -> Path | None:
        w = self.window
        results = w.batch_panel.results_in_view_order()
        if not results or self.classifier is None:
            w.say(texts.NO_BATCH_TO_EXPORT, 5000)
            return None
        if path is None:
            path = self.ask_save_path(
                texts.EXPORT_TABLE_TITLE, "lesionlens-results.csv", texts.CSV_FILTER
            )
            if not path:
                return None
        try:
            write_csv(path, results, self.classifier.card.classes, self.classifier.card)
        except OSError as exc:
            QMessageBox.warning(w, APP_NAME, texts.table_not_saved(exc))
            return None
        w.say(texts.table_exported(len(results), path), 8000)
        return Path(path)

    def show_model_card(self) -> ModelCardDialog:
        card = self.classifier.card if self.classifier is not None else None
        name = self.classifier.model_name if self.classifier is not None else None
        dialog = ModelCardDialog(card, name, self.load_error, self.window)
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        self.last_dialog = dialog
        dialog.open()
        return dialog
