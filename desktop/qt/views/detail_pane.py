"""The result pane: file name, verdict banners, headline and the probability of each class.

It takes a :class:`ResultView` and shows it, so the controller says *what* to show and
never sets the pane's widgets one by one. Every word comes from :mod:`desktop.verdict`
(alerts, uncertainty, "cannot assess") or :mod:`desktop.qt.texts` (the rest).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QLabel, QPushButton, QSizePolicy, QVBoxLayout, QWidget

from desktop import verdict
from desktop.card import ModelCard
from desktop.qt import texts
from desktop.qt.views.banners import AlertBanner, Banner, UncertainBanner
from desktop.qt.views.probability_bars import ProbabilityBars
from desktop.results import ImageResult


@dataclass(frozen=True)
class ResultView:
    """What the pane shows for one result; built without Qt, so it can be tested alone."""

    name: str
    location: str  # the tooltip: the full path, or the name of a pasted image
    verdict: verdict.Verdict
    probabilities: tuple[tuple[str, float], ...] = ()  # most likely first; () = no bars
    highlight: str | None = None  # the melanoma class, drawn red among the bars
    known: str | None = None  # a shipped sample's known diagnosis, to compare with


def result_view(
    result: ImageResult, card: ModelCard | None, known: str | None = None
) -> ResultView:
    """The pane's view of ``result``: no bars for an image that gets no class at all."""
    said = verdict.verdict_of(result, card)
    pred = result.prediction
    ranked = tuple(pred.ranked()) if pred is not None and said.assessable else ()
    return ResultView(
        name=result.name,
        location=str(result.path) if result.path else result.name,
        verdict=said,
        probabilities=ranked,
        highlight=pred.classes[pred.melanoma_index] if ranked and pred is not None else None,
        known=known,
    )


