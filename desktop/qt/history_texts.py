"""Window wording of the lesion history: Save to case, the case browser, the timeline,
follow-up (dates, decisions, histology, edits, reviews due) and the lesion timeline PDF.

Apart from :mod:`desktop.qt.texts` (the rest of the window's words) so that each stays a
size one can read; the rule is the same: every word these windows or PDFs show is here,
never inline in a view.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from desktop import APP_NAME, verdict
from desktop.qt.texts import MODEL

if TYPE_CHECKING:
    from desktop.history.stored import Outcome

# Lesion history: save to case, case browser, timeline ---------------------------------------
NOTHING_TO_SAVE = "Nothing to save: classify an image first."
NOT_CLASSIFIED = "could not be classified"
NO_IMAGE_TO_STORE = "this result has no image to store"
NO_VISIT = "No visit"
CANNOT_RECLASSIFY = "No model loaded: the visit cannot be re-classified."


def store_not_opened(error: object) -> str:
    return f"The case store cannot be opened: {error}"


def ask_delete(what_goes: str) -> str:
    return f"{what_goes}\n\nDelete?"


def saved_to_case(patient: str, lesion: str, visit_id: int) -> str:
    return f"Saved to case {patient} / {lesion} (visit {visit_id})."


def saved_images_to_case(count: int, patient: str, lesion: str) -> str:
    return f"Saved {count} image(s) to case {patient} / {lesion}."


def extra_not_classified(error: object) -> str:
    return f"The dropped images could not be classified: {error}"


def some_not_saved(failures: Sequence[str]) -> str:
    return "Some images were not saved:\n" + "\n".join(failures)


def deleted(what: str, files: int) -> str:
    return f"Deleted {what} and {files} image file(s)."


def export_folder_title(patient: str) -> str:
    return f"Export patient {patient} to an empty folder"


def export_failed(error: object) -> str:
    return f"The export failed: {error}"


def pdf_not_exported(error: object) -> str:
    return f"The data was exported but a PDF was not: {error}"


def exported(patient: str, folder: object) -> str:
    return f"Exported patient {patient} to {folder}"


def timeline_title(patient: str, lesion: str) -> str:
    return f"Lesion timeline \u2014 {patient} / {lesion}"


def timeline_heading(patient: str, lesion: str, site: str, visits: int) -> str:
    return f"Patient {patient} \u2014 lesion \u201c{lesion}\u201d ({site}), {visits} visit(s)"


def stored_image_not_shown(error: object) -> str:
    return f"The stored image cannot be shown: {error}"


def not_reclassified(error: object) -> str:
    return f"The stored image could not be classified again: {error}"


def reclassified(visit_id: int) -> str:
    return f"Visit {visit_id} re-classified; the earlier result is kept."


# Case browser, Save to case, timeline views -------------------------------------------------
EXPORT_PATIENT = "&Export patient\u2026"
PATIENT = "Patient"
LESION = "Lesion"
BODY_SITE = "Body site"
VISITS = "Visits"
SAVE_TO_CASE_TITLE = "Save to case"
PATIENT_ID = "Patient id"
PATIENT_ID_PLACEHOLDER = "pseudonymous id, e.g. P-0042 (no names)"
LESION_PLACEHOLDER = 'e.g. "left shoulder 1"'
DATE_TAKEN = "Date taken"
NOTE_PLACEHOLDER = "Clinician note for this visit (optional)"
IMAGES_TO_SAVE = "Images to save"
DROP_MORE_HINT = "Drop more photos of this lesion here to save them with the same date."
PATIENT_ID_ROW = "&Patient id:"
LESION_ROW = "&Lesion:"
BODY_SITE_ROW = "Body &site:"
DATE_TAKEN_ROW = "&Date taken:"
NOTE_ROW = "&Note:"
IMAGES_ROW = "Images:"
CASES_TITLE = "Cases"
SEARCH_PLACEHOLDER = "Search by patient id"
SEARCH_NAME = "Search patients"
PATIENTS = "Patients"
PATIENT_COLUMNS = (PATIENT, "Lesions", VISITS, "Last visit", "Alerts")
LESION_COLUMNS = (LESION, BODY_SITE, VISITS, "First", "Last", "Histology")
LESIONS_NAME = "Lesions of the selected patient"
OPEN_TIMELINE = "Open &timeline"
DELETE_PATIENT = "Delete &patient\u2026"
DELETE_LESION = "Delete &lesion\u2026"
TIMELINE_TITLE = "Lesion timeline"
EARLIER_VISIT = "Earlier visit"
LATER_VISIT = "Later visit"
LINK_ZOOM = "&Link zoom and pan"
VISIT_COLUMNS = ("Date", "Verdict", "Melanoma", MODEL, "Results", "Note")
RECLASSIFY = "&Re-classify with current model"
RECLASSIFY_TIP = (
    "Classify the right-hand visit again; its earlier result is kept beside the new one"
)
DELETE_VISIT = "&Delete visit\u2026"
PHOTO_ZOOM_TIP = (
    "Wheel or +/- to zoom, drag or arrow keys to pan, double-click for actual pixels or fit"
)
NO_RESULT = "no result"
NO_RESULT_STORED = "No result stored"
EARLIER_RESULT = "Earlier result: "
CHART_NAME = "Melanoma probability over visits"
CHART_AXIS = "melanoma probability per visit"
NO_VISITS_YET = "No visits yet"


def case_store(folder: object) -> str:
    return f"Case store: {folder}"


def patient_count(count: int) -> str:
    return f"{count} patient(s)"


def visit_choice(day: str, visit_id: int) -> str:
    """One entry of the timeline's visit pickers."""
    return f"{day} \u2014 visit {visit_id}"


