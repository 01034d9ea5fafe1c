"""Follow-up views: side and decision pickers, the visit editor, the histology dialog and
the list of reviews that are due. Layout only; :mod:`desktop.qt.controllers.follow_up` acts on
them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QPixmap
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QLabel,
    QLineEdit,
    QMessageBox,
    QPlainTextEdit,
    QVBoxLayout,
    QWidget,
)

from desktop import APP_NAME
from desktop.history.service import (
    BODY_SITES,
    DECISIONS,
    LATERALITIES,
    OUTCOMES,
    DueLesion,
    Lesion,
    Visit,
    looks_like_name,
)
from desktop.qt import history_texts, palette
from desktop.qt.views.date_entry import DateEntry

THUMBNAIL_PX = 160


def looks_like_name_hint(code: str) -> bool:
    """Whether the patient id field should warn (a name is stored, with a warning)."""
    return looks_like_name(" ".join(code.split()))


class FollowUpFields:
    """The side and decision pickers (data: the stored value, '' for none)."""

    def __init__(self, parent: QWidget) -> None:
        self.side_combo = QComboBox(parent)
        self.side_combo.addItem(history_texts.SIDE_NONE, "")
        for side in LATERALITIES:
            self.side_combo.addItem(side, side)
        self.side_combo.setAccessibleName(history_texts.SIDE)
        self.decision_combo = QComboBox(parent)
        self.decision_combo.addItem(history_texts.DECISION_NONE, "")
        for decision in DECISIONS:
            self.decision_combo.addItem(decision, decision)
        self.decision_combo.setAccessibleName(history_texts.DECISION_ROW.replace("&", ""))


def _set_data(combo: QComboBox, value: str | None) -> None:
    combo.setCurrentIndex(max(0, combo.findData(value or "")))


def _day(text: str | None) -> date | None:
    return date.fromisoformat(text) if text else None


@dataclass(frozen=True)
class VisitEdit:
    """What the visit editor asks for (ISO dates; '' clears a decision or review)."""

    visit_id: int
    date: str
    note: str
    decision: str
    next_review: str
    site: str
    side: str
    before_first: bool


def error_line(parent: QWidget) -> QLabel:
    """The red line a form dialog shows its refusal in (hidden until there is one)."""
    label = QLabel(parent)
    label.setWordWrap(True)
    label.setStyleSheet(f"color: {palette.RED}; font-weight: bold;")
    label.hide()
    return label


def save_cancel(dialog: QDialog) -> QDialogButtonBox:
    """Save (emits the dialog's ``saveRequested``; the controller closes it) and Cancel."""
    buttons = QDialogButtonBox(
        QDialogButtonBox.StandardButton.Save | QDialogButtonBox.StandardButton.Cancel, dialog
    )
    buttons.accepted.connect(dialog.saveRequested)
    buttons.rejected.connect(dialog.reject)
    return buttons


class EditVisitDialog(QDialog):
    """Change a visit's date, note, decision and next review, and its lesion's site and side."""

    saveRequested = Signal()

    def __init__(self, lesion: Lesion, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle(history_texts.EDIT_VISIT_TITLE)
        self.lesion = lesion
        self.visit_combo = QComboBox(self)
        for v in lesion.visits:
            self.visit_combo.addItem(history_texts.visit_numbered(v.number, v.date), v.id)
        self.date_edit = DateEntry(None, self, latest=date.today())
        self.older_box = QCheckBox(history_texts.OLDER_PHOTO, self)
        self.note_edit = QPlainTextEdit(self)
        self.note_edit.setFixedHeight(self.fontMetrics().height() * 4)
        follow = FollowUpFields(self)
        self.decision_combo, self.side_combo = follow.decision_combo, follow.side_combo
        self.review_edit = DateEntry(None, self, optional=True)
        self.site_combo = QComboBox(self)
        self.site_combo.addItems(list(BODY_SITES))
        self.site_combo.setCurrentText(lesion.site)
        _set_data(self.side_combo, lesion.laterality)
        self.error_label = error_line(self)
        form = QFormLayout()
        form.addRow(history_texts.VISIT_ROW, self.visit_combo)
        form.addRow(history_texts.DATE_TAKEN_ROW, self.date_edit)
        form.addRow("", self.older_box)
        form.addRow(history_texts.NOTE_ROW, self.note_edit)
        form.addRow(history_texts.DECISION_ROW, self.decision_combo)
        form.addRow(history_texts.NEXT_REVIEW_ROW, self.review_edit)
        form.addRow(history_texts.BODY_SITE_ROW, self.site_combo)
        form.addRow(history_texts.SIDE_ROW, self.side_combo)
        self.buttons = save_cancel(self)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(QLabel(history_texts.EDIT_LOGGED, self))
        layout.addWidget(self.error_label)
        layout.addWidget(self.buttons)
        self.visit_combo.currentIndexChanged.connect(lambda _i: self._fill())
        self._fill()

    def visit(self) -> Visit | None:
        return self.lesion.visit(self.visit_combo.currentData())

    def select_visit(self, visit_id: int) -> None:
        self.visit_combo.setCurrentIndex(max(0, self.visit_combo.findData(visit_id)))

    def _fill(self) -> None:
        v = self.visit()
        if v is None:
            return
        self.date_edit.set_value(_day(v.date))
        self.note_edit.setPlainText(v.note)
        _set_data(self.decision_combo, v.decision)
        self.review_edit.set_value(_day(v.next_review))

    def values(self) -> VisitEdit:
        return VisitEdit(
            visit_id=int(self.visit_combo.currentData()),
            date=self.date_edit.iso(),
            note=self.note_edit.toPlainText(),
            decision=self.decision_combo.currentData() or "",
            next_review=self.review_edit.iso(),
            site=self.site_combo.currentText(),
            side=self.side_combo.currentData() or "",
            before_first=self.older_box.isChecked(),
        )

    def show_error(self, text: str) -> None:
        self.error_label.setText(text)
        self.error_label.setVisible(bool(text))


class OutcomeDialog(QDialog):
    """The lesion's histology: one of the classes or "other", its date and the report's words."""

    saveRequested = Signal()

    def __init__(self, lesion: Lesion, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle(history_texts.OUTCOME_TITLE)
        outcome = lesion.outcome
        self.diagnosis_combo = QComboBox(self)
        self.diagnosis_combo.addItems(list(OUTCOMES))
        if outcome is not None:
            self.diagnosis_combo.setCurrentText(outcome.diagnosis)
        self.date_edit = DateEntry(_day(outcome.date if outcome else None) or date.today(), self)
        self.date_edit.latest = date.today()
        self.note_edit = QLineEdit(outcome.note if outcome else "", self)
        self.note_edit.setPlaceholderText(history_texts.HISTOLOGY_NOTE)
        self.error_label = error_line(self)
        form = QFormLayout()
        form.addRow(history_texts.DIAGNOSIS_ROW, self.diagnosis_combo)
        form.addRow(history_texts.HISTOLOGY_DATE_ROW, self.date_edit)
        form.addRow(history_texts.NOTE_ROW, self.note_edit)
        self.buttons = save_cancel(self)
        layout = QVBoxLayout(self)
        layout.addWidget(QLabel(history_texts.timeline_title(lesion.patient, lesion.label), self))
        layout.addLayout(form)
        layout.addWidget(self.error_label)
        layout.addWidget(self.buttons)

    def show_error(self, text: str) -> None:
        self.error_label.setText(text)
        self.error_label.setVisible(bool(text))


def due_rows(rows: Sequence[DueLesion]) -> tuple[list[tuple[str, ...]], dict[tuple[int, int], str]]:
    """Table rows for the due list, overdue ones in red."""
    out = [
        (
            r.next_review,
            history_texts.due_status(r.days_over),
            r.patient,
            r.lesion,
            history_texts.visit_numbered(r.last_number, r.last_visit),
            r.decision or "-",
        )
        for r in rows
    ]
    return out, {(i, 1): palette.RED for i, r in enumerate(rows) if r.overdue}


def ask_with_thumbnail(parent: QWidget | None, text: str, thumbnail: QPixmap | None) -> bool:
    """A Yes/No question that shows the photo that would go (No is the default)."""
    box = QMessageBox(parent)
    box.setWindowTitle(APP_NAME)
    box.setText(history_texts.ask_delete(text))
    box.setIcon(QMessageBox.Icon.Question)
    if thumbnail is not None and not thumbnail.isNull():
        box.setIconPixmap(
            thumbnail.scaled(
                THUMBNAIL_PX,
                THUMBNAIL_PX,
                Qt.AspectRatioMode.KeepAspectRatio,
                Qt.TransformationMode.SmoothTransformation,
            )
        )
    box.setStandardButtons(QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No)
    box.setDefaultButton(QMessageBox.StandardButton.No)
    return box.exec() == QMessageBox.StandardButton.Yes
