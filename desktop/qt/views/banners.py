"""Coloured banners: melanoma alert, uncertain or unassessable result, model problems.

Colour is never the only cue: each banner has an icon and a plain-words
title, so it reads the same for colour-blind users and on a greyscale print.
"""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QFrame, QHBoxLayout, QLabel, QStyle, QVBoxLayout, QWidget

from desktop.qt import palette, texts
from desktop.verdict import (
    ALERT,
    CANNOT_ASSESS,
    CAUTION,
    NO_ALERT,
    PRECANCEROUS,
    REFER,
    UNCERTAIN_HEADLINE,
    Verdict,
)

ICONS = {  # per banner kind; the colours are desktop.qt.palette.BANNER's
    "alert": QStyle.StandardPixmap.SP_MessageBoxCritical,
    "refer": QStyle.StandardPixmap.SP_MessageBoxWarning,
    "precancerous": QStyle.StandardPixmap.SP_MessageBoxWarning,
    "uncertain": QStyle.StandardPixmap.SP_MessageBoxQuestion,
    "error": QStyle.StandardPixmap.SP_MessageBoxCritical,
    "info": QStyle.StandardPixmap.SP_MessageBoxInformation,
}


class Banner(QFrame):
    """An icon, a bold title and a wrapped explanation on a coloured background."""

    def __init__(self, parent: QWidget | None = None, title_scale: float = 1.15) -> None:
        super().__init__(parent)
        self.kind = "none"
        self.setObjectName("banner")
        self._icon = QLabel(self)
        self._icon.setAlignment(Qt.AlignmentFlag.AlignTop)
        self._title = QLabel(self)
        self._title.setWordWrap(True)
        self._title.setTextFormat(Qt.TextFormat.PlainText)
        font = self._title.font()
        font.setBold(True)
        font.setPointSizeF(font.pointSizeF() * title_scale)
        self._title.setFont(font)
        self._body = QLabel(self)
        self._body.setWordWrap(True)
        self._body.setTextFormat(Qt.TextFormat.PlainText)
        self._body.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        text = QVBoxLayout()
        text.setSpacing(2)
        text.addWidget(self._title)
        text.addWidget(self._body)
        row = QHBoxLayout(self)
        em = self.fontMetrics().height()
        row.setContentsMargins(em * 2 // 3, em // 2, em * 2 // 3, em // 2)
        row.setSpacing(em * 2 // 3)
        row.addWidget(self._icon)
        row.addLayout(text, 1)
        self.hide()

    def show_message(self, kind: str, title: str, body: str = "") -> None:
        background, colour, border = palette.BANNER[kind]
        icon = ICONS[kind]
        self.kind = kind
        self.setStyleSheet(
            f"QFrame#banner {{ background-color: {background}; border: 2px solid {border};"
            f" border-radius: 6px; }} QFrame#banner QLabel {{ color: {colour};"
            " background: transparent; border: none; }"
        )
        size = int(self.fontMetrics().height() * 2.2)
        self._icon.setPixmap(self.style().standardIcon(icon).pixmap(size, size))
        self._title.setText(title)
        self._body.setText(body)
        self._body.setVisible(bool(body))
        self.setAccessibleName(title)
        self.setAccessibleDescription(body)
        self.show()

    def clear(self) -> None:
        self.kind = "none"
        self._title.setText("")
        self._body.setText("")
        self.hide()

    @property
    def title(self) -> str:
        return self._title.text()

    @property
    def body(self) -> str:
        return self._body.text()


class AlertBanner(Banner):
    """The verdict's banner: red for a possible melanoma, hidden otherwise.

    Its words come from :mod:`desktop.verdict`, the one place that phrases alerts.
    """

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent, title_scale=1.35)
        self.setAccessibleName(texts.ALERT_BANNER_NAME)
        self._level = "none"

    @property
    def level(self) -> str:
        """The verdict level last shown ('alert', 'no_alert', 'cannot_assess', 'error'), or 'none'."""
        return self._level

    def show_verdict(self, verdict: Verdict | None) -> None:
        if verdict is None:
            self.clear()
            return
        # The explanation goes under the bars (DetailPane.notes); melanoma's red leads.
        kind = {ALERT: "alert", REFER: "refer", PRECANCEROUS: "precancerous"}.get(verdict.level)
        if kind:
            self.show_message(kind, verdict.headline, verdict.detail)
        else:
            self.clear()
        self._level = verdict.level

    def clear(self) -> None:
        super().clear()
        self._level = "none"


class UncertainBanner(Banner):
    """Says that and why a result should not be relied on, or cannot be given at all."""

    def show_verdict(self, verdict: Verdict | None) -> None:
        if verdict is None:
            self.clear()
        elif verdict.level == CANNOT_ASSESS:
            self.show_message("uncertain", verdict.headline, "\n".join(verdict.lines))
        elif verdict.level == NO_ALERT and verdict.role == CAUTION:
            self.show_message("uncertain", UNCERTAIN_HEADLINE, verdict.lines[0])
        else:
            self.clear()  # an alert's own banner already says how sure it is
