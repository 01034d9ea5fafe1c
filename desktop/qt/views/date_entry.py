"""A date field a clinician can type into: ISO (2025-11-20) or the locale's own form.

Why not ``QDateEdit``: it edits one section at a time, so select-all then typing
``2025-11-20`` stored 2026-11-20, Tab then typing gave 2024-12-20 and a triple-click
then typing changed nothing. This is a plain line edit whose whole text is parsed, with a
calendar button, and a line under it that says which day will be stored (or why none).
"""

from __future__ import annotations

import re
from datetime import date

from PySide6.QtCore import QDate, QLocale, Qt, Signal
from PySide6.QtWidgets import (
    QCalendarWidget,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QMenu,
    QToolButton,
    QVBoxLayout,
    QWidget,
    QWidgetAction,
)

from desktop.qt import history_texts, palette

ISO = re.compile(r"\s*(\d{4})-(\d{1,2})-(\d{1,2})\s*")
CENTURY_PIVOT = 1900  # Qt reads a two-digit year as 19yy; a visit is in this century


def _four_digit(fmt: str) -> str:
    """The locale's short format with a four-digit year (en_US 'M/d/yy' -> 'M/d/yyyy')."""
    return fmt if "yyyy" in fmt else fmt.replace("yy", "yyyy")


def parse_date(text: str, locale: QLocale) -> date | None:
    """The day ``text`` names: ISO first, then the locale's short and long forms; else None."""
    iso = ISO.fullmatch(text)
    if iso:
        try:
            return date(int(iso[1]), int(iso[2]), int(iso[3]))
        except ValueError:
            return None
    value = " ".join(text.split())
    if not value:
        return None
    short = locale.dateFormat(QLocale.FormatType.ShortFormat)
    long = locale.dateFormat(QLocale.FormatType.LongFormat)
    no_weekday = re.sub(r"d{4}[,.]?\s*", "", long).strip(" ,")  # "20 November 2025"
    for fmt in (_four_digit(short), short, long, no_weekday, "d MMMM yyyy", "d MMM yyyy"):
        qd = locale.toDate(value, fmt)
        if qd.isValid():
            if "yyyy" not in fmt and qd.year() < CENTURY_PIVOT + 100:
                qd = qd.addYears(100)
            return date(qd.year(), qd.month(), qd.day())
    return None


def long_date(day: date, locale: QLocale) -> str:
    """'20 November 2025': day, month name and year, never ambiguous."""
    return locale.toString(QDate(day.year, day.month, day.day), "d MMMM yyyy")


class DateEntry(QWidget):
    """Type a date (ISO or the locale's form) or pick it; :meth:`value` is the parsed day.

    ``optional`` lets the field be left empty (a next-review date); ``latest`` refuses
    later days (a photo cannot be from the future). The line below says what is stored.
    """

    dateChanged = Signal()

    def __init__(
        self,
        initial: date | None = None,
        parent: QWidget | None = None,
        *,
        optional: bool = False,
        latest: date | None = None,
    ) -> None:
        super().__init__(parent)
        self.optional, self.latest = optional, latest
        self.edit = QLineEdit(self)
        self.edit.setPlaceholderText(history_texts.date_placeholder(self._short_example()))
        self.edit.setClearButtonEnabled(optional)
        self.button = QToolButton(self)
        self.button.setText(history_texts.CALENDAR_BUTTON)
        self.button.setToolTip(history_texts.CALENDAR_TIP)
        self.button.setPopupMode(QToolButton.ToolButtonPopupMode.InstantPopup)
        self.calendar = QCalendarWidget(self)
        menu = QMenu(self.button)
        holder = QWidgetAction(menu)
        holder.setDefaultWidget(self.calendar)
        menu.addAction(holder)
        self.button.setMenu(menu)
        self.calendar.clicked.connect(self._picked)
        self.preview = QLabel(self)
        self.preview.setWordWrap(True)
        self.preview.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        row = QHBoxLayout()
        row.setContentsMargins(0, 0, 0, 0)
        row.addWidget(self.edit, 1)
        row.addWidget(self.button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(row)
        layout.addWidget(self.preview)
        self.edit.textChanged.connect(self._update)
        self.set_value(initial)
        self.setFocusProxy(self.edit)

    def _short_example(self) -> str:
        return self.locale().toString(QDate(2025, 11, 20), QLocale.FormatType.ShortFormat)

    # Value --------------------------------------------------------------------------------
    def value(self) -> date | None:
        """The day that will be stored; None when the text is empty or not a usable date."""
        day = parse_date(self.edit.text(), self.locale())
        if day is None or (self.latest is not None and day > self.latest):
            return None
        return day

    def iso(self) -> str:
        """What the store is given: ISO, '' when empty, the raw text when it is not a date
        (so the store's own check explains it)."""
        day = self.value()
        return day.isoformat() if day is not None else self.edit.text().strip()

    def set_value(self, day: date | None) -> None:
        self.edit.setText(day.isoformat() if day is not None else "")
        self._update()

    def is_acceptable(self) -> bool:
        return self.value() is not None or (self.optional and not self.edit.text().strip())

    # Feedback -----------------------------------------------------------------------------
    def _update(self) -> None:
        text = self.edit.text().strip()
        day = parse_date(text, self.locale())
        if not text:
            words, ok = (
                (history_texts.DATE_NONE if self.optional else history_texts.DATE_MISSING),
                self.optional,
            )
        elif day is None:
            words, ok = history_texts.date_not_understood(text, self._short_example()), False
        elif self.latest is not None and day > self.latest:
            words, ok = history_texts.date_in_future(long_date(day, self.locale())), False
        else:
            words, ok = history_texts.date_will_be_stored(long_date(day, self.locale())), True
        self.preview.setText(words)
        self.preview.setStyleSheet("" if ok else f"color: {palette.RED};")
        if day is not None:
            self.calendar.setSelectedDate(QDate(day.year, day.month, day.day))
        self.dateChanged.emit()

    def _picked(self, qd: QDate) -> None:
        self.set_value(date(qd.year(), qd.month(), qd.day()))
        menu = self.button.menu()
        if menu is not None:
            menu.hide()
        self.edit.setFocus()
