"""Behaviour of the main window: what happens on open, drop, paste, select, save.

The classifier is handed in (never built here) so tests can pass a fake with
exact probabilities, and a missing model is just ``classifier=None`` plus a
reason to show. All inference goes through :class:`InferenceRunner`.
"""

from __future__ import annotations

import os
import time
from collections.abc import Sequence
from pathlib import Path

from PIL import Image
from PySide6.QtCore import QModelIndex, QObject, QSettings, QStandardPaths, Qt
from PySide6.QtGui import QGuiApplication, QImage
from PySide6.QtWidgets import QFileDialog, QMessageBox

from desktop import APP_NAME, verdict
from desktop.imaging import IMAGE_EXTENSIONS, is_image_path
from desktop.qt import texts
from desktop.qt.convert import qimage_to_pil
from desktop.qt.main_window import MainWindow, local_paths
from desktop.qt.recent import RecentFiles
from desktop.qt.report import ReportError, write_report
from desktop.qt.views.detail_pane import result_view
from desktop.qt.views.model_card_dialog import ModelCardDialog
from desktop.qt.views.probability_bars import display_name
from desktop.qt.window_state import WindowState
from desktop.qt.workers import (
    DisplayImages,
    DisplayLoader,
    InferenceRunner,
    PastedImage,
    display_images,
    heat_image,
)
from desktop.results import ImageResult, SupportsClassify, write_csv


