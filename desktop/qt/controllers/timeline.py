"""Behaviour of the lesion timeline: two visits side by side, the later one aligned onto the
earlier (desktop.registration) with a fade between them, the melanoma chart (click a
point to show its visit), re-classify.

It borrows the case store, the background pool and the message boxes of
:class:`desktop.qt.controllers.history.HistoryController`, which opens it.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from PIL import Image
from PySide6.QtGui import QImage

from desktop.heatmap import display_copy
from desktop.history.service import HistoryError, Lesion, Visit, melanoma_series, model_info
from desktop.history.store import StoreError
from desktop.imaging import open_image
from desktop.qt import followup_texts as words
from desktop.qt import history_texts, texts
from desktop.qt.convert import pil_to_qimage
from desktop.qt.views.fit import fit_to_screen
from desktop.qt.views.timeline_view import TimelineDialog, verdict_html
from desktop.results import classify_path

if TYPE_CHECKING:  # the history controller imports this module
    from desktop.qt.controllers.history import HistoryController

DISPLAY_DRAFT_PX = 2048


def load_display_image(path: Path) -> QImage:
    """A stored photo, upright and screen-sized (runs on the worker)."""
    return pil_to_qimage(display_copy(open_image(path, draft_size=DISPLAY_DRAFT_PX)))


@dataclass(frozen=True)
class Alignment:
    """The later photo redrawn in the earlier one's frame, or why it was not."""

    pair: tuple[int, int]  # (earlier visit id, later visit id)
    later: QImage | None  # None: not aligned
    earlier: QImage | None  # the earlier photo at the same size, to fade over it
    text: str


def align_pair(pair: tuple[int, int], earlier: Path, later: Path) -> Alignment:
    """Register the later photo onto the earlier one (runs on the worker). OpenCV is
    imported here so that a missing library costs the alignment only, not the timeline."""
    try:
        from desktop.registration import register, warp
    except ImportError as exc:
        return Alignment(pair, None, None, words.not_aligned(f"OpenCV is not available ({exc})"))
    a = display_copy(open_image(earlier, draft_size=DISPLAY_DRAFT_PX)).convert("RGB")
    b = display_copy(open_image(later, draft_size=DISPLAY_DRAFT_PX)).convert("RGB")
    found = register(np.asarray(a), np.asarray(b))
    if not found.ok:
        return Alignment(pair, None, None, words.not_aligned(found.reason))
    moved = Image.fromarray(warp(np.asarray(b), found, a.size))
    text = words.aligned(found.angle_deg, found.scale, found.confidence)
    return Alignment(pair, pil_to_qimage(moved), pil_to_qimage(a), text)


