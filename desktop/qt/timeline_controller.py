"""Behaviour of the lesion timeline: two visits side by side, the melanoma chart, re-classify.

It borrows the case store, the background pool and the message boxes of
:class:`desktop.qt.history.HistoryController`, which opens it.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from PySide6.QtGui import QImage

from desktop.heatmap import display_copy
from desktop.history.service import HistoryError, melanoma_series, model_info
from desktop.history.store import StoreError
from desktop.imaging import open_image
from desktop.qt import texts
from desktop.qt.convert import pil_to_qimage
from desktop.qt.views.history_views import TimelineDialog, verdict_html
from desktop.results import classify_path

if TYPE_CHECKING:  # the history controller imports this module
    from desktop.qt.history import HistoryController

DISPLAY_DRAFT_PX = 2048


def load_display_image(path: Path) -> QImage:
    """A stored photo, upright and screen-sized (runs on the worker)."""
    return pil_to_qimage(display_copy(open_image(path, draft_size=DISPLAY_DRAFT_PX)))


class TimelineController:
    """One lesion's timeline dialog at a time; ``data`` is the lesion as the store gives it."""

    def __init__(self, cases: HistoryController) -> None:
        self.cases = cases
        self.dialog: TimelineDialog | None = None
        self.lesion_id: int | None = None
        self.data: dict[str, Any] | None = None

    def open(self, lesion_id: int) -> TimelineDialog | None:
        if self.cases.history() is None:
            return None
        dialog = TimelineDialog(self.cases.window)
        self.dialog, self.lesion_id = dialog, lesion_id
        dialog.combo_a.currentIndexChanged.connect(lambda _i: self._show_side("a"))
        dialog.combo_b.currentIndexChanged.connect(lambda _i: self._show_side("b"))
        dialog.visits.clicked.connect(lambda index: self._on_visit_clicked(index.row()))
        dialog.reclassify_button.clicked.connect(lambda: self.reclassify(dialog.selected_ids()[1]))
        dialog.delete_button.clicked.connect(self._delete_visit)
        dialog.export_button.clicked.connect(
            lambda: self.cases.export_patient((self.data or {}).get("patient"))
        )
        if not self.refresh(initial=True):
            return None
        dialog.open()
        return dialog

    def refresh(self, initial: bool = False) -> bool:
        dialog, history = self.dialog, self.cases.history()
        if dialog is None or history is None or self.lesion_id is None:
            return False
        try:
            lesion = history.lesion(self.lesion_id)
        except HistoryError as exc:
            self.cases.show_error(str(exc))
            dialog.reject()
            return False
        self.data = lesion
        visits = lesion["visits"]
        dialog.setWindowTitle(texts.timeline_title(lesion["patient"], lesion["label"]))
        dialog.title.setText(
            texts.timeline_heading(lesion["patient"], lesion["label"], lesion["site"], len(visits))
        )
        dialog.set_visits(visits)
        if initial and visits:  # compare the latest visit with the one before it
            dialog.combo_b.setCurrentIndex(len(visits) - 1)
            dialog.combo_a.setCurrentIndex(max(0, len(visits) - 2))
        dialog.reclassify_button.setEnabled(bool(visits) and self.cases.classifier() is not None)
        dialog.delete_button.setEnabled(bool(visits))
        self._show_side("a")
        self._show_side("b")
        return True

    def visits_shown(self) -> list[dict[str, Any]]:
        return list((self.data or {}).get("visits", []))

    def _visit(self, visit_id: int | None) -> dict[str, Any] | None:
        return next((v for v in self.visits_shown() if v["id"] == visit_id), None)

    def _show_side(self, side: str) -> None:
        """Fill one side with its visit's verdict now and its photo when it has loaded."""
        dialog = self.dialog
        if dialog is None:
            return
        a, b = dialog.selected_ids()
        visit = self._visit(a if side == "a" else b)
        view, other = (
            (dialog.view_a, dialog.view_b) if side == "a" else (dialog.view_b, dialog.view_a)
        )
        label = dialog.verdict_a if side == "a" else dialog.verdict_b
        picked = [i for i in (a, b) if i]
        dialog.chart.set_series(melanoma_series({"visits": self.visits_shown()}), picked)
        if visit is None:
            view.set_message(texts.NO_VISIT)
            label.setText("")
            return
        label.setText(verdict_html(visit))
        view.set_message(texts.LOADING_IMAGE)
        wanted = visit["id"]

        def shown(image: Any) -> None:
            if dialog.selected_ids()[0 if side == "a" else 1] != wanted:
                return  # the user picked another visit meanwhile
            if not isinstance(image, QImage):
                view.set_message(texts.stored_image_not_shown(image))
                return
            view.set_image(image)
            if dialog.link_box.isChecked() and other.image is not None:
                view.set_view(*other.view())

        path = Path(visit["image"]["file"])
        self.cases.run_task(lambda: load_display_image(path), shown)

    def _on_visit_clicked(self, row: int) -> None:
        if self.dialog is not None:
            self.dialog.combo_b.setCurrentIndex(row)
            self.dialog.combo_a.setCurrentIndex(max(0, row - 1))

    def _delete_visit(self) -> None:
        _, visit_id = self.dialog.selected_ids() if self.dialog else (None, None)
        data = self.data
        if data and visit_id is not None and self.cases.delete(data["patient"], visit_id=visit_id):
            self.refresh()

    def reclassify(self, visit_id: int | None) -> int | None:
        """Classify a stored visit with the current model; its old result stays beside the new."""
        cases = self.cases
        history, worker = cases.history(), cases.worker_classifier()
        if history is None or worker is None or visit_id is None:
            cases.status(texts.CANNOT_RECLASSIFY)
            return None
        try:
            path = Path(history.visit(visit_id)["image"]["file"])
        except HistoryError as exc:
            cases.show_error(str(exc))
            return None
        main_classifier = cases.classifier()

        def stored(result: Any) -> None:
            if isinstance(result, Exception) or not result.ok:
                why = result if isinstance(result, Exception) else result.error
                cases.show_error(texts.not_reclassified(why))
                return
            try:
                history.add_result(visit_id, result, model_info(main_classifier))
            except (HistoryError, StoreError) as exc:
                cases.show_error(str(exc))
                return
            cases.status(texts.reclassified(visit_id))
            self.refresh()

        return cases.run_task(lambda: classify_path(worker, path), stored)
