"""Lesion history in the window: "Save to case…" and the case browser; it opens the lesion
timeline (:mod:`desktop.qt.controllers.timeline`) and lends it the store and the worker.

The store is opened on first use, not at start-up, so a damaged or newer case
database never stands between a clinician and a classification; when it cannot
be opened the user gets the store's own message (with the last good backup).
The database is used on the UI thread only (each write is milliseconds);
classifying and decoding run on a private one-thread pool with their own
classifier instance, so they never share an interpreter with the main window's
batch runner.
"""

from __future__ import annotations

import functools
import io
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol

from PySide6.QtCore import QObject, QStandardPaths, Signal
from PySide6.QtGui import QPixmap
from PySide6.QtWidgets import QFileDialog, QMainWindow, QMessageBox, QWidget

from desktop import APP_NAME
from desktop.history.images import SourceError
from desktop.history.service import (
    BODY_SITES,
    History,
    HistoryError,
    check_lesion,
    check_patient,
    check_site,
    model_info,
)
from desktop.history.store import ENV_DATA_DIR, Store, StoreError
from desktop.qt import history_texts
from desktop.qt.controllers.follow_up import FollowUpController
from desktop.qt.controllers.timeline import TimelineController
from desktop.qt.history_report import write_lesion_pdf
from desktop.qt.jobs import SerialJobs
from desktop.qt.main_window import MainWindow
from desktop.qt.views.case_browser import CaseBrowser
from desktop.qt.views.fit import fit_to_screen
from desktop.qt.views.follow_up_views import ask_with_thumbnail
from desktop.qt.views.save_to_case_dialog import SaveToCaseDialog
from desktop.qt.views.timeline_view import TimelineDialog
from desktop.results import ImageResult, SupportsClassify, classify_path


def gui_data_dir() -> Path:
    """``$LESIONLENS_DATA_DIR``, else Qt's per-user app-data folder (same as the command line's)."""
    env = os.environ.get(ENV_DATA_DIR, "").strip()
    if env:
        return Path(env).expanduser()
    location = QStandardPaths.writableLocation(QStandardPaths.StandardLocation.AppDataLocation)
    if location:
        return Path(location)
    from desktop.history.store import default_data_dir

    return default_data_dir()


class Clinician(Protocol):
    @property
    def clinician(self) -> str: ...


class ShownResult(Protocol):
    """What the case history reads of the main window's controller
    (:class:`desktop.qt.controllers.main.MainController`)."""

    @property
    def current(self) -> ImageResult | None: ...  # the result on screen, saved to a case

    @property
    def classifier(self) -> SupportsClassify | None: ...  # the model in use

    @property
    def reports(self) -> Clinician: ...  # the clinician named on a lesion PDF


