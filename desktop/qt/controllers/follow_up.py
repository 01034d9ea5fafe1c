"""Follow-up in the window: edit a visit (logged), record histology, list reviews due.

It borrows the case store and the message boxes of
:class:`desktop.qt.controllers.history.HistoryController`, which owns it; the rules (dates,
decisions, outcomes) are the service's, so the window and ``history edit``/``outcome``/``due``
agree.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from desktop.history.service import HistoryError, Lesion
from desktop.history.store import StoreError
from desktop.qt import history_texts
from desktop.qt.views.follow_up_views import EditVisitDialog, OutcomeDialog

if TYPE_CHECKING:  # the history controller imports this module
    from desktop.qt.controllers.history import HistoryController


class FollowUpController:
    """The visit editor and histology dialogs, and the due list of the case browser."""

    def __init__(self, cases: HistoryController) -> None:
        self.cases = cases
        self.edit_dialog: EditVisitDialog | None = None
        self.outcome_dialog: OutcomeDialog | None = None

    def _lesion(self, lesion_id: int) -> Lesion | None:
        """The lesion with its visits, or None (no store, or the error already shown)."""
        history = self.cases.history()
        if history is None:
            return None
        try:
            return history.lesion(lesion_id)
        except HistoryError as exc:
            self.cases.show_error(str(exc))
            return None

    def edit_visit(self, lesion_id: int, visit_id: int | None = None) -> EditVisitDialog | None:
        """Open the editor on a visit of the lesion (its latest when none is named)."""
        lesion = self._lesion(lesion_id)
        if lesion is None:
            return None
        if not lesion.visits:
            self.cases.status(history_texts.NO_VISITS_YET)
            return None
        dialog = EditVisitDialog(lesion, self.cases.window)
        dialog.select_visit(visit_id if visit_id is not None else lesion.visits[-1].id)
        dialog.saveRequested.connect(lambda: self._save_edit(dialog, lesion_id))
        self.edit_dialog = dialog
        dialog.open()
        return dialog

    def _save_edit(self, dialog: EditVisitDialog, lesion_id: int) -> None:
        history = self.cases.history()
        if history is None:
            return
        req = dialog.values()
        try:
            if not dialog.date_edit.is_acceptable() or not dialog.review_edit.is_acceptable():
                raise HistoryError(
                    dialog.date_edit.preview.text()
                    if not dialog.date_edit.is_acceptable()
                    else dialog.review_edit.preview.text()
                )
            changed = history.edit_lesion(lesion_id, site=req.site, laterality=req.side)
            changed += history.edit_visit(
                req.visit_id,
                taken=req.date,
                note=req.note,
                decision=req.decision,
                next_review=req.next_review,
                before_first=req.before_first,
            )
        except (HistoryError, StoreError) as exc:
            dialog.show_error(str(exc))
            return
        dialog.accept()
        self.cases.status(
            history_texts.edited(changed) if changed else history_texts.NOTHING_CHANGED
        )
        self.cases.refresh_browser()

    def outcome(self, lesion_id: int) -> OutcomeDialog | None:
        """Open the histology dialog for the lesion."""
        lesion = self._lesion(lesion_id)
        if lesion is None:
            return None
        dialog = OutcomeDialog(lesion, self.cases.window)
        dialog.saveRequested.connect(lambda: self._save_outcome(dialog, lesion))
        self.outcome_dialog = dialog
        dialog.open()
        return dialog

    def _save_outcome(self, dialog: OutcomeDialog, lesion: Lesion) -> None:
        history = self.cases.history()
        if history is None:
            return
        try:
            if not dialog.date_edit.is_acceptable():
                raise HistoryError(dialog.date_edit.preview.text())
            outcome = history.set_outcome(
                lesion.id,
                dialog.diagnosis_combo.currentText(),
                dialog.date_edit.iso(),
                dialog.note_edit.text(),
            )
        except (HistoryError, StoreError) as exc:
            dialog.show_error(str(exc))
            return
        dialog.accept()
        self.cases.status(
            history_texts.outcome_saved(lesion.label, outcome.diagnosis, outcome.date)
        )
        self.cases.refresh_browser()
