"""The lesion timeline: two visits side by side (linked zoom, the later photo optionally
aligned onto the earlier one with the earlier faded over it), the melanoma chart and every
visit. Layout only; :mod:`desktop.qt.controllers.timeline` wires it.
"""

from __future__ import annotations

import html
from collections.abc import Sequence

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDialog,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QSlider,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from desktop.history.service import Visit
from desktop.qt import followup_texts as words
from desktop.qt import history_texts, palette, texts
from desktop.qt.views.history_chart import MelanomaChart
from desktop.qt.views.rows_table import RowsTable
from desktop.qt.views.zoom_pan import ZoomPanView, link_views
from desktop.verdict import CANNOT_ASSESS, NO_MELANOMA_FIGURE


def verdict_html(visit: Visit) -> str:
    """The visit's verdict in words (current result first, earlier results below)."""
    if not visit.results:
        return f"<i>{history_texts.NO_RESULT_STORED}</i>"
    parts = []
    for i, r in enumerate(reversed(visit.results)):
        level, headline = r.describe()
        colour = palette.level_ink(level)
        mel = (
            NO_MELANOMA_FIGURE
            if level == CANNOT_ASSESS
            else texts.melanoma_figure(r.melanoma_text or "-")
        )
        model = html.escape(history_texts.model_stamp(r.model_version, r.created[:10]))
        if i == 0:
            parts.append(
                f"<b style='color:{colour}'>{html.escape(headline)}</b><br>{mel} "
                f"<span style='color:{palette.BLUE_GREY}'>({model})</span>"
            )
        else:
            parts.append(
                f"<span style='color:{palette.BLUE_GREY}'>{history_texts.EARLIER_RESULT}{html.escape(headline)}, "
                f"{mel} ({model})</span>"
            )
    if visit.note:
        parts.append(f"<i>{html.escape(history_texts.note_line(visit.note))}</i>")
    return "<br>".join(parts)


