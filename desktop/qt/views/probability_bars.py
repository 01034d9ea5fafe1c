"""One horizontal bar per class, most likely first, with percentages that add up to 100
(:func:`desktop.verdict.shown_percents`: a class given any chance reads "under 0.1 %")."""

from __future__ import annotations

from collections.abc import Sequence

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QGridLayout, QLabel, QProgressBar, QSizePolicy, QWidget

from desktop import verdict
from desktop.qt import palette, texts
from desktop.verdict import class_name, percent

BAR_STEPS = 1000


class ProbabilityBars(QWidget):
    """Rows are positions, not classes: each update writes the ranked list into them.

    Built from plain labels and progress bars so screen readers can read them
    and so they scale with the system font at 125-200 %.
    """

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._grid = QGridLayout(self)
        self._grid.setContentsMargins(0, 0, 0, 0)
        self._grid.setHorizontalSpacing(self.fontMetrics().height() // 2)
        self._grid.setVerticalSpacing(self.fontMetrics().height() // 4)
        self._grid.setColumnStretch(1, 1)
        self._rows: list[tuple[QLabel, QProgressBar, QLabel]] = []
        self._shown: list[tuple[str, float]] = []
        self.setAccessibleName(texts.BARS_NAME)

    def set_classes(self, classes: Sequence[str]) -> None:
        """Create one row per class of the card (the card decides how many)."""
        for name, bar, pct in self._rows:
            for w in (name, bar, pct):
                self._grid.removeWidget(w)
                w.deleteLater()
        self._rows = []
        bar_height = max(8, self.fontMetrics().height() * 3 // 4)
        for i in range(len(classes)):
            name = QLabel(self)
            bar = QProgressBar(self)
            bar.setRange(0, BAR_STEPS)
            bar.setTextVisible(False)
            bar.setFixedHeight(bar_height)
            bar.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
            pct = QLabel(self)
            pct.setAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
            widest = max(self.fontMetrics().horizontalAdvance(percent(x, 1)) for x in (1.0, 1e-9))
            pct.setMinimumWidth(widest + 4)  # '100.0 %' or 'under 0.1 %'; columns do not jump
            self._grid.addWidget(name, i, 0)
            self._grid.addWidget(bar, i, 1)
            self._grid.addWidget(pct, i, 2)
            self._rows.append((name, bar, pct))
        self.clear()

    def clear(self) -> None:
        self._shown = []
        for name, bar, pct in self._rows:
            name.setText("")
            bar.setValue(0)
            pct.setText("")
            bar.setAccessibleName("")

    def set_probabilities(
        self, ranked: Sequence[tuple[str, float]], highlight: str | None = None
    ) -> None:
        """Show (class, probability) pairs, most likely first; ``highlight`` is drawn red."""
        if len(ranked) != len(self._rows):
            self.set_classes([c for c, _ in ranked])
        percents = verdict.display_percentages([p for _, p in ranked])
        words = verdict.shown_percents([p for _, p in ranked])
        self._shown = []
        for i, ((cls, _), pc, word, (name, bar, pct)) in enumerate(
            zip(ranked, percents, words, self._rows, strict=True)
        ):
            special = cls == highlight
            label = class_name(cls)
            name.setText(f"<b>{label}</b>" if i == 0 or special else label)
            bar.setValue(round(pc / 100 * BAR_STEPS))
            colour = palette.MELANOMA_BAR if special else palette.OTHER_BAR
            bar.setStyleSheet(f"QProgressBar::chunk {{ background-color: {colour}; }}")
            pct.setText(word)
            bar.setAccessibleName(texts.bar_name(label, word))
            self._shown.append((cls, pc))

    def shown(self) -> list[tuple[str, float]]:
        """The (class, percentage) pairs as displayed, top to bottom."""
        return list(self._shown)

    def row_texts(self) -> list[tuple[str, str]]:
        return [(name.text(), pct.text()) for name, _, pct in self._rows]
