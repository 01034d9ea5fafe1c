"""Lesion-history views: "Save to case", the case browser and the lesion timeline.

Layout only, plus what is intrinsic to a widget (zooming a picture, accepting a
drop). What happens on a button press lives in ``desktop.qt.controllers.history``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

from PySide6.QtCore import (
    QAbstractTableModel,
    QModelIndex,
    QObject,
    Qt,
    Signal,
)
from PySide6.QtGui import (
    QColor,
    QDragEnterEvent,
    QDropEvent,
)
from PySide6.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QComboBox,
    QDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QPlainTextEdit,
    QPushButton,
    QSplitter,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from desktop.history.service import DEFAULT_SITE, LesionSummary
from desktop.imaging import is_image_path
from desktop.qt import history_texts, palette, texts
from desktop.qt.views.date_entry import DateEntry
from desktop.qt.views.follow_up_views import (
    FollowUpFields,
    due_rows,
    error_line,
    looks_like_name_hint,
    save_cancel,
)


def _image_paths(event: QDragEnterEvent | QDropEvent) -> list[str]:
    mime = event.mimeData()
    if not mime.hasUrls():
        return []
    return [
        u.toLocalFile() for u in mime.urls() if u.isLocalFile() and is_image_path(u.toLocalFile())
    ]


@dataclass(frozen=True)
class SaveRequest:
    patient: str
    lesion: str
    site: str
    date: str
    note: str
    side: str = ""
    decision: str = ""
    next_review: str = ""
    before_first: bool = False


class SaveToCaseDialog(QDialog):
    """Pick or type a patient and lesion, site and date; drop more photos to save with it."""

    patientChanged = Signal(str)
    lesionChanged = Signal(str)
    saveRequested = Signal()

    def __init__(
        self,
        patients: Sequence[str],
        sites: Sequence[str],
        first_item: str | None,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.setWindowTitle(history_texts.SAVE_TO_CASE_TITLE)
        self.setAcceptDrops(True)
        self._lesion_sites: dict[str, str] = {}
        self._lesion_sides: dict[str, str] = {}
        self.extra_files: list[str] = []

        self.patient_edit = QComboBox(self)
        self.patient_edit.setEditable(True)
        self.patient_edit.addItems(list(patients))
        self.patient_edit.setCurrentIndex(-1)
        self.patient_edit.lineEdit().setPlaceholderText(history_texts.PATIENT_ID_PLACEHOLDER)
        self.patient_edit.setAccessibleName(history_texts.PATIENT_ID)
        self.lesion_edit = QComboBox(self)
        self.lesion_edit.setEditable(True)
        self.lesion_edit.lineEdit().setPlaceholderText(history_texts.LESION_PLACEHOLDER)
        self.lesion_edit.setAccessibleName(history_texts.LESION)
        self.site_combo = QComboBox(self)
        self.site_combo.addItems(list(sites))
        self.site_combo.setCurrentText(DEFAULT_SITE)
        self.site_combo.setAccessibleName(history_texts.BODY_SITE)
        follow = FollowUpFields(self)
        self.side_combo, self.decision_combo = follow.side_combo, follow.decision_combo
        self.date_edit = DateEntry(date.today(), self, latest=date.today())
        self.date_edit.edit.setAccessibleName(history_texts.DATE_TAKEN)
        self.review_edit = DateEntry(None, self, optional=True)
        self.review_edit.edit.setAccessibleName(history_texts.NEXT_REVIEW_ROW.replace("&", ""))
        self.older_box = QCheckBox(history_texts.OLDER_PHOTO, self)
        self.name_warning = QLabel(history_texts.NAME_WARNING, self)
        self.name_warning.setWordWrap(True)
        self.name_warning.setStyleSheet(f"color: {palette.NAME_HINT};")
        self.name_warning.hide()
        self.note_edit = QPlainTextEdit(self)
        self.note_edit.setPlaceholderText(history_texts.NOTE_PLACEHOLDER)
        self.note_edit.setFixedHeight(self.fontMetrics().height() * 4)
        self.items = QListWidget(self)
        self.items.setFixedHeight(self.fontMetrics().height() * 5)
        self.items.setAccessibleName(history_texts.IMAGES_TO_SAVE)
        if first_item:
            self.items.addItem(first_item)
        hint = QLabel(history_texts.DROP_MORE_HINT)
        hint.setWordWrap(True)
        hint.setStyleSheet("color: palette(placeholder-text);")
        self.error_label = error_line(self)
        self._lay_out(hint)
        self.patient_edit.currentTextChanged.connect(self.patientChanged)
        self.patient_edit.currentTextChanged.connect(
            lambda code: self.name_warning.setVisible(looks_like_name_hint(code))
        )
        self.lesion_edit.currentTextChanged.connect(self._on_lesion_text)
        self.resize(self.fontMetrics().height() * 32, self.sizeHint().height())

    def _lay_out(self, hint: QLabel) -> None:
        """The form (in reading order), the drop hint, the error line and Save/Cancel."""
        form = QFormLayout()
        form.addRow(history_texts.PATIENT_ID_ROW, self.patient_edit)
        form.addRow(history_texts.LESION_ROW, self.lesion_edit)
        form.addRow(history_texts.BODY_SITE_ROW, self.site_combo)
        form.addRow("", self.name_warning)
        form.addRow(history_texts.SIDE_ROW, self.side_combo)
        form.addRow(history_texts.DATE_TAKEN_ROW, self.date_edit)
        form.addRow("", self.older_box)
        form.addRow(history_texts.DECISION_ROW, self.decision_combo)
        form.addRow(history_texts.NEXT_REVIEW_ROW, self.review_edit)
        form.addRow(history_texts.NOTE_ROW, self.note_edit)
        form.addRow(history_texts.IMAGES_ROW, self.items)
        self.buttons = save_cancel(self)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(hint)
        layout.addWidget(self.error_label)
        layout.addWidget(self.buttons)

    def set_lesions(self, lesions: Sequence[tuple[str, ...]]) -> None:
        """The chosen patient's lesions as (label, site[, side]); an existing one fixes both."""
        text = self.lesion_edit.currentText()
        self._lesion_sites = {item[0]: item[1] for item in lesions}
        self._lesion_sides = {item[0]: item[2] for item in lesions if len(item) > 2}
        self.lesion_edit.blockSignals(True)
        self.lesion_edit.clear()
        self.lesion_edit.addItems([item[0] for item in lesions])
        self.lesion_edit.setEditText(text)
        self.lesion_edit.blockSignals(False)
        self._on_lesion_text(text)

    def _on_lesion_text(self, text: str) -> None:
        name = " ".join(text.split())
        site = self._lesion_sites.get(name)
        if site is not None:
            self.site_combo.setCurrentText(site)
            side = self._lesion_sides.get(name, "")
            self.side_combo.setCurrentIndex(max(0, self.side_combo.findData(side)))
        self.site_combo.setEnabled(site is None)
        self.side_combo.setEnabled(site is None)
        self.lesionChanged.emit(text)

    def values(self) -> SaveRequest:
        return SaveRequest(
            patient=self.patient_edit.currentText(),
            lesion=self.lesion_edit.currentText(),
            site=self.site_combo.currentText(),
            date=self.date_edit.iso(),
            note=self.note_edit.toPlainText(),
            side=self.side_combo.currentData() or "",
            decision=self.decision_combo.currentData() or "",
            next_review=self.review_edit.iso(),
            before_first=self.older_box.isChecked(),
        )

    def show_error(self, text: str) -> None:
        self.error_label.setText(text)
        self.error_label.setVisible(bool(text))

    def add_files(self, paths: Sequence[str]) -> None:
        for p in paths:
            if p not in self.extra_files:
                self.extra_files.append(p)
                self.items.addItem(p)

    def dragEnterEvent(self, event: QDragEnterEvent) -> None:  # noqa: N802
        if _image_paths(event):
            event.acceptProposedAction()
        else:
            event.ignore()

    def dropEvent(self, event: QDropEvent) -> None:  # noqa: N802
        paths = _image_paths(event)
        if paths:
            event.acceptProposedAction()
            self.add_files(paths)


