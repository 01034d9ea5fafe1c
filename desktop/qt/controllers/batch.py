"""Behaviour of a classification job: rows into the table, progress, the summary line.

One job at a time; results of a job the user has replaced (by opening something else)
are dropped when they arrive.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from PySide6.QtCore import QModelIndex, QObject
from PySide6.QtWidgets import QMessageBox

from desktop import APP_NAME, verdict
from desktop.imaging import IMAGE_EXTENSIONS
from desktop.qt import texts
from desktop.qt.main_window import MainWindow
from desktop.qt.workers import InferenceRunner, Input
from desktop.results import ImageResult


@dataclass
class JobCounts:
    planned: int = 0
    received: int = 0
    failed: int = 0
    started_at: float = 0.0

    @property
    def classified(self) -> int:
        return self.received - self.failed


class BatchController(QObject):
    """Submits jobs to ``runner`` and shows their results; ``show`` fills the detail side."""

    def __init__(
        self,
        window: MainWindow,
        runner: InferenceRunner,
        show: Callable[[ImageResult], None],
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        self.window = window
        self.runner = runner
        self.show = show
        self.job: int | None = None
        self.counts = JobCounts()
        self._shown = False  # whether this job's first result is on screen yet
        runner.jobStarted.connect(self._on_started)
        runner.resultsReady.connect(self._on_results)
        runner.jobFailed.connect(self._on_failed)
        runner.jobFinished.connect(self._on_finished)
        window.batch_panel.table.selectionModel().currentRowChanged.connect(self._on_row_changed)

    def start(self, items: list[Input]) -> int:
        """Forget the last job's table and start classifying ``items``; returns the job id."""
        w = self.window
        self.counts = JobCounts(started_at=time.perf_counter())
        self._shown = False
        w.batch_panel.model.clear()
        w.show_batch_panel(False)
        w.export_csv_action.setEnabled(False)
        self.job = self.runner.submit(items)
        w.cancel_action.setEnabled(True)
        return self.job

    def cancel(self) -> None:
        if self.runner.busy():
            self.runner.cancel()
            self.window.say(texts.CANCELLING, 3000)

    def shutdown(self) -> None:
        """Stop the batch and let the worker finish the image it is on."""
        self.runner.cancel()
        self.runner.wait(5000)

    def _on_started(self, job: int, count: int) -> None:
        if job != self.job:
            return
        w = self.window
        self.counts.planned = count
        if count == 0:
            w.image_view.set_message(texts.no_images_found(sorted(IMAGE_EXTENSIONS)))
            w.detail.clear(texts.NO_IMAGE)
        elif count > 1:
            w.show_batch_panel(True, rows=count)
            w.show_progress(count)
            self._update_summary()

    def _on_results(self, job: int, first: int, results: list[ImageResult]) -> None:
        if job != self.job or not results:
            return
        w, counts = self.window, self.counts
        w.batch_panel.model.append(results)
        counts.received += len(results)
        counts.failed += sum(1 for r in results if not r.ok)
        if first == 0:
            if counts.planned > 1:
                w.batch_panel.select_source_row(0)  # shows it through currentRowChanged
            if not self._shown:
                self._show(results[0])
        if counts.planned > 1:
            w.progress.setValue(counts.received)
            w.export_csv_action.setEnabled(True)
            self._update_summary()

    def _on_failed(self, job: int, reason: str) -> None:
        if job == self.job:
            QMessageBox.warning(self.window, APP_NAME, texts.classification_stopped(reason))

    def _on_finished(self, job: int, cancelled: bool) -> None:
        if job != self.job:
            return
        w, counts = self.window, self.counts
        w.hide_progress()
        if counts.planned > 1:
            secs = time.perf_counter() - counts.started_at
            cannot = self._levels()[verdict.CANNOT_ASSESS]
            w.time_status.setText(
                texts.batch_status(
                    counts.classified - cannot,
                    counts.planned,
                    counts.failed,
                    secs,
                    cancelled,
                    cannot,
                )
            )
            self._update_summary(finished=True, cancelled=cancelled)

    def _update_summary(self, finished: bool = False, cancelled: bool = False) -> None:
        panel, counts = self.window.batch_panel, self.counts
        alerts = self._levels()
        if cancelled:
            state = texts.BATCH_CANCELLED
        else:
            state = texts.BATCH_DONE if finished else texts.BATCH_RUNNING
        panel.summary.setText(
            texts.batch_summary(
                counts.classified - alerts[verdict.CANNOT_ASSESS],
                counts.planned,
                counts.failed,
                state,
                alerts[verdict.ALERT],
                alerts[verdict.CANNOT_ASSESS],
            )
        )

    def _levels(self) -> dict[str, int]:
        """How many rows so far have each verdict level."""
        return verdict.summarise(r.alert_level for r in self.window.batch_panel.model.results())

    def _on_row_changed(self, current: QModelIndex, _previous: QModelIndex) -> None:
        if current.isValid():
            panel = self.window.batch_panel
            self._show(panel.model.result(panel.source_row(current.row())))

    def _show(self, result: ImageResult) -> None:
        self._shown = True
        self.show(result)
