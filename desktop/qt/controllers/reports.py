"""What a clinic files: the clinician's name on every report (Edit ▸ Settings ▸ Clinician
name, kept in QSettings), the capture date of a photo, and File ▸ Save batch report.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import TYPE_CHECKING

from PIL import Image, UnidentifiedImageError
from PySide6.QtCore import QObject, QSettings
from PySide6.QtWidgets import QInputDialog, QLineEdit, QMessageBox

from desktop import APP_NAME
from desktop.qt import followup_texts as words
from desktop.qt import texts
from desktop.qt.batch_report import write_batch_report
from desktop.qt.report import ReportError, ReportSubject

if TYPE_CHECKING:  # the main controller imports this module
    from desktop.qt.controllers.main import MainController

CLINICIAN_KEY = "reports/clinician"
EXIF_IFD, DATE_TAKEN = 0x8769, 36867  # Exif sub-IFD; DateTimeOriginal


def clinician_name(settings: QSettings) -> str:
    return " ".join(str(settings.value(CLINICIAN_KEY, "") or "").split())


def capture_date(path: Path | None) -> str:
    """The day the photo was taken (EXIF DateTimeOriginal) as YYYY-MM-DD; "" when unknown
    (a blank to fill in beats a file date that may be the day it was copied)."""
    if path is None:
        return ""
    try:
        with Image.open(path) as img:
            taken = img.getexif().get_ifd(EXIF_IFD).get(DATE_TAKEN)
    except (OSError, UnidentifiedImageError, ValueError):
        return ""
    found = re.match(r"(\d{4})[:-](\d{2})[:-](\d{2})", str(taken or ""))
    return "-".join(found.groups()) if found else ""


class ReportController(QObject):
    """Wires the window's clinician and batch-report actions."""

    def __init__(self, main: MainController) -> None:
        super().__init__(main)
        self.main = main
        main.window.clinician_action.triggered.connect(lambda _=False: self.ask_clinician())
        main.window.save_batch_report_action.triggered.connect(
            lambda _=False: self.save_batch_report()
        )

    @property
    def clinician(self) -> str:
        return clinician_name(self.main.settings)

    def set_clinician(self, name: str) -> None:
        name = " ".join(name.split())
        self.main.settings.setValue(CLINICIAN_KEY, name)
        self.main.window.say(words.clinician_saved(name), 5000)

    def ask_clinician(self) -> str | None:
        name, ok = QInputDialog.getText(
            self.main.window,
            words.CLINICIAN_TITLE,
            words.CLINICIAN_PROMPT,
            QLineEdit.EchoMode.Normal,
            self.clinician,
        )
        if not ok:
            return None
        self.set_clinician(name)
        return self.clinician

    def subject(self, path: Path | None) -> ReportSubject:
        """What the one-image report knows of its subject: the capture date, if any."""
        return ReportSubject(captured=capture_date(path))

    def save_batch_report(self, path: str | os.PathLike[str] | None = None) -> Path | None:
        main, w = self.main, self.main.window
        results = w.batch_panel.results_in_view_order()
        if not results or main.classifier is None:
            w.say(words.NO_BATCH_TO_REPORT, 5000)
            return None
        if path is None:
            path = main.ask_save_path(
                words.SAVE_BATCH_REPORT_TITLE, "lesionlens-batch-report.pdf", texts.PDF_FILTER
            )
            if not path:
                return None
        try:
            out = write_batch_report(path, results, main.classifier.card, self.clinician)
        except (ReportError, OSError) as exc:
            QMessageBox.warning(w, APP_NAME, texts.report_not_saved(exc))
            return None
        w.say(words.batch_report_saved(out), 8000)
        return out