class TimelineController:
    """One lesion's timeline dialog at a time; ``data`` is the lesion as the store gave it."""

    def __init__(self, cases: HistoryController) -> None:
        self.cases = cases
        self.dialog: TimelineDialog | None = None
        self.lesion_id: int | None = None
        self.data: Lesion | None = None
        self.later_as_taken: tuple[int, QImage] | None = None  # (visit id, photo) on the right
        self.alignment: Alignment | None = None

    def open(self, lesion_id: int) -> TimelineDialog | None:
        if self.cases.history() is None:
            return None
        dialog = TimelineDialog(self.cases.window)
        self.dialog, self.lesion_id = dialog, lesion_id
        dialog.combo_a.currentIndexChanged.connect(lambda _i: self._show_side("a"))
        dialog.combo_b.currentIndexChanged.connect(lambda _i: self._show_side("b"))
        dialog.visits.clicked.connect(lambda index: self._on_visit_clicked(index.row()))
        dialog.chart.visitClicked.connect(self.show_visit)
        dialog.align_box.toggled.connect(lambda _on: self._align())
        dialog.overlay_slider.valueChanged.connect(lambda _v: self._paint_later())
        dialog.reclassify_button.clicked.connect(lambda: self.reclassify(dialog.selected_ids()[1]))
        dialog.delete_button.clicked.connect(self._delete_visit)
        dialog.export_button.clicked.connect(
            lambda: self.cases.export_patient(self.data.patient if self.data else None)
        )
        if not self.refresh(initial=True):
            return None
        fit_to_screen(dialog)
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
        visits = lesion.visits
        dialog.setWindowTitle(history_texts.timeline_title(lesion.patient, lesion.label))
        dialog.title.setText(
            history_texts.timeline_heading(lesion.patient, lesion.label, lesion.site, len(visits))
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

    def visits_shown(self) -> list[Visit]:
        return list(self.data.visits) if self.data else []

    def _visit(self, visit_id: int | None) -> Visit | None:
        return self.data.visit(visit_id) if self.data else None

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
        dialog.chart.set_series(melanoma_series(self.visits_shown()), picked)
        if side == "b":
            self.later_as_taken = None
        self._align()
        if visit is None:
            view.set_message(history_texts.NO_VISIT)
            label.setText("")
            return
        label.setText(verdict_html(visit))
        view.set_message(texts.LOADING_IMAGE)
        wanted = visit.id

        def shown(image: Any) -> None:
            if dialog.selected_ids()[0 if side == "a" else 1] != wanted:
                return  # the user picked another visit meanwhile
            if not isinstance(image, QImage):
                view.set_message(history_texts.stored_image_not_shown(image))
                return
            if side == "b":
                self.later_as_taken = (wanted, image)
                self._paint_later()
            else:
                view.set_image(image)
            if dialog.link_box.isChecked() and other.image is not None:
                view.set_view(*other.view())

        path = Path(visit.image.file)
        self.cases.run_task(lambda: load_display_image(path), shown)

    def _pair(self) -> tuple[int, int] | None:
        a, b = self.dialog.selected_ids() if self.dialog else (None, None)
        return (a, b) if a is not None and b is not None and a != b else None

    def _align(self) -> None:
        """Start aligning the shown pair when asked and not done yet; the right-hand photo
        is shown as taken meanwhile, and whenever the fit is refused."""
        dialog, pair = self.dialog, self._pair()
        if dialog is None:
            return
        wanted = dialog.align_box.isChecked() and pair is not None
        if not wanted:
            dialog.align_status.setText(words.NOT_ALIGNED_OFF if pair else "")
            self._paint_later()
            return
        if self.alignment is not None and self.alignment.pair == pair:
            self._paint_later()
            return
        earlier, later = self._visit(pair[0]), self._visit(pair[1])
        if earlier is None or later is None:
            return
        self.alignment = Alignment(pair, None, None, words.ALIGNING)
        self._paint_later()
        paths = Path(earlier.image.file), Path(later.image.file)

        def done(found: Any) -> None:
            if not isinstance(found, Alignment):  # the worker raised: say so, show as taken
                found = Alignment(pair, None, None, words.not_aligned(str(found)))
            if self.alignment is not None and self.alignment.pair == pair:
                self.alignment = found
                self._paint_later()

        self.cases.run_task(lambda: align_pair(pair, *paths), done)

    def _paint_later(self) -> None:
        """The right-hand view: the aligned later photo with the earlier faded over it, or
        the later photo as taken (alignment off, pending or refused)."""
        dialog = self.dialog
        if dialog is None:
            return
        pair, found = self._pair(), self.alignment
        use = dialog.align_box.isChecked() and found is not None and found.pair == pair
        if use and found.later is not None:
            dialog.view_b.set_image(found.later)
            dialog.view_b.set_overlay(found.earlier, dialog.overlay_opacity())
        else:
            taken = self.later_as_taken
            if taken is not None and taken[0] == dialog.selected_ids()[1]:
                dialog.view_b.set_image(taken[1])
            dialog.view_b.set_overlay(None)
        if use:
            dialog.align_status.setText(found.text)
        dialog.set_overlay_enabled(bool(use and found.later is not None))

    def show_visit(self, visit_id: int) -> None:
        """A point clicked on the chart: that visit on the right, the one before on the left."""
        ids = [v.id for v in self.visits_shown()]
        if visit_id in ids and self.dialog is not None:
            row = ids.index(visit_id)
            self.dialog.visits.selectRow(row)
            self._on_visit_clicked(row)

    def _on_visit_clicked(self, row: int) -> None:
        if self.dialog is not None:
            self.dialog.combo_b.setCurrentIndex(row)
            self.dialog.combo_a.setCurrentIndex(max(0, row - 1))

    def _delete_visit(self) -> None:
        _, visit_id = self.dialog.selected_ids() if self.dialog else (None, None)
        data = self.data
        if data and visit_id is not None and self.cases.delete(data.patient, visit_id=visit_id):
            self.refresh()

    def reclassify(self, visit_id: int | None) -> int | None:
        """Classify a stored visit with the current model; its old result stays beside the new."""
        cases = self.cases
        history, worker = cases.history(), cases.worker_classifier()
        if history is None or worker is None or visit_id is None:
            cases.status(history_texts.CANNOT_RECLASSIFY)
            return None
        try:
            path = Path(history.visit(visit_id).image.file)
        except HistoryError as exc:
            cases.show_error(str(exc))
            return None
        main_classifier = cases.classifier()

        def stored(result: Any) -> None:
            if isinstance(result, Exception) or not result.ok:
                why = result if isinstance(result, Exception) else result.error
                cases.show_error(history_texts.not_reclassified(why))
                return
            try:
                history.add_result(visit_id, result, model_info(main_classifier))
            except (HistoryError, StoreError) as exc:
                cases.show_error(str(exc))
                return
            cases.status(history_texts.reclassified(visit_id))
            self.refresh()

        return cases.run_task(lambda: classify_path(worker, path), stored)
