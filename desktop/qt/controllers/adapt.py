"""Model ▸ Adapt to this clinic…: wires the dialog to the background run and to the model
switch. Always adapts the shipped model (an adapted model is never adapted again)."""

from __future__ import annotations

import math
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import QObject, Qt
from PySide6.QtWidgets import QFileDialog

from desktop import verdict
from desktop.adapt.fit import Figures
from desktop.adapt.report import clinic_limit_text
from desktop.qt import texts
from desktop.qt.adapt_worker import AdaptRequest, AdaptRunner, Outcome, remove_model
from desktop.qt.views.adapt_dialog import AdaptDialog, OutcomeView

if TYPE_CHECKING:
    from desktop.qt.controllers.model import ModelController


def _auc(value: float) -> str:
    return f"{value:.3f}" if math.isfinite(value) else texts.NOT_MEASURED


def _rate(value: float) -> str:
    return verdict.percent(value, 1) if math.isfinite(value) else texts.NOT_MEASURED


def figure_rows(before: Figures, after: Figures) -> list[tuple[str, str, str]]:
    """The before/after table in words: AUC as a number, the rest as percentages."""
    auc, sens, spec, bal = texts.ADAPT_ROWS
    return [
        (auc, _auc(before.roc_auc), _auc(after.roc_auc)),
        (sens, _rate(before.sensitivity), _rate(after.sensitivity)),
        (spec, _rate(before.specificity), _rate(after.specificity)),
        (bal, _rate(before.balanced_accuracy), _rate(after.balanced_accuracy)),
    ]


def outcome_view(outcome: Outcome) -> OutcomeView:
    """What one run measured, as the dialog shows it; "Use" only for a written model."""
    folds = int(outcome.block.get("cross_validation", {}).get("folds", 0))
    written = outcome.model is not None
    roc = outcome.model.parent / "roc.png" if outcome.model is not None else None
    if not written:
        reason = texts.adapt_not_better(outcome.before.roc_auc, outcome.after.roc_auc)
    else:
        reason = None if outcome.better else texts.ADAPT_WRITTEN_ANYWAY
    summary = texts.adapt_summary(outcome.after.images, outcome.after.melanomas, folds)
    if outcome.clinic_limit is not None:
        summary += "\n" + clinic_limit_text(outcome.clinic_limit)
    return OutcomeView(
        summary=summary,
        rows=figure_rows(outcome.before, outcome.after),
        roc_path=str(roc) if roc is not None and roc.is_file() else None,
        left_out=[
            texts.adapt_left_out(kind, int(e.get("count", 0)), str(e.get("example", "")))
            for kind, e in outcome.left_out.items()
        ],
        reason=reason,
        usable=written,
        can_force=not written,
    )


def default_out(base: Path, today: date | None = None) -> Path:
    """``<app data>/models/adapted-<date>``, numbered so an earlier model is never replaced."""
    stem = f"adapted-{(today or date.today()).isoformat()}"
    folder, n = base / "models" / stem, 1
    while (folder / "model.json").exists():
        n += 1
        folder = base / "models" / f"{stem}-{n}"
    return folder


