"""Follow-up in the window: the date field driven by keys, Save to case with a decision and a
review date, the due list, the visit editor, histology and the delete question (pytest-qt)."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from PySide6.QtCore import QLocale, Qt
from PySide6.QtWidgets import QDialogButtonBox, QLineEdit, QVBoxLayout, QWidget

from desktop.history.service import History
from desktop.history.store import Store
from desktop.qt.views.date_entry import DateEntry, parse_date
from desktop.results import classify_path
from tests.fakes import FakeClassifier, write_images
from tests.history_helpers import MODEL, TIMEOUT, classify_in_window

GB = QLocale(QLocale.Language.English, QLocale.Country.UnitedKingdom)
US = QLocale(QLocale.Language.English, QLocale.Country.UnitedStates)


def entry_in_form(qtbot, locale: QLocale = GB) -> tuple[QWidget, QLineEdit, DateEntry]:
    form = QWidget()
    form.setLocale(locale)
    before = QLineEdit(form)
    entry = DateEntry(date(2024, 1, 1), form, latest=date.today())
    layout = QVBoxLayout(form)
    layout.addWidget(before)
    layout.addWidget(entry)
    qtbot.addWidget(form)
    form.show()
    qtbot.waitExposed(form)
    form.activateWindow()
    return form, before, entry


def type_over(qtbot, edit: QLineEdit, text: str) -> None:
    """Select everything with Ctrl+A, then type, as a user would."""
    edit.setFocus()
    qtbot.keyClick(edit, Qt.Key.Key_A, Qt.KeyboardModifier.ControlModifier)
    qtbot.keyClicks(edit, text)


def test_select_all_then_typing_iso_stores_that_day(qtbot):
    _form, _before, entry = entry_in_form(qtbot)
    type_over(qtbot, entry.edit, "2025-11-20")
    assert entry.iso() == "2025-11-20"
    assert entry.preview.text() == "Will be stored as 20 November 2025."


def test_tab_into_the_field_then_typing_replaces_the_whole_date(qtbot):
    _form, before, entry = entry_in_form(qtbot)
    before.setFocus()
    qtbot.waitUntil(before.hasFocus, timeout=TIMEOUT)
    qtbot.keyClick(before, Qt.Key.Key_Tab)
    qtbot.waitUntil(entry.edit.hasFocus, timeout=TIMEOUT)
    qtbot.keyClicks(entry.edit, "2025-11-20")
    assert entry.value() == date(2025, 11, 20)


@pytest.mark.parametrize(
    ("locale", "typed"),
    [(GB, "20/11/2025"), (US, "11/20/2025"), (US, "11/20/25"), (GB, "20 November 2025")],
)
def test_the_locale_form_is_understood(qtbot, locale, typed):
    _form, _before, entry = entry_in_form(qtbot, locale)
    type_over(qtbot, entry.edit, typed)
    assert entry.value() == date(2025, 11, 20), entry.preview.text()
    assert "20 November 2025" in entry.preview.text()


def test_what_is_not_a_date_or_is_in_the_future_is_said_and_not_stored(qtbot):
    _form, _before, entry = entry_in_form(qtbot)
    type_over(qtbot, entry.edit, "2025-13-01")
    assert entry.value() is None and "is not a date" in entry.preview.text()
    assert not entry.is_acceptable()
    tomorrow = date.today() + timedelta(days=1)
    type_over(qtbot, entry.edit, tomorrow.isoformat())
    assert entry.value() is None and "in the future" in entry.preview.text()
    assert parse_date("2025-02-30", GB) is None


def test_calendar_pick_fills_the_field(qtbot):
    _form, _before, entry = entry_in_form(qtbot)
    entry.calendar.clicked.emit(entry.calendar.selectedDate().addDays(3))
    assert entry.value() == date(2024, 1, 4)


def test_save_to_case_stores_the_typed_date_decision_and_review(qtbot, window, data, tmp_path):
    _, controller = window
    (img,) = write_images(tmp_path / "new", ["today.png"])
    classify_in_window(qtbot, controller, img)
    dialog = controller.history.save_to_case()
    dialog.patient_edit.setEditText("Anna Smith")
    assert dialog.name_warning.isVisibleTo(dialog)
    dialog.patient_edit.setEditText("P-0042")
    assert not dialog.name_warning.isVisibleTo(dialog)
    dialog.lesion_edit.setEditText("left calf")
    dialog.side_combo.setCurrentIndex(dialog.side_combo.findData("left"))
    type_over(qtbot, dialog.date_edit.edit, "2025-11-20")
    dialog.decision_combo.setCurrentIndex(dialog.decision_combo.findData("monitor"))
    type_over(qtbot, dialog.review_edit.edit, "2026-02-20")
    dialog.buttons.button(QDialogButtonBox.StandardButton.Save).click()
    assert not dialog.isVisible(), dialog.error_label.text()
    with Store.open(data) as store:
        (lesion,) = History(store).show("P-0042")["lesions"]
    (visit,) = lesion["visits"]
    assert (visit["date"], visit["decision"], visit["next_review"]) == (
        "2025-11-20",
        "monitor",
        "2026-02-20",
    )
    assert lesion["laterality"] == "left"


def seed(data, tmp_path) -> dict:
    files = write_images(tmp_path / "seed", ["a.png", "b.png"])
    overdue = (date.today() - timedelta(days=4)).isoformat()
    with Store.open(data) as store:
        history = History(store)
        for i, (f, taken) in enumerate(zip(files, ("2025-01-10", "2025-03-10"), strict=True)):
            history.add_visit(
                "P1", "back", f, classify_path(FakeClassifier(), f), MODEL, taken=taken,
                note=f"note {i + 1}", decision="monitor", next_review=overdue if i else None,
            )  # fmt: skip
        return history.show("P1")


def test_browser_lists_due_reviews_and_edits_a_visit_with_a_log(qtbot, window, data, tmp_path):
    _, controller = window
    seed(data, tmp_path)
    cases = controller.history
    browser = cases.open_cases()
    assert browser.due.rowCount() == 1 and browser.due.isVisibleTo(browser)
    assert browser.due.text(0, 1) == "overdue 4 day(s)" and browser.due.text(0, 3) == "back"
    browser.edit_visit_button.click()
    dialog = cases.follow_up.edit_dialog
    assert dialog is not None and dialog.visit().number == 2
    dialog.select_visit(dialog.lesion.visits[0].id)
    type_over(qtbot, dialog.date_edit.edit, "2025-01-12")
    dialog.note_edit.setPlainText("rim darker")
    dialog.buttons.button(QDialogButtonBox.StandardButton.Save).click()
    assert not dialog.isVisible(), dialog.error_label.text()
    with Store.open(data) as store:
        first = History(store).show("P1")["lesions"][0]["visits"][0]
    assert (first["date"], first["note"]) == ("2025-01-12", "rim darker")
    assert {e["field"]: e["old"] for e in first["edits"]} == {
        "date": "2025-01-10",
        "note": "note 1",
    }

    browser.outcome_button.click()
    outcome = cases.follow_up.outcome_dialog
    outcome.diagnosis_combo.setCurrentText("nevus")
    type_over(qtbot, outcome.date_edit.edit, "2025-03-20")
    outcome.buttons.button(QDialogButtonBox.StandardButton.Save).click()
    assert not outcome.isVisible(), outcome.error_label.text()
    assert browser.due.rowCount() == 0  # histology closes the follow-up
    assert browser.lesions.text(0, 5) == "nevus (2025-03-20)"


def test_an_edit_to_a_future_date_is_refused_in_the_dialog(qtbot, window, data, tmp_path):
    _, controller = window
    case = seed(data, tmp_path)
    dialog = controller.history.follow_up.edit_visit(case["lesions"][0]["id"])
    type_over(qtbot, dialog.date_edit.edit, (date.today() + timedelta(days=2)).isoformat())
    dialog.buttons.button(QDialogButtonBox.StandardButton.Save).click()
    assert dialog.isVisible() and "future" in dialog.error_label.text()
    dialog.reject()


def test_delete_question_names_the_visit_date_and_shows_its_photo(qtbot, window, data, tmp_path):
    _, controller = window
    case = seed(data, tmp_path)
    cases = controller.history
    asked = []
    cases.confirm = lambda text: asked.append((text, cases.confirm_thumbnail)) or False
    assert not cases.delete("P1", visit_id=case["lesions"][0]["visits"][1]["id"])
    text, thumbnail = asked[0]
    assert "visit 2 of 2025-03-10" in text
    assert thumbnail is not None and not thumbnail.isNull()
