"""Lesion-history views: "Save to case", the case browser and the lesion timeline.

Layout only, plus what is intrinsic to a widget (zooming a picture, accepting a
drop). What happens on a button press lives in ``desktop.qt.history``.
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
    QPointF,
    QRectF,
    QSize,
    Qt,
    Signal,
)
from PySide6.QtGui import (
    QColor,
    QDragEnterEvent,
    QDropEvent,
    QImage,
    QKeyEvent,
    QMouseEvent,
    QPainter,
    QPaintEvent,
    QWheelEvent,
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
    QSizePolicy,
    QSplitter,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from desktop.history.service import DEFAULT_SITE
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

MAX_ZOOM = 16.0


class ZoomPanView(QWidget):
    """A photo that zooms (wheel, +/-) around the cursor and pans (drag, arrows).

    The view is ``(zoom, cx, cy)``: zoom 1 fits the whole image, ``cx, cy`` is the
    image point at the centre in 0..1 image coordinates, so two photos of
    different sizes can share one view (linked comparison of two visits).
    """

    viewChanged = Signal(float, float, float)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._image: QImage | None = None
        self._overlay: QImage | None = None  # drawn over the image, e.g. the earlier visit
        self._overlay_opacity = 0.0
        self._message = texts.NO_IMAGE
        self._zoom, self._cx, self._cy = 1.0, 0.5, 0.5
        self._drag: QPointF | None = None
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        self.setToolTip(history_texts.PHOTO_ZOOM_TIP)

    def sizeHint(self) -> QSize:  # noqa: N802
        em = self.fontMetrics().height()
        return QSize(20 * em, 16 * em)

    def minimumSizeHint(self) -> QSize:  # noqa: N802
        em = self.fontMetrics().height()
        return QSize(8 * em, 6 * em)

    # State --------------------------------------------------------------------------------
    @property
    def image(self) -> QImage | None:
        return self._image

    @property
    def message(self) -> str:
        return self._message

    def set_image(self, image: QImage | None) -> None:
        self._image = image if image is not None and not image.isNull() else None
        self._message = "" if self._image is not None else texts.IMAGE_NOT_SHOWN
        self._clamp()
        self.update()

    def set_message(self, text: str) -> None:
        self._image, self._message = None, text
        self.update()

    def set_overlay(self, image: QImage | None, opacity: float = 0.0) -> None:
        """A second picture faded over the first in the same frame (an aligned earlier visit)."""
        self._overlay = image if image is not None and not image.isNull() else None
        self._overlay_opacity = max(0.0, min(1.0, float(opacity)))
        self.update()

    @property
    def overlay(self) -> tuple[QImage | None, float]:
        return self._overlay, self._overlay_opacity

    def view(self) -> tuple[float, float, float]:
        return self._zoom, self._cx, self._cy

    def set_view(self, zoom: float, cx: float, cy: float, emit: bool = False) -> None:
        old = self.view()
        self._zoom = max(1.0, min(MAX_ZOOM, float(zoom)))
        self._cx, self._cy = float(cx), float(cy)
        self._clamp()
        self.update()
        if emit and self.view() != old:
            self.viewChanged.emit(*self.view())

    def reset(self) -> None:
        self.set_view(1.0, 0.5, 0.5, emit=True)

    # Geometry -----------------------------------------------------------------------------
    def _scale(self) -> float:
        if self._image is None:
            return 1.0
        w, h = self._image.width(), self._image.height()
        fit = min(self.width() / max(1, w), self.height() / max(1, h))
        return max(1e-6, fit * self._zoom)

    def _clamp(self) -> None:
        """Keep the image covering the view where it can (no panning into empty space)."""
        if self._image is None:
            return
        s = self._scale()
        for attr, size, view in (
            ("_cx", self._image.width(), self.width()),
            ("_cy", self._image.height(), self.height()),
        ):
            extent = size * s
            if extent <= view:
                setattr(self, attr, 0.5)
            else:
                half = view / 2 / extent
                setattr(self, attr, min(1 - half, max(half, getattr(self, attr))))

    def image_rect(self) -> QRectF:
        """Where the image is painted, in widget coordinates."""
        if self._image is None:
            return QRectF()
        s = self._scale()
        w, h = self._image.width() * s, self._image.height() * s
        c = QRectF(self.rect()).center()
        return QRectF(c.x() - self._cx * w, c.y() - self._cy * h, w, h)

    def zoom_by(self, factor: float, anchor: QPointF | None = None) -> None:
        """Zoom keeping the image point under ``anchor`` (default: the centre) in place."""
        if self._image is None:
            return
        anchor = anchor if anchor is not None else QRectF(self.rect()).center()
        before = self.image_rect()
        if before.width() <= 0 or before.height() <= 0:
            return
        u = (anchor.x() - before.left()) / before.width()
        v = (anchor.y() - before.top()) / before.height()
        zoom = max(1.0, min(MAX_ZOOM, self._zoom * factor))
        new_w = before.width() * zoom / self._zoom
        new_h = before.height() * zoom / self._zoom
        c = QRectF(self.rect()).center()
        cx = u - (anchor.x() - c.x()) / new_w
        cy = v - (anchor.y() - c.y()) / new_h
        self.set_view(zoom, cx, cy, emit=True)

    def pan_by(self, dx: float, dy: float) -> None:
        """Move the picture by (dx, dy) widget pixels."""
        r = self.image_rect()
        if r.width() <= 0:
            return
        self.set_view(self._zoom, self._cx - dx / r.width(), self._cy - dy / r.height(), emit=True)

    # Events -------------------------------------------------------------------------------
    def wheelEvent(self, event: QWheelEvent) -> None:  # noqa: N802
        steps = event.angleDelta().y() / 120.0
        if steps:
            self.zoom_by(1.25**steps, event.position())
        event.accept()

    def mousePressEvent(self, event: QMouseEvent) -> None:  # noqa: N802
        if event.button() == Qt.MouseButton.LeftButton:
            self._drag = event.position()
            self.setCursor(Qt.CursorShape.ClosedHandCursor)

    def mouseMoveEvent(self, event: QMouseEvent) -> None:  # noqa: N802
        if self._drag is not None:
            pos = event.position()
            self.pan_by(pos.x() - self._drag.x(), pos.y() - self._drag.y())
            self._drag = pos

    def mouseReleaseEvent(self, event: QMouseEvent) -> None:  # noqa: N802
        self._drag = None
        self.unsetCursor()

    def mouseDoubleClickEvent(self, event: QMouseEvent) -> None:  # noqa: N802
        self.reset()

    def keyPressEvent(self, event: QKeyEvent) -> None:  # noqa: N802
        step = self.fontMetrics().height() * 2
        key = event.key()
        actions = {
            Qt.Key.Key_Plus: lambda: self.zoom_by(1.25),
            Qt.Key.Key_Equal: lambda: self.zoom_by(1.25),
            Qt.Key.Key_Minus: lambda: self.zoom_by(0.8),
            Qt.Key.Key_0: self.reset,
            Qt.Key.Key_Left: lambda: self.pan_by(step, 0),
            Qt.Key.Key_Right: lambda: self.pan_by(-step, 0),
            Qt.Key.Key_Up: lambda: self.pan_by(0, step),
            Qt.Key.Key_Down: lambda: self.pan_by(0, -step),
        }
        if key in actions:
            actions[key]()
            event.accept()
        else:
            super().keyPressEvent(event)

    def resizeEvent(self, event) -> None:  # noqa: N802
        super().resizeEvent(event)
        self._clamp()

    def paintEvent(self, event: QPaintEvent) -> None:  # noqa: N802
        p = QPainter(self)
        p.fillRect(self.rect(), QColor(palette.PHOTO_BACKGROUND))
        if self._image is None:
            p.setPen(QColor(palette.PHOTO_TEXT))
            p.drawText(
                self.rect(), Qt.AlignmentFlag.AlignCenter | Qt.TextFlag.TextWordWrap, self._message
            )
        else:
            p.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform, True)
            p.drawImage(self.image_rect(), self._image)
            if self._overlay is not None and self._overlay_opacity > 0:
                p.setOpacity(self._overlay_opacity)
                p.drawImage(self.image_rect(), self._overlay)
                p.setOpacity(1.0)
            if self._zoom > 1.0:
                p.setPen(QColor(palette.PHOTO_TEXT))
                p.drawText(
                    QRectF(self.rect()).adjusted(6, 4, -6, -4),
                    Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignTop,
                    history_texts.zoom_factor(self._zoom),
                )
        p.end()


def link_views(a: ZoomPanView, b: ZoomPanView, linked: QCheckBox | None = None) -> None:
    """Zooming or panning one view moves the other to the same place (unless unticked)."""

    def follow(target: ZoomPanView):
        def apply(zoom: float, cx: float, cy: float) -> None:
            if linked is None or linked.isChecked():
                target.set_view(zoom, cx, cy, emit=False)

        return apply

    a.viewChanged.connect(follow(b))
    b.viewChanged.connect(follow(a))
    if linked is not None:
        linked.toggled.connect(lambda on: on and b.set_view(*a.view()))


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

    def set_lesions(self, lesions: Sequence[dict[str, Any]]) -> None:
        self.lesions.set_rows(
            [
                (
                    lesion["label"],
                    history_texts.site_with_side(lesion["site"], lesion.get("laterality", "")),
                    str(lesion["visits"]),
                    lesion["first_visit"] or "-",
                    lesion["last_visit"] or "-",
                    history_texts.outcome_cell(lesion.get("outcome")),
                )
                for lesion in lesions
            ],
            [(lesion["id"], lesion["label"]) for lesion in lesions],
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