class TimelineDialog(QDialog):
    """Two visits of one lesion side by side (linked zoom/pan), the chart and every visit."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle(history_texts.TIMELINE_TITLE)
        self.setSizeGripEnabled(True)
        self.title = QLabel(self)
        self.title.setTextFormat(Qt.TextFormat.PlainText)
        font = self.title.font()
        font.setBold(True)
        font.setPointSizeF(font.pointSizeF() * 1.2)
        self.title.setFont(font)
        self.combo_a = QComboBox(self)
        self.combo_b = QComboBox(self)
        self.combo_a.setAccessibleName(history_texts.EARLIER_VISIT)
        self.combo_b.setAccessibleName(history_texts.LATER_VISIT)
        self.view_a = ZoomPanView(self)
        self.view_b = ZoomPanView(self)
        for view in (self.view_a, self.view_b):
            view.setToolTip(history_texts.PHOTO_ZOOM_TIP)
            view.zoom_readout = True
        self.verdict_a = QLabel(self)
        self.verdict_b = QLabel(self)
        for label in (self.verdict_a, self.verdict_b):
            label.setWordWrap(True)
            label.setTextFormat(Qt.TextFormat.RichText)
            label.setAlignment(Qt.AlignmentFlag.AlignTop | Qt.AlignmentFlag.AlignLeft)
        self.link_box = QCheckBox(history_texts.LINK_ZOOM, self)
        self.link_box.setChecked(True)
        link_views(self.view_a, self.view_b, self.link_box)
        self._build_align_controls()
        self.chart = MelanomaChart(self)
        self.visits = RowsTable(history_texts.VISIT_COLUMNS, self)
        self.visits.setAccessibleName(history_texts.VISITS)
        self.reclassify_button = QPushButton(history_texts.RECLASSIFY, self)
        self.reclassify_button.setToolTip(history_texts.RECLASSIFY_TIP)
        self.delete_button = QPushButton(history_texts.DELETE_VISIT, self)
        self.export_button = QPushButton(history_texts.EXPORT_PATIENT, self)
        self.close_button = QPushButton(texts.CLOSE, self)
        self.close_button.clicked.connect(self.reject)
        self._lay_out()

    def _build_align_controls(self) -> None:
        self.align_box = QCheckBox(words.ALIGN, self)
        self.align_box.setToolTip(words.ALIGN_TIP)
        self.align_box.setChecked(True)
        self.overlay_label = QLabel(words.OVERLAY, self)
        self.overlay_slider = QSlider(Qt.Orientation.Horizontal, self)
        self.overlay_slider.setRange(0, 100)
        self.overlay_slider.setValue(0)
        self.overlay_slider.setToolTip(words.OVERLAY_TIP)
        self.overlay_slider.setAccessibleName(words.OVERLAY_NAME)
        self.overlay_label.setBuddy(self.overlay_slider)
        self.align_status = QLabel(self)
        self.align_status.setWordWrap(True)
        self.align_status.setStyleSheet("color: palette(placeholder-text);")

    def _lay_out(self) -> None:
        grid = QGridLayout()
        grid.addWidget(self.combo_a, 0, 0)
        grid.addWidget(self.combo_b, 0, 1)
        grid.addWidget(self.view_a, 1, 0)
        grid.addWidget(self.view_b, 1, 1)
        grid.addWidget(self.verdict_a, 2, 0)
        grid.addWidget(self.verdict_b, 2, 1)
        grid.setRowStretch(1, 1)
        controls = QHBoxLayout()
        for w in (self.link_box, self.align_box, self.overlay_label):
            controls.addWidget(w)
        controls.addWidget(self.overlay_slider, 1)
        top = QWidget(self)
        top_layout = QVBoxLayout(top)
        top_layout.setContentsMargins(0, 0, 0, 0)
        top_layout.addLayout(grid, 1)
        top_layout.addLayout(controls)
        top_layout.addWidget(self.align_status)
        bottom = QSplitter(Qt.Orientation.Horizontal, self)
        bottom.addWidget(self.chart)
        bottom.addWidget(self.visits)
        split = QSplitter(Qt.Orientation.Vertical, self)
        split.addWidget(top)
        split.addWidget(bottom)
        split.setStretchFactor(0, 2)
        split.setStretchFactor(1, 1)
        buttons = QHBoxLayout()
        for b in (self.reclassify_button, self.delete_button, self.export_button):
            buttons.addWidget(b)
        buttons.addStretch(1)
        buttons.addWidget(self.close_button)
        layout = QVBoxLayout(self)
        layout.addWidget(self.title)
        layout.addWidget(split, 1)
        layout.addLayout(buttons)
        em = self.fontMetrics().height()
        self.resize(em * 64, em * 46)

    def set_overlay_enabled(self, enabled: bool) -> None:
        """The fade only makes sense on an aligned pair."""
        self.overlay_slider.setEnabled(enabled)
        self.overlay_label.setEnabled(enabled)

    def overlay_opacity(self) -> float:
        return self.overlay_slider.value() / 100.0

    def set_visits(self, visits: Sequence[Visit]) -> None:
        """Fill the pickers and the table (visits in date order)."""
        names = [history_texts.visit_choice(v.date, v.id) for v in visits]
        for combo in (self.combo_a, self.combo_b):
            combo.blockSignals(True)
            keep = combo.currentData()
            combo.clear()
            for name, v in zip(names, visits, strict=True):
                combo.addItem(name, v.id)
            i = combo.findData(keep)
            if i >= 0:
                combo.setCurrentIndex(i)
            combo.blockSignals(False)
        rows, colours = [], {}
        for i, v in enumerate(visits):
            r = v.current
            level, headline = r.describe() if r else ("", history_texts.NO_RESULT)
            if level:
                colours[(i, 1)] = palette.level_ink(level)
            mel = "-" if r is None or level == CANNOT_ASSESS else (r.melanoma_text or "-")
            model = r.model_version if r else "-"
            rows.append((v.date, headline, mel, model, str(len(v.results)), v.note))
        self.visits.set_rows(rows, [v.id for v in visits], colours)

    def selected_ids(self) -> tuple[int | None, int | None]:
        return self.combo_a.currentData(), self.combo_b.currentData()
