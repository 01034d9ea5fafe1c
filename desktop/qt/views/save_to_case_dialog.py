"""The "Save to case" dialog: pick or type a patient and lesion, site, date and follow-up,
and drop more photos to save with the result.

Layout only, plus what is intrinsic to the widget (accepting a drop). What happens on Save
lives in ``desktop.qt.controllers.history``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

from PySide6.QtCore import Signal
from PySide6.QtGui import QDragEnterEvent, QDropEvent
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDialog,
    QFormLayout,
    QLabel,
    QListWidget,
    QPlainTextEdit,
    QVBoxLayout,
    QWidget,
)

from desktop.history.service import DEFAULT_SITE
from desktop.imaging import is_image_path
from desktop.qt import history_texts, palette
from desktop.qt.views.date_entry import DateEntry
from desktop.qt.views.follow_up_views import (
    FollowUpFields,
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
