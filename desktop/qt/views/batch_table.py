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
from PySide6.QtGui import QColor, QFontMetrics, QIcon, QPainter, QPen, QPixmap
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QPushButton,
    QStyle,
    QStyledItemDelegate,
    QStyleOptionViewItem,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from desktop import verdict
from desktop.qt import palette, texts
from desktop.qt.convert import array_to_qimage
from desktop.results import ImageResult

COLUMNS = texts.COLUMNS
COL_THUMB, COL_FILE, COL_CLASS, COL_PROB, COL_MEL, COL_ALERT = range(6)
SORT_ROLE = Qt.ItemDataRole.UserRole + 1
ALERT_COLOUR_ROLE = Qt.ItemDataRole.UserRole + 2  # the row's alert colour, or None
# (background, text) per verdict level; a level without an entry has no colour.
ALERT_COLOURS = {
    level: (QColor(background), QColor(text))
    for level, (background, text) in palette.LEVEL_FILL.items()
}
NO_CLASS = "\u2014"

Index = QModelIndex | QPersistentModelIndex


def _without_name(reason: str, name: str) -> str:
    """'x.jpg: file is empty' -> 'File is empty' (the File column already names it)."""
    prefix = f"{name}: "
    text = reason[len(prefix) :] if reason.startswith(prefix) else reason
    return text[:1].upper() + text[1:]


def _sentence(text: str) -> str:
    return text[:1].upper() + text[1:] + ("" if text.endswith(".") else ".")


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
            return texts.COLUMN_TIPS[section]
        return None

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid():
            return None
        r = self._rows[index.row()]
        col = index.column()
        pred = r.prediction
        colours = ALERT_COLOURS.get(r.alert_level)
        assessed = pred is not None and pred.assessable
        if role == Qt.ItemDataRole.DisplayRole:
            if col == COL_FILE:
                return r.name
            if col == COL_CLASS:
                if pred is None:
                    return _without_name(r.error or texts.NO_ERROR_REASON, r.name)
                if not pred.assessable:
                    return NO_CLASS
                shown = verdict.shown_class(pred)[0]
                return verdict.uncertain_label(shown, verdict.is_uncertain(pred))
            if col in (COL_PROB, COL_MEL):
                if not assessed:
                    return ""
                return verdict.shown_percent_texts(pred)[col == COL_MEL]
            if col == COL_ALERT:
                return verdict.LEVEL_TEXT.get(r.alert_level, r.alert_level)
            return None
        if role == Qt.ItemDataRole.DecorationRole and col == COL_THUMB:
            return self._thumbnail(index.row())
        if role == Qt.ItemDataRole.ToolTipRole:
            if pred is None:
                return r.error
            if reasons := verdict.uncertain_reasons(pred):
                return _sentence("; ".join(reasons))
            return r.name
        if role == ALERT_COLOUR_ROLE:
            return colours[0] if colours and r.alert_level != verdict.ERROR else None
        if role == Qt.ItemDataRole.BackgroundRole and col == COL_ALERT and colours:
            return colours[0]
        if role == Qt.ItemDataRole.ForegroundRole:
            if col == COL_ALERT and colours:
                return colours[1]
            if pred is None:
                return QColor(palette.UNREADABLE_RED)
        if role == SORT_ROLE:
            if col == COL_FILE:
                return r.name.lower()
            if col == COL_CLASS:
                return verdict.shown_class(pred)[0] if assessed else "~" + (r.error or "")
            if col == COL_PROB:
                return verdict.shown_probability(pred) if assessed else -1.0
            if col == COL_MEL:
                return pred.melanoma_probability if assessed else -1.0
            if col == COL_ALERT:
                mel = pred.melanoma_probability if assessed else 0.0
                return verdict.LEVEL_RANK.get(r.alert_level, 0) + mel / 10
            return index.row()
        if role == Qt.ItemDataRole.TextAlignmentRole and col in (COL_PROB, COL_MEL):
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


