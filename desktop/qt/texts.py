"""Every piece of window wording that is not about alerts or uncertainty, in one place.

Alert, uncertainty and "cannot assess" wording is a safety property and lives in
:mod:`desktop.verdict`, shared with the PDF and the command line; this module holds
the rest (menus, empty state, batch summary, heat-map and zoom controls, model card
labels) so it can be reviewed and translated in one file.
"""

from __future__ import annotations

from collections.abc import Sequence

from desktop import APP_NAME

# Window and empty state ----------------------------------------------------------------------
DISCLAIMER = (
    "Decision aid, not a diagnosis \u2014 every result must be interpreted by a qualified "
    "clinician together with the history and examination."
)
IMAGE_PLACEHOLDER = "Drop a dermoscopy image here"
IMAGE_VIEW_NAME = "Lesion image"
EMPTY_TITLE = "No image yet"
EMPTY_HELP = (
    "<p><b>To classify a lesion:</b></p>"
    "<ul style='margin-left:0; -qt-list-indent:1'>"
    "<li>drop a dermoscopy photo (or several, or a folder) anywhere on this window,</li>"
    "<li>or use <b>File \u25b8 Open\u2026</b> (Ctrl+O),</li>"
    "<li>or paste an image with Ctrl+V.</li>"
    "</ul>"
    f"<p>New to {APP_NAME}? Try <b>File \u25b8 Samples</b>: shipped example images with known "
    "diagnoses.</p>"
)
TRY_SAMPLE = "Try the sample images"
NO_MODEL_MESSAGE = "No model loaded: classification is unavailable."
PASTED_IMAGE = "Pasted image"
DROPPED_IMAGE = "Dropped image"


# Model state -------------------------------------------------------------------------------
NO_MODEL_STATUS = "No model loaded"
MODEL_LOAD_FAILED = "The model could not be loaded \u2014 images cannot be classified"
NO_MODEL_CANNOT_CLASSIFY = "No model loaded: images cannot be classified."


def model_status(name: str) -> str:
    return f"Model: {name}"


def model_load_failed_detail(reason: str | None) -> str:
    """What went wrong and who can fix it (the clinician cannot)."""
    return (
        f"{reason or 'No model was found.'}\n"
        f"Reinstall {APP_NAME} or ask your IT support to restore the model files "
        "(model.tflite and model.json)."
    )


# Opening and classifying -------------------------------------------------------------------
OPEN_IMAGES_TITLE = "Open images"
OPEN_FOLDER_TITLE = "Open a folder of images"
UNREADABLE_IMAGE = "That image could not be read."
CLIPBOARD_EMPTY = "The clipboard holds no image to classify."
CANCELLING = "Cancelling\u2026"
CLASSIFYING = "Classifying\u2026"
NO_IMAGE = "No image"
NO_IMAGE_TO_SHOW = "No image to show."  # the reason is in the banner, once
LOADING_IMAGE = "Loading image\u2026"
IMAGE_NOT_SHOWN = "The image cannot be shown."


def image_file_filter(extensions: list[str]) -> str:
    patterns = " ".join(f"*{e}" for e in extensions)
    return f"Images ({patterns});;All files (*)"


def classifying(label: str) -> str:
    return f"Classifying {label}\u2026"


def no_images_found(extensions: list[str]) -> str:
    return "No images found there.\nSupported: " + ", ".join(extensions)


def classification_stopped(reason: str) -> str:
    return f"Classification stopped: {reason}"


def inference_time(ms: float) -> str:
    """One decimal below 10 ms, whole milliseconds above (noise, not precision)."""
    return f"Inference {ms:.1f} ms" if ms < 10 else f"Inference {ms:.0f} ms"


def window_title(label: str = "") -> str:
    """'LesionLens — x.jpg' (the app name once; Qt adds nothing since no display name is set)."""
    return f"{APP_NAME} \u2014 {label}" if label else APP_NAME


# Menus and actions -------------------------------------------------------------------------
RECENT_MENU = "Open &recent"
NO_RECENT = "No recent files"
CLEAR_RECENT = "&Clear recent files"
SAMPLES_MENU = "Sa&mples"
NO_SAMPLES = "No sample images installed"
OPEN_ALL_SAMPLES = "Open all samples"
ZOOM_IN = "Zoom &in"
ZOOM_OUT = "Zoom &out"
ZOOM_FIT = "&Fit to window"
ZOOM_ACTUAL = "&Actual pixels (1:1)"
ZOOM_FIT_SHORT = "Fit"
ZOOM_ACTUAL_SHORT = "1:1"
ZOOM_TIP = "Wheel to zoom, drag to pan, double-click for actual pixels"


def zoom_label(percent: float, fitting: bool) -> str:
    return f"{percent:.0f} %" + (" (fit)" if fitting else "")


# Result pane -------------------------------------------------------------------------------
PROBABILITIES_TITLE = "<b>Probability of each class</b>"


# Heat-map ----------------------------------------------------------------------------------
HEATMAP_TOGGLE = "&Heat-map of"
HEATMAP_TOGGLE_TIP = "Overlay where the model looked for the chosen class (H)"
HEATMAP_CLASS_NAME = "Heat-map class"
HEATMAP_CLASS_TIP = "Which class's evidence the heat-map shows"
OPACITY = "Opacity"
OPACITY_TIP = "How strongly the heat-map covers the photo"
LEGEND_LOW = "Attention: low"
LEGEND_HIGH = "high"
HEATMAP_NOTE = (
    "The heat-map shows which regions drove the chosen class's score; it is not a lesion border."
)
HEATMAP_ACTION = "Show &heat-map"
HEATMAP_ACTION_TIP = "Overlay the class-activation map"


