"""The batch table: one row per input, sortable, error rows included."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from PySide6.QtCore import (
    QAbstractTableModel,
    QModelIndex,
    QPersistentModelIndex,
    QSize,
    QSortFilterProxyModel,
    Qt,
)
from PySide6.QtGui import QColor, QIcon, QPixmap
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QPushButton,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from desktop.qt.convert import array_to_qimage
from desktop.qt.views.probability_bars import display_name
from desktop.results import ImageResult

COLUMNS = ("", "File", "Top class", "Probability", "Melanoma alert")
COL_THUMB, COL_FILE, COL_CLASS, COL_PROB, COL_ALERT = range(5)
SORT_ROLE = Qt.ItemDataRole.UserRole + 1
ALERT_RANK = {"alert": 3, "watch": 2, "error": 1, "none": 0}
ALERT_TEXT = {
    "alert": "ALERT \u2014 refer",
    "watch": "Watch",
    "none": "\u2014",
    "error": "Unreadable",
}

Index = QModelIndex | QPersistentModelIndex


def _without_name(reason: str, name: str) -> str:
    """'x.jpg: file is empty' -> 'File is empty' (the File column already names it)."""
    prefix = f"{name}: "
    text = reason[len(prefix) :] if reason.startswith(prefix) else reason
    return text[:1].upper() + text[1:]


class BatchModel(QAbstractTableModel):
    """Holds :class:`ImageResult` rows in arrival order; sorting is the proxy's job."""

    def __init__(self, parent: Any = None) -> None:
        super().__init__(parent)
        self._rows: list[ImageResult] = []
        self._thumbs: dict[int, QIcon] = {}

    def rowCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008, N802
        return 0 if parent.isValid() else len(self._rows)

    def columnCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008, N802
        return 0 if parent.isValid() else len(COLUMNS)

    def headerData(  # noqa: N802
        self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole
    ) -> Any:
        if orientation == Qt.Orientation.Horizontal and role == Qt.ItemDataRole.DisplayRole:
            return COLUMNS[section]
        if orientation == Qt.Orientation.Horizontal and role == Qt.ItemDataRole.ToolTipRole:
            return ("Thumbnail", "File name", "Most likely class", "Its probability",
                    "Melanoma alert level")[section]  # fmt: skip
        return None

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid():
            return None
        r = self._rows[index.row()]
        col = index.column()
        pred = r.prediction
        if role == Qt.ItemDataRole.DisplayRole:
            if col == COL_FILE:
                return r.name
            if col == COL_CLASS:
                if pred is None:
                    return _without_name(r.error or "unreadable", r.name)
                return display_name(pred.label) + (" (uncertain)" if pred.uncertain else "")
            if col == COL_PROB:
                return f"{pred.top_probability:.1%}" if pred is not None else ""
            if col == COL_ALERT:
                return ALERT_TEXT[r.alert_level]
            return None
        if role == Qt.ItemDataRole.DecorationRole and col == COL_THUMB:
            return self._thumbnail(index.row())
        if role == Qt.ItemDataRole.ToolTipRole:
            if pred is None:
                return r.error
            if pred.uncertain:
                return "Uncertain: " + "; ".join(pred.uncertain_reasons)
            return str(r.path) if r.path else r.name
        if role == Qt.ItemDataRole.BackgroundRole and col == COL_ALERT:
            return {
                "alert": QColor("#b71c1c"),
                "watch": QColor("#ffc107"),
                "error": QColor("#eeeeee"),
            }.get(r.alert_level)
        if role == Qt.ItemDataRole.ForegroundRole:
            if col == COL_ALERT and r.alert_level == "alert":
                return QColor("#ffffff")
            if col == COL_ALERT and r.alert_level == "watch":
                return QColor("#1a1a1a")
            if pred is None:
                return QColor("#8a1c1c")
        if role == SORT_ROLE:
            if col == COL_FILE:
                return r.name.lower()
            if col == COL_CLASS:
                return pred.label if pred is not None else "~" + (r.error or "")
            if col == COL_PROB:
                return pred.top_probability if pred is not None else -1.0
            if col == COL_ALERT:
                mel = pred.melanoma_probability if pred is not None else 0.0
                return ALERT_RANK[r.alert_level] + mel / 10
            return index.row()
        if role == Qt.ItemDataRole.TextAlignmentRole and col == COL_PROB:
            return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        return None

    def _thumbnail(self, row: int) -> QIcon | None:
        """Built lazily in the UI thread (QPixmap is not allowed in workers), then cached."""
        if row not in self._thumbs:
            thumb = self._rows[row].thumbnail
            if thumb is None:
                return None
            self._thumbs[row] = QIcon(QPixmap.fromImage(array_to_qimage(thumb)))
        return self._thumbs[row]

    def clear(self) -> None:
        self.beginResetModel()
        self._rows = []
        self._thumbs = {}
        self.endResetModel()

    def append(self, results: Sequence[ImageResult]) -> None:
        if not results:
            return
        first = len(self._rows)
        self.beginInsertRows(QModelIndex(), first, first + len(results) - 1)
        self._rows.extend(results)
        self.endInsertRows()

    def result(self, row: int) -> ImageResult:
        return self._rows[row]

    def results(self) -> list[ImageResult]:
        return list(self._rows)


class BatchPanel(QWidget):
    """Table plus a summary line and the CSV export button."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.model = BatchModel(self)
        self.proxy = QSortFilterProxyModel(self)
        self.proxy.setSourceModel(self.model)
        self.proxy.setSortRole(SORT_ROLE)
        self.table = QTableView(self)
        self.table.setModel(self.proxy)
        self.table.setSortingEnabled(True)
        self.table.sortByColumn(-1, Qt.SortOrder.AscendingOrder)  # arrival order until asked
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setAlternatingRowColors(True)
        self.table.setWordWrap(False)
        self.table.setAccessibleName("Batch results")
        em = self.fontMetrics().height()
        icon = max(40, em * 3)
        self.table.setIconSize(QSize(icon, icon))
        self.table.verticalHeader().setDefaultSectionSize(icon + 6)
        self.table.verticalHeader().hide()
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(COL_THUMB, QHeaderView.ResizeMode.Fixed)
        self.table.setColumnWidth(COL_THUMB, icon + 16)
        header.setSectionResizeMode(COL_FILE, QHeaderView.ResizeMode.Interactive)
        self.table.setColumnWidth(COL_FILE, em * 16)
        header.setSectionResizeMode(COL_CLASS, QHeaderView.ResizeMode.Stretch)
        header.setSectionResizeMode(COL_PROB, QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(COL_ALERT, QHeaderView.ResizeMode.ResizeToContents)

        self.summary = QLabel(self)
        self.summary.setAccessibleName("Batch summary")
        self.export_button = QPushButton("Export CSV\u2026", self)
        self.export_button.setToolTip("Save this table as a CSV file (Ctrl+E)")
        top = QHBoxLayout()
        top.setContentsMargins(0, 0, 0, 0)
        top.addWidget(self.summary, 1)
        top.addWidget(self.export_button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(top)
        layout.addWidget(self.table, 1)

    def source_row(self, proxy_row: int) -> int:
        return self.proxy.mapToSource(self.proxy.index(proxy_row, 0)).row()

    def results_in_view_order(self) -> list[ImageResult]:
        """Rows as the user sees them (their sort), for the CSV export."""
        return [self.model.result(self.source_row(i)) for i in range(self.proxy.rowCount())]

    def select_source_row(self, row: int) -> None:
        index = self.proxy.mapFromSource(self.model.index(row, COL_FILE))
        self.table.setCurrentIndex(index)
        self.table.scrollTo(index)