class AlertColourDelegate(QStyledItemDelegate):
    """Keeps each row's alert colour visible when the row is selected.

    The alert cell is painted in its own colour with the selection drawn as a frame
    around it, and the thumbnail cell carries a stripe in the same colour, so the
    selection highlight never hides which row raised an alert.
    """

    def sizeHint(self, option: QStyleOptionViewItem, index: Index) -> QSize:  # noqa: N802
        """Room for the alert text in bold, as it is painted."""
        size = super().sizeHint(option, index)
        if index.column() == COL_ALERT:
            font = option.font
            font.setBold(True)
            text = str(index.data(Qt.ItemDataRole.DisplayRole) or "")
            width = QFontMetrics(font).horizontalAdvance(text) + option.fontMetrics.height()
            size.setWidth(max(size.width(), width))
        return size

    def paint(self, painter: QPainter, option: QStyleOptionViewItem, index: Index) -> None:
        selected = bool(option.state & QStyle.StateFlag.State_Selected)
        background = index.data(Qt.ItemDataRole.BackgroundRole)
        if index.column() == COL_ALERT and isinstance(background, QColor):
            painter.save()
            painter.fillRect(option.rect, background)
            if selected:
                width = 3
                painter.setPen(QPen(option.palette.highlight().color(), width))
                painter.drawRect(option.rect.adjusted(1, 1, -2, -2))
            painter.setPen(index.data(Qt.ItemDataRole.ForegroundRole) or QColor(palette.BLACK))
            pad = option.fontMetrics.height() // 3
            font = option.font
            font.setBold(selected or index.data(SORT_ROLE) >= verdict.LEVEL_RANK[verdict.ALERT])
            painter.setFont(font)
            painter.drawText(
                option.rect.adjusted(pad, 0, -pad, 0),
                int(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter),
                str(index.data(Qt.ItemDataRole.DisplayRole) or ""),
            )
            painter.restore()
            return
        super().paint(painter, option, index)
        colour = index.data(ALERT_COLOUR_ROLE)
        if index.column() == COL_THUMB and isinstance(colour, QColor):
            stripe = max(4, option.fontMetrics.height() // 3)
            rect = option.rect
            painter.fillRect(rect.left(), rect.top(), stripe, rect.height(), colour)


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
        self.table.setAccessibleName(texts.BATCH_TABLE_NAME)
        self.table.setTabKeyNavigation(False)  # Tab leaves the table; arrows move between rows
        self.table.setItemDelegate(AlertColourDelegate(self.table))
        em = self.fontMetrics().height()
        icon = max(28, em * 2)
        self.table.setIconSize(QSize(icon, icon))
        self.table.verticalHeader().setDefaultSectionSize(icon + 4)
        self.table.verticalHeader().hide()
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
        header.setSectionResizeMode(COL_THUMB, QHeaderView.ResizeMode.Fixed)
        header.setStretchLastSection(False)
        self.table.setColumnWidth(COL_THUMB, icon + em)
        header.setMinimumSectionSize(em * 3)
        self.table.setTextElideMode(Qt.TextElideMode.ElideMiddle)  # a long name keeps its end
        self._needed = [0] * len(COLUMNS)  # widest text per column so far, in pixels
        self.model.rowsInserted.connect(self._measure)
        self.model.modelReset.connect(self._forget_widths)
        self._forget_widths()

        self.summary = QLabel(self)
        self.summary.setAccessibleName(texts.BATCH_SUMMARY_NAME)
        self.export_button = QPushButton(texts.EXPORT_CSV, self)
        self.export_button.setToolTip(texts.EXPORT_CSV_TIP)
        top = QHBoxLayout()
        top.setContentsMargins(0, 0, 0, 0)
        top.addWidget(self.summary, 1)
        top.addWidget(self.export_button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(top)
        layout.addWidget(self.table, 1)

    # Column widths ------------------------------------------------------------------------
    def _forget_widths(self) -> None:
        self._needed = [self._text_width(COLUMNS[c], bold=True) for c in range(len(COLUMNS))]
        self.fit_columns()

    def _text_width(self, text: str, bold: bool = False) -> int:
        font = self.table.font()
        font.setBold(bold)
        return QFontMetrics(font).horizontalAdvance(text) + 2 * self.fontMetrics().height()

    def _measure(self, _parent: Index, first: int, last: int) -> None:
        """Remember the widest text of the new rows (once per row: a batch can be long)."""
        for row in range(first, last + 1):
            # An unreadable file's reason stands in the class column: it may be long, so it
            # is elided there (whole in the tooltip) rather than widening the column.
            ok = self.model.result(row).ok
            for col in (COL_FILE, COL_CLASS, COL_PROB, COL_MEL, COL_ALERT):
                if col == COL_CLASS and not ok:
                    continue
                text = str(self.model.index(row, col).data() or "")
                width = self._text_width(text, bold=col == COL_ALERT)
                self._needed[col] = max(self._needed[col], width)
        self.fit_columns()

    def fit_columns(self) -> None:
        """Class, figures and alert get their whole text; the file name gets what it needs up
        to a cap (elided in the middle beyond it); the spare width goes to the class column.
        On a narrow window the file name shrinks first, then the table scrolls sideways."""
        em = self.fontMetrics().height()
        table = self.table
        needed = self._needed
        fixed = table.columnWidth(COL_THUMB) + sum(needed[c] for c in (COL_PROB, COL_MEL))
        fixed += needed[COL_ALERT] + needed[COL_CLASS]
        file_width = min(needed[COL_FILE], em * 22)
        spare = table.viewport().width() - fixed - file_width
        if spare < 0:
            file_width = max(em * 8, file_width + spare)
        for col in (COL_PROB, COL_MEL, COL_ALERT):
            table.setColumnWidth(col, needed[col])
        table.setColumnWidth(COL_FILE, file_width)
        table.setColumnWidth(COL_CLASS, needed[COL_CLASS] + max(0, spare))

    def resizeEvent(self, event) -> None:  # noqa: N802
        super().resizeEvent(event)
        self.fit_columns()

    def height_for_rows(self, rows: int) -> int:
        """Height that shows ``rows`` rows (at least three) with the summary and header."""
        table = self.table
        frame = 2 * table.frameWidth() + table.horizontalHeader().sizeHint().height()
        row = table.verticalHeader().defaultSectionSize()
        top = max(self.summary.sizeHint().height(), self.export_button.sizeHint().height())
        spacing = self.layout().spacing() if self.layout() is not None else 0
        return top + spacing + frame + row * max(3, rows) + 4

    def source_row(self, proxy_row: int) -> int:
        return self.proxy.mapToSource(self.proxy.index(proxy_row, 0)).row()

    def results_in_view_order(self) -> list[ImageResult]:
        """Rows as the user sees them (their sort), for the CSV export."""
        return [self.model.result(self.source_row(i)) for i in range(self.proxy.rowCount())]

    def select_source_row(self, row: int) -> None:
        index = self.proxy.mapFromSource(self.model.index(row, COL_FILE))
        self.table.setCurrentIndex(index)
        self.table.scrollTo(index)