def model_stamp(version: str, created: str) -> str:
    """Which model gave a stored result, and when."""
    return f"model {version}, {created}"


def note_line(note: str) -> str:
    return f"Note: {note}"


def zoom_factor(zoom: float) -> str:
    return f"{zoom:.1f}\u00d7"


# Follow-up: dates, decisions, histology, edits, reviews due -----------------------------------
CALENDAR_BUTTON = "\U0001f4c5"
CALENDAR_TIP = "Pick the day on a calendar"
DATE_NONE = "No date (leave empty for none)."
DATE_MISSING = "Type a date, e.g. 2025-11-20."


def date_placeholder(example: str) -> str:
    return f"2025-11-20 or {example}"


def date_will_be_stored(day: str) -> str:
    return f"Will be stored as {day}."


def date_not_understood(text: str, example: str) -> str:
    return f"\u201c{text}\u201d is not a date; type it as 2025-11-20 or {example}."


def date_in_future(day: str) -> str:
    return f"{day} is in the future; a photo cannot be taken then."


SIDE = "Side"
SIDE_ROW = "Si&de:"
SIDE_NONE = "not given"
DECISION_ROW = "Dec&ision:"
DECISION_NONE = "none yet"
NEXT_REVIEW_ROW = "Ne&xt review:"
OLDER_PHOTO = "This photo is older than the patient's first visit (store it anyway)"
NAME_WARNING = (
    "This looks like a person's name. Use a pseudonymous id (e.g. P-0042); it will be "
    "stored as typed."
)
DUE_TITLE = "Reviews due or overdue"
DUE_COLUMNS = ("Review", "Status", PATIENT, LESION, "Last visit", "Decision")
OPEN_DUE = "Open due &lesion"
EDIT_VISIT = "&Edit visit\u2026"
OUTCOME = "&Histology\u2026"
EDIT_VISIT_TITLE = "Edit visit"
OUTCOME_TITLE = "Histology outcome"
VISIT_ROW = "&Visit:"
DIAGNOSIS_ROW = "&Diagnosis:"
HISTOLOGY_DATE_ROW = "Histology &date:"
HISTOLOGY_NOTE = "Words of the histology report (say what, for \u201cother\u201d)"
EDIT_LOGGED = "Changes are logged with their old values."
NOTHING_CHANGED = "Nothing changed."


def due_status(days_over: int) -> str:
    if days_over > 0:
        return f"overdue {days_over} day(s)"
    return "due today" if days_over == 0 else f"due in {-days_over} day(s)"


def due_count(count: int) -> str:
    return f"{count} lesion(s) due for review within a week or overdue"


def visit_numbered(number: int, day: str) -> str:
    """A visit as people name it: its number in the lesion and its date (ids stay internal)."""
    return f"Visit {number} \u2014 {day}"


def edited(fields: Sequence[str]) -> str:
    return f"Changed {', '.join(fields)}; the old values are kept in the edit log."


def outcome_saved(lesion: str, diagnosis: str, day: str) -> str:
    return f"Histology of \u201c{lesion}\u201d recorded: {diagnosis} ({day})."


def outcome_cell(outcome: Outcome | None) -> str:
    return f"{outcome.diagnosis} ({outcome.date})" if outcome else "-"


def site_with_side(site: str, side: str) -> str:
    return f"{site}, {side}" if side else site


def chart_threshold(percent: float) -> str:
    """The chart's dashed line: where the alert starts."""
    return f"melanoma alert from {percent:.0f}{verdict.NBSP}%"


# Lesion timeline PDF (one per lesion in ``history export``) ---------------------------------
LESION_PDF_HEADING = f"{APP_NAME} \u2014 lesion timeline"
LESION_PDF_DISCLAIMER = (
    f"{APP_NAME} is a decision aid, not a diagnosis. Each result estimates how similar one "
    "dermoscopy image is to images of known lesion classes; it can be wrong and it has not "
    "seen the patient. Change between visits must be judged by a qualified clinician."
)


def lesion_pdf_title(patient: str, lesion: str) -> str:
    """The PDF's document title (shown by PDF viewers)."""
    return f"{APP_NAME} lesion timeline: {patient} / {lesion}"


def lesion_pdf_subject(patient: str, lesion: str, site: str, visits: int) -> str:
    return (
        f"Patient {patient}   \u2022   lesion \u201c{lesion}\u201d   \u2022   "
        f"body site: {site}   \u2022   {visits} visit(s)"
    )


def lesion_note(note: str) -> str:
    return f"Lesion note: {note}"


def pdf_result_line(headline: str, melanoma: str, version: str, sha: str, created: str) -> str:
    return f"{headline} \u2014 {melanoma} (model {version}, {sha}, {created})"


def pdf_visit_heading(day: str, visit_id: int) -> str:
    return f"{day}   (visit {visit_id})"


def pdf_image_id(sha: str) -> str:
    """The stored image by the start of its fingerprint."""
    return f"Image {sha}\u2026"


def photos_in_quarantine(count: int) -> str:
    """Photos found without their visit at start-up (moved, never deleted)."""
    return (
        f"{count} stored photo(s) have no visit in the case database; they were kept in "
        "quarantine/. Run 'lesionlens history recover' to bring them back as visits."
    )


def store_read_only(reason: str) -> str:
    return f"Case store open for reading only: {reason}"