def list_samples(folder: Path | None) -> list[Path]:
    """Images shipped in ``assets/samples`` (the folder may be missing or empty)."""
    if folder is None or not folder.is_dir():
        return []
    try:
        return sorted(
            p
            for p in folder.iterdir()
            if p.is_file() and is_image_path(p) and not p.name.startswith(".")
        )
    except OSError:
        return []


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
        self.settings = settings if settings is not None else QSettings()
        self.samples_dir = samples_dir
        self.load_error = load_error
        self.current: ImageResult | None = None
        self.last_dialog: ModelCardDialog | None = None
        self._job: int | None = None
        self._planned = 0
        self._received = 0
        self._failed = 0
        self._job_started_at = 0.0
        self._display_token = 0
        self._display: DisplayImages | None = None
        self.recent = RecentFiles(self.settings)
        self.window_state = WindowState(self.settings)

        self.runner = InferenceRunner(classifier, self) if classifier is not None else None
        self.display_loader = DisplayLoader(self)
        self._restore_view_settings()
        self._connect()
        self._show_model_state()
        self.rebuild_recent_menu()
        window.set_empty_state(True)  # before the samples menu, which hides its button
        self.rebuild_samples_menu()

    # Wiring -------------------------------------------------------------------------------
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
        w.heatmap_action.toggled.connect(self.set_heatmap)
        w.heatmap_toggle.toggled.connect(self.set_heatmap)
        w.heatmap_class.currentIndexChanged.connect(self._on_heat_class_changed)
        w.opacity_slider.valueChanged.connect(self.set_opacity)
        w.zoom_in_action.triggered.connect(w.image_view.zoom_in)
        w.zoom_out_action.triggered.connect(w.image_view.zoom_out)
        w.zoom_fit_action.triggered.connect(w.image_view.zoom_fit)
        w.zoom_actual_action.triggered.connect(w.image_view.zoom_actual)
        w.image_view.zoomChanged.connect(self._show_zoom)
        w.try_samples_button.clicked.connect(self.open_all_samples)
        w.cancel_action.triggered.connect(self.cancel)
        w.cancel_button.clicked.connect(self.cancel)
        w.pathsDropped.connect(self.open_paths)
        w.imageDropped.connect(lambda img: self.open_qimage(img, texts.DROPPED_IMAGE))
        w.closing.connect(self.shutdown)
        w.batch_panel.table.selectionModel().currentRowChanged.connect(self._on_row_changed)
        self.display_loader.loaded.connect(self._on_display_loaded)
        if self.runner is not None:
            self.runner.jobStarted.connect(self._on_job_started)
            self.runner.resultsReady.connect(self._on_results)
            self.runner.jobFailed.connect(self._on_job_failed)
            self.runner.jobFinished.connect(self._on_job_finished)

    def _show_model_state(self) -> None:
        w = self.window
        if self.classifier is None:
            w.model_banner.show_message(
                "error", texts.MODEL_LOAD_FAILED, texts.model_load_failed_detail(self.load_error)
            )
            w.model_status.setText(texts.NO_MODEL_STATUS)
            for action in (w.open_action, w.open_folder_action, w.paste_action):
                action.setEnabled(False)
            w.image_view.set_message(texts.NO_MODEL_MESSAGE)
            w.try_samples_button.setEnabled(False)
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
            self.window.statusBar().showMessage(texts.UNREADABLE_IMAGE, 5000)
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
        self.window.statusBar().showMessage(texts.CLIPBOARD_EMPTY, 5000)
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

    def _start(self, items: list, label: str) -> int | None:
        w = self.window
        if self.runner is None:
            w.statusBar().showMessage(texts.NO_MODEL_CANNOT_CLASSIFY, 8000)
            return None
        self.current = None
        self._display = None
        self._planned = self._received = self._failed = 0
        self._job_started_at = time.perf_counter()
        w.batch_panel.model.clear()
        w.show_batch_panel(False)
        w.export_csv_action.setEnabled(False)
        self._clear_detail()
        w.image_view.set_message(texts.classifying(label))
        w.set_empty_state(False)
        w.setWindowTitle(texts.window_title(label))
        self._job = self.runner.submit(items)
        w.cancel_action.setEnabled(True)
        return self._job

    def cancel(self) -> None:
        if self.runner is not None and self.runner.busy():
            self.runner.cancel()
            self.window.statusBar().showMessage(texts.CANCELLING, 3000)

    def shutdown(self) -> None:
        """On close: remember the layout, stop the batch, let the worker finish its image."""
        self.save_view_settings()
        if self.runner is not None:
            self.runner.cancel()
            self.runner.wait(5000)
        self.display_loader.wait(5000)

    # Worker results -----------------------------------------------------------------------
    def _on_job_started(self, job: int, count: int) -> None:
        if job != self._job:
            return
        w = self.window
        self._planned = count
        if count == 0:
            w.image_view.set_message(texts.no_images_found(sorted(IMAGE_EXTENSIONS)))
            w.detail.clear(texts.NO_IMAGE)
            return
        if count > 1:
            w.show_batch_panel(True, rows=count)
            w.progress.setRange(0, count)
            w.progress.setValue(0)
            w.progress.show()
            w.cancel_button.show()
            self._update_summary()

    def _on_results(self, job: int, first: int, results: list[ImageResult]) -> None:
        if job != self._job:
            return
        w = self.window
        w.batch_panel.model.append(results)
        self._received += len(results)
        self._failed += sum(1 for r in results if not r.ok)
        if self.current is None and first == 0 and results:
            if self._planned > 1:
                w.batch_panel.select_source_row(0)  # shows the detail via currentRowChanged
            if self.current is None:
                self.show_result(results[0])
        if self._planned > 1:
            w.progress.setValue(self._received)
            w.export_csv_action.setEnabled(True)
            self._update_summary()

    def _on_job_failed(self, job: int, reason: str) -> None:
        if job == self._job:
            QMessageBox.warning(self.window, APP_NAME, texts.classification_stopped(reason))

    def _on_job_finished(self, job: int, cancelled: bool) -> None:
        if job != self._job:
            return
        w = self.window
        w.progress.hide()
        w.cancel_button.hide()
        w.cancel_action.setEnabled(False)
        if self._planned > 1:
            secs = time.perf_counter() - self._job_started_at
            w.time_status.setText(
                texts.batch_status(
                    self._received - self._failed, self._planned, self._failed, secs, cancelled
                )
            )
            self._update_summary(finished=True, cancelled=cancelled)

    def _update_summary(self, finished: bool = False, cancelled: bool = False) -> None:
        results = self.window.batch_panel.model.results()
        counts = verdict.summarise(r.alert_level for r in results)
        if cancelled:
            state = texts.BATCH_CANCELLED
        else:
            state = texts.BATCH_DONE if finished else texts.BATCH_RUNNING
        self.window.batch_panel.summary.setText(
            texts.batch_summary(
                self._received - self._failed,
                self._planned,
                self._failed,
                state,
                counts[verdict.ALERT],
                counts[verdict.CANNOT_ASSESS],
            )
        )

    def _on_row_changed(self, current: QModelIndex, _previous: QModelIndex) -> None:
        if not current.isValid():
            return
        panel = self.window.batch_panel
        self.show_result(panel.model.result(panel.source_row(current.row())))

    # Detail -------------------------------------------------------------------------------
    def _clear_detail(self) -> None:
        self.window.detail.clear()
        self.window.save_report_action.setEnabled(False)
        self._enable_heatmap(False)

    def show_result(self, result: ImageResult) -> None:
        """Fill the detail pane for one result and fetch its large image in the background."""
        w = self.window
        self.current = result
        self._display = None
        self._clear_detail()
        card = self.classifier.card if self.classifier is not None else None
        w.detail.show_result(result_view(result, card))
        w.setWindowTitle(texts.window_title(result.name))
        pred = result.prediction
        if pred is None:
            w.image_view.set_message(texts.NO_IMAGE_TO_SHOW)
            w.time_status.setText("")
            return
        w.time_status.setText(texts.inference_time(pred.elapsed_ms))
        w.save_report_action.setEnabled(True)
        self._request_display(result)

    # Image and heat-map -------------------------------------------------------------------
    def heatmap_default_class(self, result: ImageResult) -> int | None:
        """Melanoma's map whenever the melanoma alert is on, else the top class's; None when
        the image gets no class at all (a map 'for' a class it was not given would mislead)."""
        pred = result.prediction
        if pred is None or not pred.assessable:
            return None
        card = self.classifier.card if self.classifier is not None else None
        if verdict.verdict_of(result, card).alert:
            return pred.melanoma_index
        return pred.top_index

    def _request_display(self, result: ImageResult) -> None:
        """Fill the class chooser and fetch the photo and heat layer in the background."""
        w = self.window
        w.image_view.set_message(texts.LOADING_IMAGE)
        combo = w.heatmap_class
        combo.blockSignals(True)
        combo.clear()
        chosen = self.heatmap_default_class(result)
        pred = result.prediction
        if pred is not None and chosen is not None:
            for cls, p in pred.ranked():
                combo.addItem(texts.heatmap_class_item(display_name(cls), p), cls)
            combo.setCurrentIndex(max(0, combo.findData(pred.classes[chosen])))
        combo.blockSignals(False)
        if self.classifier is not None:
            self._display_token = self.display_loader.request(
                result, self.classifier.card.preprocessing, chosen if chosen is not None else -1
            )

    def heatmap_class_index(self) -> int | None:
        """The card index of the class chosen for the heat-map (None when there is none)."""
        pred = self.current.prediction if self.current is not None else None
        cls = self.window.heatmap_class.currentData()
        if pred is None or cls is None:
            return None
        return pred.classes.index(cls)

    def _on_display_loaded(self, token: int, images: DisplayImages) -> None:
        if token != self._display_token:
            return
        w = self.window
        self._display = images
        if images.photo is None:
            w.image_view.set_message(images.error or texts.IMAGE_NOT_SHOWN)
            return
        w.image_view.set_images(images.photo, images.heat, images.box)
        self._enable_heatmap(images.heat is not None)
        w.image_view.set_show_overlay(w.heatmap_action.isChecked())

    def _enable_heatmap(self, has: bool) -> None:
        w = self.window
        for widget in (w.heatmap_toggle, w.heatmap_action, w.heatmap_class, w.opacity_slider):
            widget.setEnabled(has)

    def _on_heat_class_changed(self, _row: int) -> None:
        """Another class chosen: swap only the heat layer (the photo and zoom stay)."""
        display, result, index = self._display, self.current, self.heatmap_class_index()
        if display is None or display.photo is None or result is None or index is None:
            return
        box = display.box if display.box is not None else display.photo.rect()
        heat = heat_image(result, index, box)
        self._display = DisplayImages(display.photo, heat, box, index)
        self.window.image_view.set_heat(heat, box)
        self._enable_heatmap(heat is not None)

    def set_heatmap(self, on: bool) -> None:
        w = self.window
        for widget in (w.heatmap_action, w.heatmap_toggle):
            if widget.isChecked() != on:
                widget.blockSignals(True)
                widget.setChecked(on)
                widget.blockSignals(False)
        w.image_view.set_show_overlay(on)
        self.window_state.save_heatmap(on, w.opacity_slider.value())

    def set_opacity(self, percent: int) -> None:
        """The slider moved: repaint only (the heat layer is painted at this opacity)."""
        w = self.window
        w.image_view.set_opacity(percent / 100)
        self.window_state.save_heatmap(w.heatmap_action.isChecked(), percent)

    def _show_zoom(self) -> None:
        view = self.window.image_view
        text = texts.zoom_label(view.zoom() * 100, view.fitting) if view.photo else ""
        self.window.zoom_label.setText(text)
        for action in self.window.zoom_actions:
            action.setEnabled(view.photo is not None)

    # Remembered layout --------------------------------------------------------------------
    def _restore_view_settings(self) -> None:
        w, state = self.window, self.window_state
        w.opacity_slider.setValue(state.opacity_percent)
        w.image_view.set_opacity(state.opacity_percent / 100)
        for widget in (w.heatmap_action, w.heatmap_toggle):
            widget.setChecked(state.heatmap_on)
        state.restore(w)

    def save_view_settings(self) -> None:
        self.window_state.save(self.window)
        self.window_state.save_heatmap(
            self.window.heatmap_action.isChecked(), self.window.opacity_slider.value()
        )

    # Recent files and samples -------------------------------------------------------------
    def recent_files(self) -> list[str]:
        return self.recent.paths()

    def add_recent(self, path: Path) -> None:
        self.recent.add(path)
        self.rebuild_recent_menu()

    def rebuild_recent_menu(self) -> None:
        menu = self.window.recent_menu
        menu.clear()
        recent = self.recent_files()
        if not recent:
            empty = menu.addAction(texts.NO_RECENT)
            empty.setEnabled(False)
            return
        for i, p in enumerate(recent):
            label = f"&{i + 1} {Path(p).name or p}" if i < 9 else Path(p).name
            action = menu.addAction(label)
            action.setToolTip(p)
            action.setStatusTip(p)
            action.triggered.connect(lambda _=False, p=p: self.open_paths([p]))
        menu.addSeparator()
        menu.addAction(texts.CLEAR_RECENT).triggered.connect(self.clear_recent)

    def clear_recent(self) -> None:
        self.recent.clear()
        self.rebuild_recent_menu()

    def rebuild_samples_menu(self) -> None:
        menu = self.window.samples_menu
        menu.clear()
        samples = list_samples(self.samples_dir)
        self.window.try_samples_button.setVisible(bool(samples))
        if not samples:
            none = menu.addAction(texts.NO_SAMPLES)
            none.setEnabled(False)
            self.window.try_samples_button.setEnabled(False)
            return
        for p in samples:
            menu.addAction(p.name).triggered.connect(lambda _=False, p=p: self.open_paths([p]))
        if len(samples) > 1:
            menu.addSeparator()
            menu.addAction(texts.OPEN_ALL_SAMPLES).triggered.connect(self.open_all_samples)
        menu.setEnabled(self.classifier is not None)

    def open_all_samples(self) -> int | None:
        """The newcomer's first step: every shipped sample, as a batch."""
        samples = list_samples(self.samples_dir)
        return self.open_paths(samples) if samples else None

    # Save, export, about ------------------------------------------------------------------
    def save_report(self, path: str | os.PathLike[str] | None = None) -> Path | None:
        result, w = self.current, self.window
        if result is None or result.prediction is None or self.classifier is None:
            w.statusBar().showMessage(texts.NOTHING_TO_REPORT, 5000)
            return None
        if path is None:
            stem = Path(result.name).stem or "image"
            path = self.ask_save_path(
                texts.SAVE_REPORT_TITLE, f"{stem}-report.pdf", texts.PDF_FILTER
            )
            if not path:
                return None
        display = self._display
        if display is None or display.photo is None:  # the background load has not finished
            chosen = self.heatmap_class_index()
            display = display_images(
                result, self.classifier.card.preprocessing, chosen if chosen is not None else -1
            )
        opacity = self.window.opacity_slider.value() / 100
        shown = display.heat_class if display.heat is not None else None
        classes = result.prediction.classes
        try:
            out = write_report(
                path,
                result,
                self.classifier.card,
                self.classifier.model_name,
                display.photo,
                display.composite(opacity),
                heatmap_class=classes[shown] if shown is not None else None,
            )
        except (ReportError, OSError) as exc:
            QMessageBox.warning(w, APP_NAME, texts.report_not_saved(exc))
            return None
        w.statusBar().showMessage(texts.report_saved(out), 8000)
        return out

    def export_csv(self, path: str | os.PathLike[str] | None = None) -> Path | None:
        w = self.window
        results = w.batch_panel.results_in_view_order()
        if not results or self.classifier is None:
            w.statusBar().showMessage(texts.NO_BATCH_TO_EXPORT, 5000)
            return None
        if path is None:
            path = self.ask_save_path(
                texts.EXPORT_TABLE_TITLE, "lesionlens-results.csv", texts.CSV_FILTER
            )
            if not path:
                return None
        try:
            write_csv(path, results, self.classifier.card.classes)
        except OSError as exc:
            QMessageBox.warning(w, APP_NAME, texts.table_not_saved(exc))
            return None
        w.statusBar().showMessage(texts.table_exported(len(results), path), 8000)
        return Path(path)

    def show_model_card(self) -> ModelCardDialog:
        card = self.classifier.card if self.classifier is not None else None
        name = self.classifier.model_name if self.classifier is not None else None
        dialog = ModelCardDialog(card, name, self.load_error, self.window)
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        self.last_dialog = dialog
        dialog.open()
        return dialog
