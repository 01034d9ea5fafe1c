"""The image side of the main window: the photo, its heat-map controls and the zoom row.

Layout and small view operations only (fill the class chooser, enable the heat-map
controls, show the zoom); :class:`desktop.qt.controllers.image.ImageController` decides
what to show.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

from PySide6.QtCore import Qt
from PySide6.QtGui import QAction, QPixmap
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QHBoxLayout,
    QLabel,
    QSlider,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from desktop.heatmap import DEFAULT_OPACITY, legend
from desktop.qt import texts
from desktop.qt.convert import pil_to_qimage
from desktop.qt.views.image_view import ImageView


class ZoomActions(NamedTuple):
    """The View menu's zoom actions, in the order their buttons appear."""

    zoom_out: QAction
    zoom_fit: QAction
    zoom_actual: QAction
    zoom_in: QAction


class ImagePane(QWidget):
    """The photo with its heat-map toggle, class chooser, opacity slider, legend and zoom.

    ``heatmap_action`` (View menu, key H) and the pane's check box are kept in step; the
    zoom actions act on the image view directly (zoom is the view's own business).
    """

    def __init__(self, heatmap_action: QAction, zoom: ZoomActions, parent: QWidget | None) -> None:
        super().__init__(parent)
        em = self.fontMetrics().height()
        self.heatmap_action = heatmap_action
        self.zoom_actions = tuple(zoom)
        self.image_view = view = ImageView(self)
        for action, slot in zip(
            zoom, (view.zoom_out, view.zoom_fit, view.zoom_actual, view.zoom_in), strict=True
        ):
            action.triggered.connect(slot)
        view.zoomChanged.connect(self.show_zoom)
        self.heatmap_toggle = QCheckBox(texts.HEATMAP_TOGGLE, self)
        self.heatmap_toggle.setToolTip(texts.HEATMAP_TOGGLE_TIP)
        self.heatmap_class = QComboBox(self)
        self.heatmap_class.setAccessibleName(texts.HEATMAP_CLASS_NAME)
        self.heatmap_class.setToolTip(texts.HEATMAP_CLASS_TIP)
        # As wide as its longest entry: "Pigmented benign keratosis (16 %)" is never cut.
        self.heatmap_class.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToContents)
        self.opacity_label = QLabel(texts.OPACITY, self)
        self.opacity_slider = QSlider(Qt.Orientation.Horizontal, self)
        self.opacity_slider.setRange(10, 100)
        self.opacity_slider.setSingleStep(5)
        self.opacity_slider.setPageStep(10)
        self.opacity_slider.setValue(round(DEFAULT_OPACITY * 100))
        self.opacity_slider.setMaximumWidth(em * 6)
        self.opacity_slider.setToolTip(texts.OPACITY_TIP)
        self.opacity_slider.setAccessibleName(texts.OPACITY)
        self.opacity_label.setBuddy(self.opacity_slider)
        self.set_heatmap_enabled(False)
        self.legend = QLabel(self)
        self.legend.setPixmap(_legend_pixmap(max(60, em * 5), max(8, em * 2 // 3)))
        self.legend_low = QLabel(texts.LEGEND_LOW, self)
        self.legend_high = QLabel(texts.LEGEND_HIGH, self)
        self.heatmap_note = QLabel(texts.HEATMAP_NOTE, self)
        self.heatmap_note.setWordWrap(True)
        self.heatmap_note.setStyleSheet("color: palette(placeholder-text);")
        self.zoom_label = QLabel(self)
        self.zoom_label.setAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)

        # Three rows, so the class chooser has room for its longest name at 150 % too.
        heat_row = QHBoxLayout()
        for widget in (self.heatmap_toggle, self.heatmap_class):
            heat_row.addWidget(widget)
        heat_row.addStretch(1)
        legend_row = QHBoxLayout()
        for widget in (self.legend_low, self.legend, self.legend_high):
            legend_row.addWidget(widget)
        legend_row.addSpacing(em)
        legend_row.addWidget(self.opacity_label)
        legend_row.addWidget(self.opacity_slider)
        legend_row.addStretch(1)
        zoom_row = QHBoxLayout()
        zoom_row.addStretch(1)
        zoom_row.addWidget(self.zoom_label)
        self.zoom_buttons: list[QToolButton] = []
        for action in self.zoom_actions:
            button = QToolButton(self)
            button.setDefaultAction(action)
            button.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
            self.zoom_buttons.append(button)
            zoom_row.addWidget(button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.image_view, 1)
        layout.addLayout(heat_row)
        layout.addLayout(legend_row)
        layout.addLayout(zoom_row)
        layout.addWidget(self.heatmap_note)

    # Heat-map controls -------------------------------------------------------------------
    def set_heat_classes(self, items: Sequence[tuple[str, str]], current: str | None) -> None:
        """Fill the class chooser with (label, class) pairs without announcing a change."""
        combo = self.heatmap_class
        combo.blockSignals(True)
        combo.clear()
        for label, cls in items:
            combo.addItem(label, cls)
        if items:
            combo.setCurrentIndex(max(0, combo.findData(current)))
        combo.blockSignals(False)

    def set_heat_note(self, cropped: bool = False, missing: str = "") -> None:
        """Under the photo: what the map is, why a class has none (``missing``), and what the
        white frame is when the model saw only the photo's centre square (``cropped``)."""
        parts = [missing or texts.HEATMAP_NOTE]
        if cropped:
            parts.append(texts.HEATMAP_FRAME_NOTE)
        self.heatmap_note.setText(" ".join(parts))

    def set_layer_available(self, has: bool) -> None:
        """A class without a map: its chooser stays usable, the switch and opacity do not."""
        for widget in (self.heatmap_toggle, self.heatmap_action, self.opacity_slider):
            widget.setEnabled(has)

    def chosen_class(self) -> str | None:
        return self.heatmap_class.currentData()

    def set_heatmap_enabled(self, has: bool) -> None:
        for widget in (
            self.heatmap_toggle,
            self.heatmap_action,
            self.heatmap_class,
            self.opacity_slider,
        ):
            widget.setEnabled(has)

    def heatmap_on(self) -> bool:
        return self.heatmap_action.isChecked()

    def set_heatmap_on(self, on: bool) -> None:
        """Tick the menu action and the check box alike (silently) and show or hide the map."""
        for widget in (self.heatmap_action, self.heatmap_toggle):
            if widget.isChecked() != on:
                widget.blockSignals(True)
                widget.setChecked(on)
                widget.blockSignals(False)
        self.image_view.set_show_overlay(on)

    def opacity_percent(self) -> int:
        return self.opacity_slider.value()

    def set_opacity_percent(self, percent: int) -> None:
        self.opacity_slider.setValue(percent)
        self.image_view.set_opacity(percent / 100)

    # Zoom --------------------------------------------------------------------------------
    def show_zoom(self) -> None:
        """The zoom read-out, and the zoom actions enabled only while a photo is shown."""
        view = self.image_view
        has_photo = view.photo is not None
        self.zoom_label.setText(
            texts.zoom_label(view.zoom() * 100, view.fitting) if has_photo else ""
        )
        for action in self.zoom_actions:
            action.setEnabled(has_photo)


def _legend_pixmap(width: int, height: int) -> QPixmap:
    return QPixmap.fromImage(pil_to_qimage(legend(width, height)))
