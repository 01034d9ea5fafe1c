"""Model ▸ Adapt to this clinic…: folders in, progress, then shipped-against-adapted.

Layout only; :mod:`desktop.qt.controllers.adapt` says what the buttons do and fills in
what a run measured (:class:`OutcomeView`, already in words).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from PySide6.QtCore import Qt
from PySide6.QtGui import QPixmap
from PySide6.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QDialog,
    QGridLayout,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QListWidget,
    QProgressBar,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from desktop.qt import texts


@dataclass(frozen=True)
class OutcomeView:
    """One run's result as the dialog shows it."""

    summary: str
    rows: Sequence[tuple[str, str, str]]  # (figure, shipped, adapted)
    roc_path: str | None = None
    left_out: Sequence[str] = field(default_factory=tuple)
    reason: str | None = None  # why "Use this model" is off, or a caveat when it is on
    usable: bool = False
    can_force: bool = False


def _wrapped(text: str = "", parent: QWidget | None = None) -> QLabel:
    label = QLabel(text, parent)
    label.setWordWrap(True)
    label.setTextFormat(Qt.TextFormat.PlainText)
    return label


class AdaptDialog(QDialog):
    """Folders of labelled images and an output folder; Adapt, Cancel, the table, Use."""

    def __init__(self, out_folder: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle(texts.ADAPT_TITLE)
        em = self.fontMetrics().height()
        intro = _wrapped(texts.ADAPT_INTRO, self)

        self.folder_list = QListWidget(self)
        self.folder_list.setAccessibleName(texts.ADAPT_FOLDERS)
        self.folder_list.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.folder_list.setFixedHeight(em * 5)
        self.add_folder_button = QPushButton(texts.ADAPT_ADD_FOLDER, self)
        self.remove_folder_button = QPushButton(texts.ADAPT_REMOVE_FOLDER, self)
        self.out_edit = QLineEdit(out_folder, self)
        self.out_edit.setAccessibleName(texts.ADAPT_OUT)
        self.choose_out_button = QPushButton(texts.ADAPT_CHOOSE_OUT, self)
        self.clinic_limit_box = QCheckBox(texts.ADAPT_CLINIC_LIMIT, self)
        self.clinic_limit_box.setToolTip(texts.ADAPT_CLINIC_LIMIT_TIP)
        inputs = QGridLayout()
        inputs.addWidget(QLabel(texts.ADAPT_FOLDERS, self), 0, 0, 1, 2)
        inputs.addWidget(self.folder_list, 1, 0, 2, 1)
        inputs.addWidget(self.add_folder_button, 1, 1)
        inputs.addWidget(self.remove_folder_button, 2, 1, Qt.AlignmentFlag.AlignTop)
        inputs.addWidget(QLabel(texts.ADAPT_OUT, self), 3, 0, 1, 2)
        inputs.addWidget(self.out_edit, 4, 0)
        inputs.addWidget(self.choose_out_button, 4, 1)
        inputs.addWidget(self.clinic_limit_box, 5, 0, 1, 2)

        self.stage_label = QLabel(self)
        self.progress = QProgressBar(self)
        self.message_label = _wrapped("", self)
        self.message_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)

        self.results = QWidget(self)
        self._build_results(em)

        self.start_button = QPushButton(texts.ADAPT_START, self)
        self.start_button.setDefault(True)
        self.cancel_button = QPushButton(texts.CANCEL, self)
        self.write_anyway_button = QPushButton(texts.ADAPT_WRITE_ANYWAY, self)
        self.write_anyway_button.setToolTip(texts.ADAPT_WRITE_ANYWAY_TIP)
        self.use_button = QPushButton(texts.ADAPT_USE, self)
        self.close_button = QPushButton(texts.CLOSE, self)
        self.close_button.clicked.connect(self.reject)
        buttons = QHBoxLayout()
        buttons.addWidget(self.start_button)
        buttons.addWidget(self.cancel_button)
        buttons.addStretch(1)
        for b in (self.write_anyway_button, self.use_button, self.close_button):
            buttons.addWidget(b)

        layout = QVBoxLayout(self)
        layout.addWidget(intro)
        layout.addLayout(inputs)
        layout.addWidget(self.stage_label)
        layout.addWidget(self.progress)
        layout.addWidget(self.message_label)
        layout.addWidget(self.results, 1)
        layout.addLayout(buttons)
        self.set_running(False)
        self.clear_outcome()
        self.resize(em * 48, em * 34)

    def _build_results(self, em: int) -> None:
        self.summary_label = _wrapped("", self.results)
        self.table = QTableWidget(len(texts.ADAPT_ROWS), 3, self.results)
        self.table.setAccessibleName(texts.ADAPT_TABLE_NAME)
        self.table.setHorizontalHeaderLabels(list(texts.ADAPT_TABLE_HEADERS))
        self.table.verticalHeader().hide()
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.NoSelection)
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        for col in (1, 2):
            header.setSectionResizeMode(col, QHeaderView.ResizeMode.ResizeToContents)
        rows = len(texts.ADAPT_ROWS) * self.table.verticalHeader().defaultSectionSize()
        frame = 2 * self.table.frameWidth()
        self.table.setFixedHeight(header.sizeHint().height() + rows + frame)
        self.roc_label = QLabel(self.results)
        self.roc_label.setAccessibleName(texts.ADAPT_ROC_NAME)
        self.roc_label.setFixedSize(em * 15, em * 15)
        self.roc_label.setAlignment(Qt.AlignmentFlag.AlignTop | Qt.AlignmentFlag.AlignRight)
        self.left_out_label = _wrapped("", self.results)
        self.reason_label = _wrapped("", self.results)
        self.reason_label.setStyleSheet("font-weight: bold;")
        figures = QVBoxLayout()
        figures.addWidget(self.table)
        figures.addStretch(1)
        row = QHBoxLayout()
        row.addLayout(figures, 1)
        row.addWidget(self.roc_label)
        column = QVBoxLayout(self.results)
        column.setContentsMargins(0, 0, 0, 0)
        column.addWidget(self.summary_label)
        column.addLayout(row)
        column.addWidget(self.reason_label)
        column.addWidget(self.left_out_label)
        column.addStretch(1)

    # What the controller calls ----------------------------------------------------------------
    def folders(self) -> list[str]:
        return [self.folder_list.item(i).text() for i in range(self.folder_list.count())]

    def add_folder(self, folder: str) -> None:
        if folder and folder not in self.folders():
            self.folder_list.addItem(folder)

    def remove_selected_folders(self) -> None:
        for item in self.folder_list.selectedItems():
            self.folder_list.takeItem(self.folder_list.row(item))

    def set_running(self, running: bool) -> None:
        """While a run goes: inputs off, Cancel on, the progress bar shown."""
        for w in (
            self.folder_list,
            self.add_folder_button,
            self.remove_folder_button,
            self.out_edit,
            self.choose_out_button,
            self.clinic_limit_box,
            self.start_button,
        ):
            w.setEnabled(not running)
        self.cancel_button.setEnabled(running)
        self.stage_label.setVisible(running)
        self.progress.setVisible(running)
        if running:
            self.progress.setRange(0, 0)  # busy until the first count arrives
            self.stage_label.setText("")

    def set_progress(self, text: str, done: int, total: int) -> None:
        self.stage_label.setText(text)
        if total > 0:
            self.progress.setRange(0, total)
            self.progress.setValue(done)
        else:
            self.progress.setRange(0, 0)

    def show_message(self, text: str) -> None:
        self.message_label.setText(text)
        self.message_label.setVisible(bool(text))

    def clear_outcome(self) -> None:
        self.results.hide()
        self.use_button.setEnabled(False)
        self.use_button.setToolTip("")
        self.write_anyway_button.hide()

    def show_outcome(self, view: OutcomeView) -> None:
        self.summary_label.setText(view.summary)
        for r, row in enumerate(view.rows):
            for c, value in enumerate(row):
                item = QTableWidgetItem(value)
                if c:
                    item.setTextAlignment(
                        Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter
                    )
                self.table.setItem(r, c, item)
        pixmap = QPixmap(view.roc_path) if view.roc_path else QPixmap()
        if not pixmap.isNull():
            width = self.roc_label.width()
            pixmap = pixmap.scaledToWidth(width, Qt.TransformationMode.SmoothTransformation)
        self.roc_label.setPixmap(pixmap)
        self.roc_label.setVisible(not pixmap.isNull())
        self.left_out_label.setText("\n".join(view.left_out))
        self.left_out_label.setVisible(bool(view.left_out))
        self.reason_label.setText(view.reason or "")
        self.reason_label.setVisible(bool(view.reason))
        self.use_button.setEnabled(view.usable)
        self.use_button.setToolTip("" if view.usable else (view.reason or ""))
        self.write_anyway_button.setVisible(view.can_force)
        self.results.show()
        self._grow()

    def _grow(self) -> None:
        """Make room for the results (wrapped lines included) rather than overlap them."""
        layout = self.layout()
        layout.activate()
        width = self.width()
        height = layout.totalHeightForWidth(width) if layout.hasHeightForWidth() else -1
        height = max(height, layout.totalSizeHint().height(), self.height())
        self.resize(width, height)