class HistoryController(QObject):
    """Connects the window's history actions to the case store.

    ``window`` is the parent of the dialogs; a :class:`MainWindow` also lends its Save to
    case and Cases actions, its status bar and its closing signal. Without ``main`` (a
    benchmark, a test) nothing is on screen to save and the model is ``classifier``.
    """

    taskFinished = Signal(int)  # token; lets tests wait for background work

    def __init__(
        self,
        window: QWidget,
        main: ShownResult | None = None,
        *,
        data_dir: Path | None = None,
        classifier: SupportsClassify | None = None,
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent or window)
        self.window = window
        self.main = main
        self._data_dir = Path(data_dir) if data_dir is not None else None
        self._classifier = classifier
        self._worker_classifier: SupportsClassify | None = None
        self._store: Store | None = None
        self._history: History | None = None
        self.quarantined = 0  # photos in quarantine/ at the last open (history recover)
        self.jobs = SerialJobs(self)
        self.jobs.delivered.connect(self.taskFinished)
        self.browser: CaseBrowser | None = None
        self.save_dialog: SaveToCaseDialog | None = None
        self.timelines = TimelineController(self)
        self.follow_up = FollowUpController(self)
        self.confirm_thumbnail: QPixmap | None = None  # shown by confirm() for a visit
        if isinstance(window, MainWindow):
            window.save_to_case_action.triggered.connect(lambda _=False: self.save_to_case())
            window.cases_action.triggered.connect(lambda _=False: self.open_cases())
            window.closing.connect(self.shutdown)

    # Plumbing -----------------------------------------------------------------------------
    @property
    def data_dir(self) -> Path:
        return self._data_dir if self._data_dir is not None else gui_data_dir()

    def history(self) -> History | None:
        """The open store, opening it on first use; None (after telling the user) if it cannot."""
        if self._history is not None:
            return self._history
        try:
            self._store = Store.open(self.data_dir)
        except StoreError as exc:
            self.show_error(history_texts.store_not_opened(exc))
            return None
        self._history = History(self._store)
        self._tell_store_state(self._store)
        return self._history

    def _tell_store_state(self, store: Store) -> None:
        """A store open for reading only, or photos waiting in quarantine/, on the status bar."""
        self.quarantined = store.quarantine_count()
        if store.read_only_reason:
            self.status(history_texts.store_read_only(store.read_only_reason))
        elif self.quarantined:
            self.status(history_texts.photos_in_quarantine(self.quarantined))

    def show_error(self, text: str) -> None:
        """A warning box (a method so tests can replace it)."""
        QMessageBox.warning(self.window, APP_NAME, text)

    def confirm(self, text: str) -> bool:
        """Ask before deleting (a method so tests can answer); a visit shows its photo."""
        return ask_with_thumbnail(self.window, text, self.confirm_thumbnail)

    def status(self, text: str) -> None:
        if isinstance(self.window, QMainWindow):
            self.window.statusBar().showMessage(text, 8000)

    def classifier(self) -> SupportsClassify | None:
        if self._classifier is not None:
            return self._classifier
        return self.main.classifier if self.main is not None else None

    def worker_classifier(self) -> SupportsClassify | None:
        """A second interpreter for the worker (a LiteRT interpreter serves one caller at a time).

        Anything that is not the LiteRT classifier (a test fake) is used as it is.
        """
        base = self.classifier()
        if base is None:
            return None
        from desktop.inference import Classifier

        if not isinstance(base, Classifier):
            return base
        if self._worker_classifier is None or self._worker_classifier.card is not base.card:
            self._worker_classifier = Classifier(base.model_path, card=base.card)
        return self._worker_classifier

    def run_task(self, fn: Callable[[], Any], then: Callable[[Any], None]) -> int:
        """``fn()`` on the worker thread, then ``then(result or exception)`` on this one."""
        return self.jobs.call(fn, then)

    def busy(self) -> bool:
        return self.jobs.busy()

    def shutdown(self) -> None:
        self.jobs.wait(5000)
        if self._store is not None:
            self._store.close()
        self._store = self._history = None

    # Save to case -------------------------------------------------------------------------
    def current_result(self) -> ImageResult | None:
        result = self.main.current if self.main is not None else None
        return result if result is not None and result.ok else None

    def save_to_case(self, result: ImageResult | None = None) -> SaveToCaseDialog | None:
        """Open the dialog for the shown result; None when there is nothing to save."""
        result = result if result is not None else self.current_result()
        if result is None or self.classifier() is None:
            self.status(history_texts.NOTHING_TO_SAVE)
            return None
        history = self.history()
        if history is None:
            return None
        dialog = SaveToCaseDialog(
            [p.code for p in history.patients()], BODY_SITES, result.name, self.window
        )
        dialog.patientChanged.connect(lambda code: self._fill_lesions(dialog, code))
        dialog.saveRequested.connect(lambda: self._save(dialog, result))
        self.save_dialog = dialog
        fit_to_screen(dialog)
        dialog.open()
        return dialog

    def _fill_lesions(self, dialog: SaveToCaseDialog, code: str) -> None:
        history = self.history()
        if history is None:
            return
        try:
            lesions = history.lesions(check_patient(code))
        except HistoryError:
            lesions = []
        dialog.set_lesions([(x.label, x.site, x.laterality) for x in lesions])

    def _save(self, dialog: SaveToCaseDialog, result: ImageResult) -> None:
        req = dialog.values()
        history = self.history()
        classifier = self.classifier()
        if history is None or classifier is None:
            return
        follow = {
            "laterality": req.side,
            "decision": req.decision,
            "next_review": req.next_review,
            "before_first": req.before_first,
        }
        try:
            patient, lesion = check_patient(req.patient), check_lesion(req.lesion)
            site = check_site(req.site)
            taken = history.check_visit_date(patient, req.date, before_first=req.before_first)
            history.check_lesion_site(patient, lesion, site, req.side)
            record = self._store_result(
                history, patient, lesion, site, taken, req.note, result, **follow
            )
        except (HistoryError, StoreError, SourceError, OSError) as exc:
            dialog.show_error(str(exc))
            return
        saved = [record]
        extra = list(dialog.extra_files)
        dialog.accept()
        if not extra:
            self.status(history_texts.saved_to_case(patient, lesion, record["number"]))
            return
        worker = self.worker_classifier()

        def classify_all() -> list[ImageResult]:
            return [classify_path(worker, Path(p)) for p in extra]

        def store_all(results: Any) -> None:
            if isinstance(results, Exception):
                self.show_error(history_texts.extra_not_classified(results))
                return
            failed = []
            for r in results:
                try:
                    if not r.ok:
                        raise HistoryError(r.error or history_texts.NOT_CLASSIFIED)
                    saved.append(
                        self._store_result(
                            history, patient, lesion, site, taken, req.note, r, **follow
                        )
                    )
                except (HistoryError, StoreError, SourceError, OSError) as exc:
                    failed.append(f"{r.name}: {exc}")
            self.status(history_texts.saved_images_to_case(len(saved), patient, lesion))
            if failed:
                self.show_error(history_texts.some_not_saved(failed))

        self.run_task(classify_all, store_all)

    def _store_result(
        self,
        history: History,
        patient: str,
        lesion: str,
        site: str,
        taken: str,
        note: str,
        result: ImageResult,
        **follow: Any,
    ) -> dict[str, Any]:
        """Store one classified image as a visit; ``follow``: side, decision, next review."""
        classifier = self.classifier()
        assert classifier is not None
        if result.path is not None:
            image: Path | bytes = result.path
            name = result.name
        elif result.image is not None:  # pasted or dropped pixels: keep them losslessly
            buf = io.BytesIO()
            result.image.save(buf, format="PNG")
            image, name = buf.getvalue(), f"{Path(result.name).stem or 'image'}.png"
        else:
            raise HistoryError(history_texts.NO_IMAGE_TO_STORE)
        return history.add_visit(
            patient,
            lesion,
            image,
            result,
            model_info(classifier),
            site=site,
            taken=taken,
            note=note,
            name=name,
            **follow,
        )

    # Case browser -------------------------------------------------------------------------
    def open_cases(self) -> CaseBrowser | None:
        history = self.history()
        if history is None:
            return None
        browser = CaseBrowser(str(self.data_dir), self.window)
        self.browser = browser
        browser.search_edit.textChanged.connect(lambda _t: self.refresh_browser())
        browser.patients.rowSelected.connect(self._on_patient_selected)
        browser.lesions.rowSelected.connect(self._update_browser_buttons)
        browser.lesions.doubleClicked.connect(lambda _i: self._open_selected_lesion())
        browser.open_button.clicked.connect(self._open_selected_lesion)
        browser.export_button.clicked.connect(
            lambda: self.export_patient(browser.selected_patient())
        )
        browser.delete_patient_button.clicked.connect(self._delete_selected_patient)
        browser.delete_lesion_button.clicked.connect(self._delete_selected_lesion)
        browser.edit_visit_button.clicked.connect(
            lambda: (chosen := browser.selected_lesion()) and self.follow_up.edit_visit(chosen[0])
        )
        browser.outcome_button.clicked.connect(
            lambda: (chosen := browser.selected_lesion()) and self.follow_up.outcome(chosen[0])
        )
        browser.open_due_button.clicked.connect(self._open_due_lesion)
        browser.due.doubleClicked.connect(lambda _i: self._open_due_lesion())
        self.refresh_browser()
        fit_to_screen(browser)
        browser.open()
        return browser

    def refresh_browser(self) -> None:
        browser, history = self.browser, self._history
        if browser is None or history is None:
            return
        browser.set_due(history.due())
        browser.set_patients(history.patients(browser.search_edit.text()))
        if browser.patients.rowCount():
            browser.patients.selectRow(0)
        self._on_patient_selected()  # also when row 0 was already selected before the refresh

    def _on_patient_selected(self) -> None:
        browser, history = self.browser, self._history
        if browser is None or history is None:
            return
        code = browser.selected_patient()
        browser.set_lesions(history.lesions(code) if code else [])
        self._update_browser_buttons()

    def _update_browser_buttons(self) -> None:
        if self.browser is not None:
            self.browser.set_selection_state(
                self.browser.selected_patient() is not None,
                self.browser.selected_lesion() is not None,
            )

    def _open_due_lesion(self) -> None:
        if self.browser is not None and (lesion_id := self.browser.due.current_key()):
            self.open_timeline(int(lesion_id))

    def _open_selected_lesion(self) -> None:
        if self.browser is not None and (chosen := self.browser.selected_lesion()):
            self.open_timeline(chosen[0])

    def _delete_selected_patient(self) -> None:
        code = self.browser.selected_patient() if self.browser is not None else None
        if code and self.delete(code):
            self.refresh_browser()

    def _delete_selected_lesion(self) -> None:
        browser = self.browser
        if browser is None or not (code := browser.selected_patient()):
            return
        chosen = browser.selected_lesion()
        if chosen and self.delete(code, lesion=chosen[1]):
            self.refresh_browser()

    def delete(self, patient: str, lesion: str | None = None, visit_id: int | None = None) -> bool:
        """Say what goes (images included), ask, then delete; True when deleted."""
        history = self.history()
        if history is None:
            return False
        try:
            plan = history.plan_delete(patient, lesion, visit_id)
            self.confirm_thumbnail = self._thumbnail(history, visit_id)
            try:
                if not self.confirm(plan.message()):
                    return False
            finally:
                self.confirm_thumbnail = None
            removed = history.delete(plan)
        except (HistoryError, StoreError) as exc:
            self.show_error(str(exc))
            return False
        self.status(history_texts.deleted(plan.what, removed))
        return True

    @staticmethod
    def _thumbnail(history: History, visit_id: int | None) -> QPixmap | None:
        """The photo of a visit about to be deleted, checked by hash; None if unusable."""
        if visit_id is None:
            return None
        try:
            path = history.verified_photo(visit_id)
        except (HistoryError, StoreError):
            return None
        pixmap = QPixmap(str(path))
        return None if pixmap.isNull() else pixmap

    def export_patient(
        self, code: str | None, folder: str | os.PathLike[str] | None = None
    ) -> Path | None:
        history = self.history()
        if history is None or not code:
            return None
        if folder is None:
            folder = QFileDialog.getExistingDirectory(
                self.window, history_texts.export_folder_title(code)
            )
            if not folder:
                return None
        try:
            summary = history.export(code, Path(folder), self._lesion_pdf_writer())
        except (HistoryError, StoreError, OSError) as exc:
            self.show_error(history_texts.export_failed(exc))
            return None
        if summary.pdf_error:
            self.show_error(history_texts.pdf_not_exported(summary.pdf_error))
        self.status(history_texts.exported(code, summary.folder))
        return summary.folder

    def _lesion_pdf_writer(self) -> Callable[..., Path]:
        """The lesion PDF with the model in use and the clinician from the settings."""
        classifier = self.classifier()
        return functools.partial(
            write_lesion_pdf,
            card=classifier.card if classifier is not None else None,
            clinician=self.main.reports.clinician if self.main is not None else "",
        )

    def open_timeline(self, lesion_id: int) -> TimelineDialog | None:
        return self.timelines.open(lesion_id)
