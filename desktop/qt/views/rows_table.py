"""A read-only table of text rows with a key per row: the case browser's patients, lesions
and reviews due, and the timeline's visits.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from PySide6.QtCore import QAbstractTableModel, QModelIndex, QObject, Qt, Signal
from PySide6.QtGui import QColor
from PySide6.QtWidgets import QAbstractItemView, QTableView, QWidget


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
