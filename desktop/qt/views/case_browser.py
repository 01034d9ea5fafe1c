"""The case browser: patients matching a search, the chosen patient's lesions, and the
lesions due for review.

Layout only. What happens on a button press lives in ``desktop.qt.controllers.history``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QDialog,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from desktop.history.service import LesionSummary
from desktop.qt import history_texts, palette, texts
from desktop.qt.views.follow_up_views import due_rows
from desktop.qt.views.rows_table import RowsTable


class CaseBrowser(QDialog):
    """Patients matching a search, and the chosen patient's lesions."""

    def __init__(self, data_dir: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle(history_texts.CASES_TITLE)
        self.search_edit = QLineEdit(self)
        self.search_edit.setPlaceholderText(history_texts.SEARCH_PLACEHOLDER)
        self.search_edit.setClearButtonEnabled(True)
        self.search_edit.setAccessibleName(history_texts.SEARCH_NAME)
        self.patients = RowsTable(history_texts.PATIENT_COLUMNS, self)
        self.patients.setAccessibleName(history_texts.PATIENTS)
        self.lesions = RowsTable(history_texts.LESION_COLUMNS, self)
        self.lesions.setAccessibleName(history_texts.LESIONS_NAME)
        self.count_label = QLabel(self)
        self.open_button = QPushButton(history_texts.OPEN_TIMELINE, self)
        self.export_button = QPushButton(history_texts.EXPORT_PATIENT, self)
        self.delete_patient_button = QPushButton(history_texts.DELETE_PATIENT, self)
        self.delete_lesion_button = QPushButton(history_texts.DELETE_LESION, self)
        self.edit_visit_button = QPushButton(history_texts.EDIT_VISIT, self)
        self.outcome_button = QPushButton(history_texts.OUTCOME, self)
        self.due = RowsTable(history_texts.DUE_COLUMNS, self)
        self.due.setAccessibleName(history_texts.DUE_TITLE)
        self.due_label = QLabel(history_texts.DUE_TITLE, self)
        self.open_due_button = QPushButton(history_texts.OPEN_DUE, self)
        self.close_button = QPushButton(texts.CLOSE, self)
        self.close_button.clicked.connect(self.reject)
        where = QLabel(history_texts.case_store(data_dir), self)
        where.setStyleSheet("color: palette(placeholder-text);")
        where.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)

        split = QSplitter(Qt.Orientation.Horizontal, self)
        split.addWidget(self.patients)
        split.addWidget(self.lesions)
        buttons = QHBoxLayout()
        for b in (
            self.open_button,
            self.edit_visit_button,
            self.outcome_button,
            self.export_button,
            self.delete_lesion_button,
            self.delete_patient_button,
        ):
            buttons.addWidget(b)
        buttons.addStretch(1)
        buttons.addWidget(self.close_button)
        due_row = QHBoxLayout()
        due_row.addWidget(self.due_label, 1)
        due_row.addWidget(self.open_due_button)
        layout = QVBoxLayout(self)
        layout.addLayout(due_row)
        layout.addWidget(self.due)
        layout.addWidget(self.search_edit)
        layout.addWidget(split, 1)
        layout.addWidget(self.count_label)
        layout.addWidget(where)
        layout.addLayout(buttons)
        em = self.fontMetrics().height()
        self.resize(em * 56, em * 30)
        self.set_selection_state(False, False)

    def set_patients(self, rows: Sequence[Any]) -> None:
        self.patients.set_rows(
            [
                (r.code, str(r.lesions), str(r.visits), r.last_visit or "-", str(r.alerts or "-"))
                for r in rows
            ],
            [r.code for r in rows],
            {(i, 4): palette.RED for i, r in enumerate(rows) if r.alerts},
        )
        self.count_label.setText(history_texts.patient_count(len(rows)))

    def set_lesions(self, lesions: Sequence[LesionSummary]) -> None:
        self.lesions.set_rows(
            [
                (
                    lesion.label,
                    history_texts.site_with_side(lesion.site, lesion.laterality),
                    str(lesion.visits),
                    lesion.first_visit or "-",
                    lesion.last_visit or "-",
                    history_texts.outcome_cell(lesion.outcome),
                )
                for lesion in lesions
            ],
            [(lesion.id, lesion.label) for lesion in lesions],
        )
        if lesions:
            self.lesions.selectRow(0)

    def selected_patient(self) -> str | None:
        return self.patients.current_key()

    def selected_lesion(self) -> tuple[int, str] | None:
        key = self.lesions.current_key()
        return (int(key[0]), str(key[1])) if key else None

    def set_selection_state(self, patient: bool, lesion: bool) -> None:
        self.export_button.setEnabled(patient)
        self.delete_patient_button.setEnabled(patient)
        self.open_button.setEnabled(lesion)
        self.delete_lesion_button.setEnabled(lesion)
        self.edit_visit_button.setEnabled(lesion)
        self.outcome_button.setEnabled(lesion)

    def set_due(self, rows: Sequence[Any]) -> None:
        """Lesions due for review (overdue in red); the list hides when there are none."""
        table_rows, colours = due_rows(rows)
        self.due.set_rows(table_rows, [r.lesion_id for r in rows], colours)
        self.due_label.setText(history_texts.due_count(len(rows)))
        self.due.setVisible(bool(rows))
        self.open_due_button.setVisible(bool(rows))
        self.due.setMaximumHeight(self.fontMetrics().height() * 8)
