"""Behaviour of the image side: which photo and heat layer to show, and what the user changes.

The photo is decoded and its heat layer built off the UI thread (:class:`DisplayLoader`);
switching the heat-map's class swaps only the layer, so zoom and pan stay.
"""

from __future__ import annotations

from PySide6.QtCore import QObject
from PySide6.QtGui import QImage

from desktop import verdict
from desktop.card import ModelCard
from desktop.qt import texts
from desktop.qt.views.image_pane import ImagePane
from desktop.qt.window_state import WindowState
from desktop.qt.workers import (
    DisplayImages,
    DisplayLoader,
    display_images,
    has_heat,
    heat_image,
)
from desktop.results import ImageResult, SupportsClassify


def heatmap_default_class(result: ImageResult, card: ModelCard | None) -> int | None:
    """Melanoma's map whenever the melanoma alert is on, else the top class's; None when
    the image gets no class at all (a map 'for' a class it was not given would mislead)."""
    pred = result.prediction
    if pred is None or not pred.assessable:
        return None
    if verdict.verdict_of(result, card).alert:
        return pred.melanoma_index
    return pred.top_index


class ImageController(QObject):
    """Shows one result's photo and heat-map in ``pane``; remembers the map's settings."""

    def __init__(
        self,
        pane: ImagePane,
        card: ModelCard | None,
        state: WindowState,
        parent: QObject | None = None,
        classifier: SupportsClassify | None = None,
    ) -> None:
        super().__init__(parent)
        self.pane = pane
        self.card = card
        self.state = state
        self.classifier = classifier  # makes the heat-maps a batch left out
        self.result: ImageResult | None = None
        self.display: DisplayImages | None = None  # None until the background load lands
        self.mapped: ImageResult | None = None  # ``result`` with the heat-maps made for it
        self.loader = DisplayLoader(self, classifier)
        self._token = 0

        pane.set_opacity_percent(state.opacity_percent)
        pane.set_heatmap_on(state.heatmap_on)
        pane.heatmap_action.toggled.connect(self.set_heatmap)
        pane.heatmap_toggle.toggled.connect(self.set_heatmap)
        pane.heatmap_class.currentIndexChanged.connect(self._on_class_changed)
        pane.opacity_slider.valueChanged.connect(self.set_opacity)
        self.loader.loaded.connect(self._on_loaded)

    # What is shown -----------------------------------------------------------------------
    def clear(self, message: str | None = None) -> None:
        """Nothing to show (a new job, or a result without an image)."""
        self.result, self.display, self.mapped = None, None, None
        self._token = -1  # a load still in flight is dropped when it lands
        self.pane.set_heat_classes([], None)  # no class name left over from the last image
        self.pane.set_heat_note()
        self.pane.set_heatmap_enabled(False)
        if message is not None:
            self.pane.image_view.set_message(message)

    def show(self, result: ImageResult) -> None:
        """Fill the class chooser and fetch the photo and heat layer in the background."""
        self.clear(texts.LOADING_IMAGE)
        self.result = result
        chosen = heatmap_default_class(result, self.card)
        pred = result.prediction
        items: list[tuple[str, str]] = []
        current = None
        if pred is not None and chosen is not None:
            items = [
                (texts.heatmap_class_item(verdict.class_name(c), p), c) for c, p in pred.ranked()
            ]
            current = pred.classes[chosen]
        self.pane.set_heat_classes(items, current)
        if self.card is not None:
            self._token = self.loader.request(
                result, self.card.preprocessing, chosen if chosen is not None else -1
            )

    def chosen_class_index(self) -> int | None:
        """The card index of the class chosen for the heat-map (None when there is none)."""
        pred = self.result.prediction if self.result is not None else None
        cls = self.pane.chosen_class()
        if pred is None or cls is None:
            return None
        return pred.classes.index(cls)

    def report_images(self, result: ImageResult) -> tuple[QImage | None, QImage | None, int | None]:
        """For the PDF: the photo, the photo with the heat layer burnt in at the chosen
        opacity (None without a layer), and the layer's class index. What is on screen when
        ``result`` is shown and loaded, else built now (the background load may be late)."""
        display = self.display if result is self.result else None
        if display is None or display.photo is None:
            chosen = self.chosen_class_index() if result is self.result else None
            if chosen is None:
                chosen = heatmap_default_class(result, self.card)
            if self.card is None:
                return None, None, None
            pre = self.card.preprocessing
            display = display_images(
                result, pre, chosen if chosen is not None else -1, self.classifier
            )
        shown = display.heat_class if display.heat is not None else None
        return display.photo, display.composite(self.pane.opacity_percent() / 100), shown

    def _on_loaded(self, token: int, images: DisplayImages) -> None:
        if token != self._token:
            return
        self.display = images
        self.mapped = images.result  # the result with the maps made for this showing
        view = self.pane.image_view
        if images.photo is None:
            view.set_message(images.error or texts.IMAGE_NOT_SHOWN)
            return
        view.set_images(images.photo, images.heat, images.box)
        self.pane.set_heatmap_enabled(self.pane.heatmap_class.count() > 0)
        self._show_layer_state(images)
        view.set_show_overlay(self.pane.heatmap_on())

    def _on_class_changed(self, _row: int) -> None:
        """Another class chosen: swap only the heat layer (the photo and zoom stay)."""
        display, result, index = self.display, self.result, self.chosen_class_index()
        if display is None or display.photo is None or result is None or index is None:
            return
        box = display.box if display.box is not None else display.photo.rect()
        heat = heat_image(self.mapped or result, index, box)
        self.display = DisplayImages(display.photo, heat, box, index)
        self.pane.image_view.set_heat(heat, box)
        self._show_layer_state(self.display)

    def _show_layer_state(self, images: DisplayImages) -> None:
        """Switch and note for the chosen class: no map for a class nearly ruled out (said
        why), and what the white frame means when the model saw only the centre square."""
        result, index = self.result, images.heat_class
        pred = result.prediction if result is not None else None
        missing = ""
        known = pred is not None and index is not None and 0 <= index < len(pred.classes)
        if images.heat is None and known and not has_heat(result, index):
            p = float(pred.probabilities[index])
            missing = texts.no_heatmap(verdict.class_name(pred.classes[index]), p)
        photo, box = images.photo, images.box
        cropped = photo is not None and box is not None and box != photo.rect()
        self.pane.set_heat_note(cropped, missing)
        self.pane.set_layer_available(images.heat is not None)

    # What the user changes ---------------------------------------------------------------
    def set_heatmap(self, on: bool) -> None:
        self.pane.set_heatmap_on(on)
        self.state.save_heatmap(on, self.pane.opacity_percent())

    def set_opacity(self, percent: int) -> None:
        """The slider moved: repaint only (the heat layer is painted at this opacity)."""
        self.pane.image_view.set_opacity(percent / 100)
        self.state.save_heatmap(self.pane.heatmap_on(), percent)

    def save_settings(self) -> None:
        self.state.save_heatmap(self.pane.heatmap_on(), self.pane.opacity_percent())

    def wait(self, msecs: int = -1) -> bool:
        return self.loader.wait(msecs)