def heatmap_class_item(name: str, probability: float) -> str:
    return f"{name} ({probability:.0%})"


# Batch -------------------------------------------------------------------------------------
def batch_status(
    classified: int, planned: int, unreadable: int, seconds: float, cancelled: bool
) -> str:
    """Status bar line: 'Classified 5 of 6 images in 1.2 s; 1 could not be read'."""
    verb = "Cancelled after classifying" if cancelled else "Classified"
    text = f"{verb} {classified} of {planned} images in {seconds:.1f} s"
    if unreadable:
        text += f"; {unreadable} could not be read"
    return text


def batch_summary(
    classified: int, planned: int, unreadable: int, state: str, alerts: int, watch: int
) -> str:
    """The line above the table (rich text); counts of alerts come from the verdict levels."""
    text = f"<b>Classified {classified} of {planned} images</b>"
    if unreadable:
        text += f"; {unreadable} could not be read"
    text += f" ({state})"
    if alerts:
        text += (
            f" \u2014 <span style='color:#b71c1c'><b>{alerts} melanoma "
            f"alert{'s' if alerts != 1 else ''}</b></span>"
        )
    if watch:
        text += f" \u2014 {watch} to watch"
    return text


BATCH_RUNNING = "classifying\u2026"
BATCH_DONE = "done"
BATCH_CANCELLED = "cancelled"
COLUMNS = ("", "File", "Top class", "Probability", "Melanoma", "Alert")
COLUMN_TIPS = (
    "Thumbnail",
    "File name",
    "Most likely class",
    "Probability of the most likely class",
    "Probability of melanoma",
    "Melanoma alert level",
)
EXPORT_CSV = "Export CSV\u2026"
EXPORT_CSV_TIP = "Save this table as a CSV file (Ctrl+E)"

# Saving ------------------------------------------------------------------------------------
SAVE_REPORT_TITLE = "Save report"
PDF_FILTER = "PDF (*.pdf)"
NOTHING_TO_REPORT = "Nothing to report: open an image first."
EXPORT_TABLE_TITLE = "Export table"
CSV_FILTER = "CSV (*.csv)"
NO_BATCH_TO_EXPORT = "No batch to export."


def report_not_saved(error: object) -> str:
    return f"The report could not be saved: {error}"


def report_saved(path: object) -> str:
    return f"Report saved: {path}"


def table_not_saved(error: object) -> str:
    return f"The table could not be saved: {error}"


def table_exported(rows: int, path: object) -> str:
    return f"Exported {rows} rows to {path}"


# Model card dialog -------------------------------------------------------------------------
# Plain words for the card's metric keys; a key not listed here is shown with its underscores
# turned into spaces. Fractions are shown as percentages.
METRIC_LABELS = {
    "measured_on": "Measured on",
    "model": "Model measured",
    "images": "Test images",
    "accuracy": "Top class correct",
    "balanced_accuracy": "Top class correct, averaged over classes (balanced accuracy)",
    "macro_f1": "Average F1 score over classes",
    "macro_roc_auc": "How well it ranks each class above the others (ROC AUC)",
    "melanoma_sensitivity": "Melanomas that raise the alert (sensitivity)",
    "melanoma_specificity": "Non-melanomas that do not raise the alert (specificity)",
    "melanoma_roc_auc": "How well it ranks melanoma above other lesions (ROC AUC)",
    "ece_before_temperature": "Calibration error before correction (lower is better)",
    "ece_after_temperature": "Calibration error: stated vs. observed probability (lower is better)",
    "ece_sampling_floor": "Calibration error even a perfect model would show on this many images",
    "float_accuracy": "Top class correct, full-precision model",
    "quantized_top1_agreement": "Same answer as the full-precision model",
    "per_class_recall": "How often each class is recognised",
    "melanoma_by_source": "Melanoma alert by image archive",
    "out_of_source": "On images from an archive not used for training",
    "test_split": "On the data set's own test images",
    "melanomas": "Melanomas among them",
    "sensitivity": "Melanomas that raise the alert",
    "specificity": "Non-melanomas that do not raise the alert",
    "roc_auc": "Ranking of melanoma above other lesions (ROC AUC)",
}
METRIC_VALUES = {
    "internal_test": "held-out test images (never used for training or tuning)",
    "int8": "the compact model this app runs",
    "float": "the full-precision model",
}
PERCENT_METRICS = {
    "accuracy",
    "balanced_accuracy",
    "melanoma_sensitivity",
    "melanoma_specificity",
    "float_accuracy",
    "quantized_top1_agreement",
    "per_class_recall",
    "sensitivity",
    "specificity",
}
TRAINING_DATA_LABELS = {
    "images": "Images",
    "per_class": "Images per class",
    "duplicate_groups": "Groups of duplicate images (kept once)",
    "conflicting_label_groups": "Images filed under two classes (left out)",
    "split": "How the images were divided",
    "augmented_samples": "Extra training images made by augmentation",
    "content_sha256": "Data fingerprint",
    "name": "Name",
    "licence": "Licence",
    "license": "Licence",
}
SPLIT_LABELS = {
    "train": "For training",
    "val": "For choosing settings (validation)",
    "internal_test": "Held out for testing",
    "test": "Separate test set",
}
CARD_TITLE = f"About {APP_NAME} / Model card"


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