class DetailPane(QWidget):
    """Lays out and fills the result side of the main window; no behaviour of its own."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        em = self.fontMetrics().height()
        self._file_text = ""
        self.file_label = QLabel(self)
        self.file_label.setTextFormat(Qt.TextFormat.PlainText)
        self.file_label.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        self.file_label.setAccessibleName(texts.FILE)
        self.known_label = QLabel(self)  # a sample's known diagnosis, beside the result
        self.known_label.setWordWrap(True)
        self.known_label.setTextFormat(Qt.TextFormat.PlainText)
        self.known_label.setAccessibleName(texts.KNOWN_DIAGNOSIS_NAME)
        self.known_label.hide()
        self.alert_banner = AlertBanner(self)
        self.uncertain_banner = UncertainBanner(self)
        self.error_banner = Banner(self)
        self.error_banner.setAccessibleName(texts.IMAGE_ERROR_NAME)
        self.top_label = QLabel(texts.EMPTY_TITLE, self)
        self.top_label.setWordWrap(True)
        self.top_label.setTextFormat(Qt.TextFormat.PlainText)
        font = self.top_label.font()
        font.setPointSizeF(font.pointSizeF() * 1.6)
        font.setBold(True)
        self.top_label.setFont(font)
        self.top_label.setAccessibleName(texts.TOP_CLASS_NAME)
        self.melanoma_label = QLabel(self)
        self.melanoma_label.setWordWrap(True)
        self.melanoma_label.setAccessibleName(texts.MELANOMA_NAME)
        self.bars = ProbabilityBars(self)
        self.bars.hide()  # no empty, unlabelled bars before the first result
        self.bars_title = QLabel(texts.PROBABILITIES_TITLE, self)
        self.bars_title.hide()
        # What the verdict means (measured figures, what "no alert" misses) goes under the
        # bars: on a small screen the headline and the nine bars must fit without scrolling.
        self.notes = QLabel(self)
        self.notes.setWordWrap(True)
        self.notes.setTextFormat(Qt.TextFormat.PlainText)
        self.notes.setAccessibleName(texts.VERDICT_NOTES_NAME)
        self.notes.hide()
        self.empty_help = QLabel(texts.EMPTY_HELP, self)
        self.empty_help.setWordWrap(True)
        self.empty_help.setTextFormat(Qt.TextFormat.RichText)
        self.empty_help.setAccessibleName(texts.EMPTY_HELP_NAME)
        self.try_samples_button = QPushButton(texts.TRY_SAMPLE, self)
        self.try_samples_button.setSizePolicy(QSizePolicy.Policy.Maximum, QSizePolicy.Policy.Fixed)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(em // 2, 0, em // 2, 0)
        layout.setSpacing(em // 2)
        for widget in (
            self.file_label,
            self.known_label,
            self.alert_banner,
            self.uncertain_banner,
            self.error_banner,
            self.top_label,
            self.melanoma_label,
            self.empty_help,
            self.try_samples_button,
        ):
            layout.addWidget(widget)
        layout.addWidget(self.bars_title)
        layout.addWidget(self.bars)
        layout.addSpacing(em // 4)
        layout.addWidget(self.notes)
        layout.addStretch(1)

    # What the controller calls ------------------------------------------------------------
    def set_classes(self, classes: Sequence[str]) -> None:
        """The model's classes, so the bars have their rows before the first result."""
        self.bars.set_classes(classes)

    def set_empty(self, empty: bool) -> None:
        """Before the first image: say what to do instead of showing empty bars."""
        self.empty_help.setVisible(empty)
        self.try_samples_button.setVisible(empty)
        if empty:
            self._set(self.top_label, texts.EMPTY_TITLE)
            self._show_bars(False)

    def clear(self, headline: str = texts.CLASSIFYING) -> None:
        """No result (yet): banners, bars and file name gone, ``headline`` in their place."""
        for banner in (self.alert_banner, self.uncertain_banner, self.error_banner):
            banner.clear()
        self.bars.clear()
        self._show_bars(False)
        self.set_file_text("")
        self._set(self.known_label, "")
        self._set(self.top_label, headline)
        self._set(self.melanoma_label, "")
        self._set(self.notes, "")

    def show_result(self, view: ResultView) -> None:
        """Show one result (named ``show_result`` so QWidget.show keeps its meaning)."""
        self.clear()
        self.set_file_text(view.name, view.location)
        self._set(self.known_label, texts.known_diagnosis(view.known) if view.known else "")
        self._show_verdict(view.verdict)
        if view.probabilities:
            self.bars.set_probabilities(view.probabilities, highlight=view.highlight)
            self._show_bars(True)

    def set_file_text(self, text: str, tooltip: str = "") -> None:
        """File name, elided in the middle to fit (full path in the tooltip)."""
        self._file_text = text
        self.file_label.setToolTip(tooltip or text)
        self._elide_file_label()

    # Layout -------------------------------------------------------------------------------
    def _show_verdict(self, said: verdict.Verdict) -> None:
        """An alert leads in the red banner (headline and figures); "cannot assess" and
        "uncertain" use the uncertain banner; a plain result is the headline itself. What
        the verdict means goes under the bars, so the figures come first."""
        self.alert_banner.show_verdict(said)
        self.uncertain_banner.show_verdict(said)
        if said.level == verdict.ERROR:
            self.error_banner.show_message("error", said.headline, "\n".join(said.lines))
            self._set(self.top_label, said.detail)
        elif said.level == verdict.NO_ALERT:
            self._set(self.top_label, said.headline)
            self._set(self.melanoma_label, said.lines[-2] if len(said.lines) > 1 else "")
            self._set(self.notes, said.lines[-1])
        elif said.level == verdict.CANNOT_ASSESS:  # the banner says it all; no bars follow
            self._set(self.top_label, said.detail)
        else:  # an alert: the banner holds the headline and the figures
            self._set(self.top_label, "" if self.alert_banner.isVisibleTo(self) else said.detail)
            self._set(self.notes, "\n".join(said.lines))

    @staticmethod
    def _set(label: QLabel, text: str) -> None:
        """A label with no text takes no room (a small screen needs every line)."""
        label.setText(text)
        label.setVisible(bool(text))

    def _show_bars(self, on: bool) -> None:
        self.bars.setVisible(on)
        self.bars_title.setVisible(on)

    def _elide_file_label(self) -> None:
        width = max(40, self.file_label.width())
        self.file_label.setText(
            self.file_label.fontMetrics().elidedText(
                self._file_text, Qt.TextElideMode.ElideMiddle, width
            )
        )

    def resizeEvent(self, event) -> None:  # noqa: N802
        super().resizeEvent(event)
        self._elide_file_label()