class RowsModel(QAbstractTableModel):
    """Rows of text with a key per row and an optional colour per cell.

    A model instead of ``QTableWidget`` items: one reset per refresh instead of a
    Python call per cell, so thousands of patients fill the table at once.
    """

    def __init__(self, headers: Sequence[str], parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._headers = list(headers)
        self._rows: list[tuple[str, ...]] = []
        self._keys: list[Any] = []
        self._colours: dict[tuple[int, int], QColor] = {}

    def set_rows(
        self,
        rows: Sequence[Sequence[str]],
        keys: Sequence[Any],
        colours: dict[tuple[int, int], str] | None = None,
    ) -> None:
        self.beginResetModel()
        self._rows = [tuple(r) for r in rows]
        self._keys = list(keys)
        self._colours = {k: QColor(v) for k, v in (colours or {}).items()}
        self.endResetModel()

    def rowCount(self, parent: QModelIndex | None = None) -> int:  # noqa: N802
        return 0 if parent is not None and parent.isValid() else len(self._rows)

    def columnCount(self, parent: QModelIndex | None = None) -> int:  # noqa: N802
        return 0 if parent is not None and parent.isValid() else len(self._headers)

    def data(self, index: QModelIndex, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid():
            return None
        if role == Qt.ItemDataRole.DisplayRole:
            return self._rows[index.row()][index.column()]
        if role == Qt.ItemDataRole.UserRole:
            return self._keys[index.row()]
        if role == Qt.ItemDataRole.ForegroundRole:
            return self._colours.get((index.row(), index.column()))
        return None

    def headerData(  # noqa: N802
        self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole
    ) -> Any:
        if role == Qt.ItemDataRole.DisplayRole and orientation == Qt.Orientation.Horizontal:
            return self._headers[section]
        return None

    def key(self, row: int) -> Any:
        return self._keys[row] if 0 <= row < len(self._keys) else None

    def text(self, row: int, column: int) -> str:
        return self._rows[row][column]


class RowsTable(QTableView):
    """A read-only, single-row-selection table over a :class:`RowsModel`."""

    rowSelected = Signal()

    def __init__(self, headers: Sequence[str], parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.rows = RowsModel(headers, self)
        self.setModel(self.rows)
        self.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.verticalHeader().hide()
        self.horizontalHeader().setStretchLastSection(True)
        self.selectionModel().selectionChanged.connect(lambda *_: self.rowSelected.emit())

    def set_rows(
        self,
        rows: Sequence[Sequence[str]],
        keys: Sequence[Any],
        colours: dict[tuple[int, int], str] | None = None,
    ) -> None:
        self.rows.set_rows(rows, keys, colours)
        self.resizeColumnsToContents()

    def rowCount(self) -> int:  # noqa: N802 (reads like QTableWidget's)
        return self.rows.rowCount()

    def text(self, row: int, column: int) -> str:
        return self.rows.text(row, column)

    def current_row(self) -> int:
        chosen = self.selectionModel().selectedRows()
        return chosen[0].row() if chosen else -1

    def current_key(self) -> Any:
        return self.rows.key(self.current_row())


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