class AdaptController(QObject):
    """One dialog at a time; one run at a time; Cancel answers at once."""

    def __init__(self, models: ModelController, *, data_dir: Path | None = None) -> None:
        super().__init__(models)
        self.models = models
        self.window = models.window
        self._data_dir = data_dir
        self.folds: int | None = None  # None: the command's default (tests use fewer)
        self.runner = AdaptRunner(self)
        self.runner.progress.connect(self._on_progress)
        self.runner.succeeded.connect(self._on_succeeded)
        self.runner.failed.connect(self._on_failed)
        self.runner.cancelled.connect(lambda run_id: self._abandoned.discard(run_id))
        self.dialog: AdaptDialog | None = None
        self.run_id: int | None = None
        self.request: AdaptRequest | None = None
        self.outcome: Outcome | None = None
        self._abandoned: set[int] = set()

    def data_dir(self) -> Path:
        if self._data_dir is not None:
            return self._data_dir
        from desktop.qt.controllers.history import gui_data_dir

        return gui_data_dir()

    def ask_folder(self, title: str, start: str = "") -> str:
        """A folder dialog (a method so tests can replace it)."""
        return QFileDialog.getExistingDirectory(self.dialog or self.window, title, start)

    def open(self) -> AdaptDialog:
        if self.dialog is None:
            dialog = AdaptDialog(str(default_out(self.data_dir())), self.window)
            dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
            dialog.add_folder_button.clicked.connect(lambda _=False: self.add_folder())
            dialog.remove_folder_button.clicked.connect(dialog.remove_selected_folders)
            dialog.choose_out_button.clicked.connect(lambda _=False: self.choose_out())
            dialog.start_button.clicked.connect(lambda _=False: self.start())
            dialog.cancel_button.clicked.connect(lambda _=False: self.cancel())
            dialog.write_anyway_button.clicked.connect(lambda _=False: self.start(force=True))
            dialog.use_button.clicked.connect(lambda _=False: self.use())
            dialog.finished.connect(lambda _=0: self._closed())
            self.dialog = dialog
        self.dialog.open()
        return self.dialog

    def add_folder(self) -> None:
        if self.dialog is not None:
            last = self.dialog.folders()
            folder = self.ask_folder(texts.ADAPT_ADD_FOLDER_TITLE, last[-1] if last else "")
            self.dialog.add_folder(folder)

    def choose_out(self) -> None:
        if self.dialog is not None:
            folder = self.ask_folder(texts.ADAPT_CHOOSE_OUT_TITLE, self.dialog.out_edit.text())
            if folder:
                self.dialog.out_edit.setText(folder)

    def _check(self, folders: list[str], out: str) -> str | None:
        """What stops a run before it starts (said in the dialog), or None."""
        if not folders:
            return texts.ADAPT_NO_FOLDERS
        if not out:
            return texts.ADAPT_NO_OUT
        from desktop.qt.model_choice import model_path, same_file

        active = model_path(self.models.classifier)
        if active is not None and same_file(active.parent, Path(out)):
            return texts.ADAPT_OUT_IN_USE
        return None

    def start(self, force: bool = False) -> int | None:
        """Run the adaptation in the background; ``force`` writes a model that is not better."""
        d = self.dialog
        if d is None:
            return None
        folders, out = d.folders(), d.out_edit.text().strip()
        problem = self._check(folders, out)
        d.show_message(problem or "")
        if problem:
            return None
        kwargs = {"folds": self.folds} if self.folds is not None else {}
        out_path = Path(out).expanduser()
        self.request = AdaptRequest(
            tuple(folders),
            out_path,
            self.models.shipped,
            force=force,
            limit_scope=d.clinic_limit_box.isChecked(),
            **kwargs,
        )
        self.outcome = None
        d.clear_outcome()
        d.set_running(True)
        self.run_id = self.runner.start(self.request)
        return self.run_id

    def cancel(self) -> None:
        """Stop now: the dialog is free at once, the worker stops at its next step and
        leaves no model behind."""
        if self.run_id is None:
            return
        self._abandoned.add(self.run_id)
        self.run_id = None
        self.runner.cancel()
        if self.dialog is not None:
            self.dialog.set_running(False)
            self.dialog.show_message(texts.ADAPT_CANCELLED)

    def use(self) -> str | None:
        """ "Use this model": switch the window to the written model and close the dialog."""
        if self.outcome is None or self.outcome.model is None:
            return None
        error = self.models.use_model(self.outcome.model)
        if error is not None:
            if self.dialog is not None:
                self.dialog.show_message(texts.adapt_failed(error))
            return error
        if self.dialog is not None:
            self.dialog.accept()
        return None

    def _on_progress(self, run_id: int, stage: str, done: int, total: int) -> None:
        if run_id == self.run_id and self.dialog is not None:
            self.dialog.set_progress(texts.adapt_stage(stage, done, total), done, total)

    def _on_succeeded(self, run_id: int, outcome: Outcome) -> None:
        if run_id in self._abandoned:  # finished writing just as Cancel came
            self._abandoned.discard(run_id)
            if outcome.model is not None:
                remove_model(outcome.model.parent)
            return
        if run_id != self.run_id:
            return
        self.run_id, self.outcome = None, outcome
        if self.dialog is not None:
            self.dialog.set_running(False)
            self.dialog.show_outcome(outcome_view(outcome))
            folder = outcome.model.parent if outcome.model is not None else None
            self.dialog.show_message(texts.adapt_saved(str(folder)) if folder else "")

    def _on_failed(self, run_id: int, reason: str) -> None:
        self._abandoned.discard(run_id)
        if run_id != self.run_id:
            return
        self.run_id = None
        if self.dialog is not None:
            self.dialog.set_running(False)
            self.dialog.show_message(texts.adapt_failed(reason))

    def _closed(self) -> None:
        """Closing the dialog stops a run in progress; the next one opens fresh."""
        self.cancel()
        self.dialog = None

    def shutdown(self) -> None:
        self.cancel()
        self.runner.wait(10_000)
