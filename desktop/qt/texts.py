"""Every piece of window wording that is not about alerts or uncertainty, in one place.

Alert, uncertainty and "cannot assess" wording is a safety property and lives in
:mod:`desktop.verdict`, shared with the PDF and the command line; this module holds
the rest (main window menus, actions and empty state, batch summary, heat-map and zoom
controls, the model card dialog, the case history dialogs and timeline, and the labels
of both PDFs) so it can be reviewed and translated in one file.
"""

from __future__ import annotations

from datetime import datetime

from desktop import APP_NAME, verdict
from desktop.qt import palette

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


# Main window actions and menus -------------------------------------------------------------
FILE_MENU = "&File"
EDIT_MENU = "&Edit"
VIEW_MENU = "&View"
HELP_MENU = "&Help"
OPEN = "&Open\u2026"  # its status tip is OPEN_IMAGES_TITLE
OPEN_FOLDER = "Open &folder\u2026"
OPEN_FOLDER_TIP = "Classify every image in a folder"
PASTE = "&Paste image"
PASTE_TIP = "Classify the image on the clipboard"
SAVE_REPORT = "&Save report (PDF)\u2026"
SAVE_REPORT_TIP = "One-page PDF report"
EXPORT_TABLE = "&Export table (CSV)\u2026"
EXPORT_TABLE_TIP = "Batch table as CSV"
SAVE_TO_CASE = "Save to &case\u2026"
SAVE_TO_CASE_TIP = "Keep this result in a lesion's history"
CASES = "Ca&ses\u2026"
CASES_TIP = "Patients, lesions and timelines"
QUIT = "&Quit"
CANCEL_BATCH = "&Cancel batch"
MODEL_CARD = "&About / Model card\u2026"
CANCEL = "Cancel"
CANCEL_TIP = "Stop the batch (Esc)"
DISCLAIMER_NAME = "Disclaimer"
MODEL_BANNER_NAME = "Model status"
RECENT_MENU = "Open &recent"
NO_RECENT = "No recent files"
CLEAR_RECENT = "&Clear recent files"


def recent_gone(name: str) -> str:
    return f"{name} can no longer be read (moved, deleted or no access); removed from the list."


SAMPLES_MENU = "Sa&mples"
NO_SAMPLES = "No sample images installed"
OPEN_ALL_SAMPLES = "Open all samples"
KNOWN_DIAGNOSIS_NAME = "Known diagnosis of this sample"


def sample_item(name: str, diagnosis: str | None) -> str:
    """A Samples menu entry: the file and, when known, what it is."""
    return f"{name} \u2014 known: {diagnosis}" if diagnosis else name


def known_diagnosis(diagnosis: str) -> str:
    """Beside a sample's result, so the answer can be compared with the truth."""
    return f"Sample image \u2014 known diagnosis: {verdict.class_name(diagnosis)} (data-set label)"


ZOOM_IN = "Zoom &in"
ZOOM_OUT = "Zoom &out"
ZOOM_FIT = "&Fit to window"
ZOOM_ACTUAL = "&Actual pixels (1:1)"
ZOOM_IN_SHORT = "+"
ZOOM_OUT_SHORT = "\u2212"
ZOOM_FIT_SHORT = "Fit"
ZOOM_ACTUAL_SHORT = "1:1"
ZOOM_TIP = "Wheel to zoom, drag to pan, double-click for actual pixels"


def zoom_label(percent: float, fitting: bool) -> str:
    return f"{percent:.0f}{verdict.NBSP}%" + (" (fit)" if fitting else "")


def shortcut_tip(name: str, keys: str) -> str:
    """A button's tooltip: what it does and its key, 'Zoom in (Ctrl++)'."""
    return f"{name} ({keys})"


# Result pane -------------------------------------------------------------------------------
PROBABILITIES_TITLE = "<b>Probability of each class</b>"
FILE = "File"
IMAGE_ERROR_NAME = "Image error"
TOP_CLASS_NAME = "Most likely class"
MELANOMA_NAME = "Melanoma probability"
EMPTY_HELP_NAME = "How to start"
ALERT_BANNER_NAME = "Melanoma alert"
BARS_NAME = "Class probabilities"
VERDICT_NOTES_NAME = "What the result means"


def bar_name(label: str, percent: float) -> str:
    """What a screen reader says for one bar ('Nevus 81.2 percent')."""
    return f"{label} {percent:.1f} percent"


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
HEATMAP_FRAME_NOTE = (
    "The model saw only the centre square of this photo (framed in white when the heat-map "
    "is on); the parts outside it were not analysed."
)
HEATMAP_ACTION = "Show &heat-map"
HEATMAP_ACTION_TIP = "Overlay the class-activation map"


def no_heatmap(name: str, probability: float) -> str:
    """Why a class nearly ruled out gets no map: its map would be noise drawn as evidence."""
    return (
        f"No heat-map for {name}: the model gives it {verdict.percent(probability)}, so there "
        "is no evidence to show."
    )


def heatmap_class_item(name: str, probability: float) -> str:
    return f"{name} ({verdict.percent(probability)})"


# Batch -------------------------------------------------------------------------------------
def _not_assessed(cannot_assess: int, unreadable: int) -> str:
    """Images that got no class, by why: a photo the model will not judge, a file not read."""
    text = ""
    if cannot_assess:
        text += (
            f"; {cannot_assess} could not be assessed (no class and no alert: the photo is "
            "unusable or not dermoscopy)"
        )
    if unreadable:
        text += f"; {unreadable} could not be read"
    return text


def batch_status(
    assessed: int,
    planned: int,
    unreadable: int,
    seconds: float,
    cancelled: bool,
    cannot_assess: int = 0,
) -> str:
    """Status bar line: 'Assessed 4 of 6 images in 1.2 s; 1 could not be assessed (...)'.
    Only images that got a class count as assessed."""
    verb = "Cancelled after assessing" if cancelled else "Assessed"
    return f"{verb} {assessed} of {planned} images in {seconds:.1f} s" + _not_assessed(
        cannot_assess, unreadable
    )


def batch_summary(
    assessed: int, planned: int, unreadable: int, state: str, alerts: int, cannot_assess: int
) -> str:
    """The line above the table (rich text); counts come from the verdict levels."""
    text = f"<b>Assessed {assessed} of {planned} images</b>"
    text += _not_assessed(cannot_assess, unreadable) + f" ({state})"
    if alerts:
        text += (
            f" \u2014 <span style='color:{palette.RED}'><b>{alerts} melanoma "
            f"alert{'s' if alerts != 1 else ''}</b></span>"
        )
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
BATCH_TABLE_NAME = "Batch results"
BATCH_SUMMARY_NAME = "Batch summary"
NO_ERROR_REASON = "unreadable"  # a failed row whose reason was lost
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


# One-image PDF report (File > Save report); the verdict's words come from desktop.verdict ------
REPORT_TITLE = f"{APP_NAME} \u2014 lesion image report"
REPORT_IMAGE_CAPTION = "Image"
REPORT_NOT_AVAILABLE = "not available"
REPORT_ABOUT_MODEL = "About this model"


def report_disclaimer(classes: int) -> str:
    return (
        f"{APP_NAME} is a decision aid, not a diagnosis. It estimates how similar this image is "
        f"to dermoscopy images of {classes} lesion classes; it can be wrong, and it has not seen "
        "the patient. Every result must be interpreted by a qualified clinician together with "
        "the history and examination. The heat-map shows which image regions most influenced "
        "the named class; it is not a lesion border. Do not use for images other than "
        "dermoscopy photographs of skin lesions."
    )


def report_meta(when: datetime, version: str, model_name: str) -> str:
    return f"{when:%Y-%m-%d %H:%M %Z}   \u2022   {APP_NAME} {version}   \u2022   model {model_name}"


def report_image(name: str) -> str:
    """The image by its file name only: a folder path can identify a patient."""
    return f"Image: {name}"


def report_heatmap_caption(class_name: str) -> str:
    return f"Heat-map: {class_name}"


def report_pdf_title(name: str) -> str:
    """The PDF's document title (shown by PDF viewers)."""
    return f"{APP_NAME} report: {name}"


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
    "content_sha256": "Data fingerprint (a checksum naming this exact set of images)",
    "name": "Name",
    "licence": "Licence",
    "license": "Licence",
    "sources": "Image archives",
    "citation": "Citation",
    "problems": "Files left out, by reason",
    "identities": "Different images after merging copies",
    "cross_source_duplicates": "Images found in more than one archive (kept once)",
    "cross_source_conflicts": "Images given different classes by two archives (left out)",
    "holdout": "Images of an archive kept out of training",
    "holdout_source": "Archive kept out of training",
    "package": "Package",
    "version": "Version",
    "architecture": "Network design",
    "trained_on": "First trained on",
    "blocks_kept": "Pretrained building blocks kept",
    "method": "How it was measured",
}
SPLIT_LABELS = {
    "train": "For training",
    "val": "For choosing settings (validation)",
    "internal_test": "Held out for testing",
    "test": "Separate test set",
    "holdout": "From an archive kept out of training",
}
CARD_GLOSSARY_TITLE = "What these figures mean"
CARD_GLOSSARY = (
    (
        "Sensitivity",
        "of the melanomas in testing, the share that raised the alert.",
    ),
    (
        "Specificity",
        "of the lesions that were not melanoma, the share that did not raise the alert.",
    ),
    (
        "Balanced accuracy",
        "the share of images whose most likely class was right, averaged over the classes "
        "so that rare classes count as much as common ones.",
    ),
    (
        "ROC AUC",
        "the chance that the model scores a random lesion of a class above a random lesion "
        "of another class: 1.0 always, 0.5 no better than a coin toss.",
    ),
    (
        "F1 score",
        "a single figure from 0 to 1 that is high only when a class is both found often and "
        "rarely named wrongly.",
    ),
    (
        "Calibration error (ECE)",
        "how far a shown probability is from how often the class was actually right, on "
        "average: 0.03 means about 3 percentage points.",
    ),
)
CARD_TITLE = f"About {APP_NAME} / Model card"
CARD_LEAD = "A decision aid, not a diagnosis."
CARD_LEAD_REST = (
    "Results must be interpreted by a qualified clinician together with the history and "
    "examination."
)
CARD_OFFLINE = "Works offline: images never leave this computer."
MODEL = "Model"
CARD_NO_MODEL = "No model loaded."
CARD_MODEL_VERSION = "Model version"
CARD_TRAINED_ON = "Trained on"
CARD_LOOKS_AT = "Looks at"
CARD_WARNING = "Warning."
CARD_MELANOMA_CLASS = " (melanoma alert)"
CARD_NOT_MEASURED = "not measured"
CARD_CLASS = "Class"
CARD_RECOGNISED = "Recognised in testing"
CARD_HOW_WELL = "How well it measured"
CARD_NO_FIGURES = "The model card reports no measured figures."
CARD_ALL_FIGURES = "All figures"
YES = "yes"
NO = "no"
# The card's free-text sections, in the order shown.
CARD_SECTIONS = {
    "intended_use": "Intended use",
    "limitations": "Limitations",
    "training_data": "Training data",
    "base_model": "Pretrained starting point",
}


def card_looks_at(size: int) -> str:
    return f"the photo's centre, resized to {size} \u00d7 {size} pixels"


def card_classes(count: int) -> str:
    return f"Classes ({count})"


# Shared by the history windows, the batch report and the adapt dialog ---------------------
CLOSE = "Close"


def melanoma_figure(probability: float) -> str:
    return f"melanoma {verdict.percent(probability, 1)}"


def printed(when: datetime, version: str) -> str:
    return f"Printed {when:%Y-%m-%d %H:%M %Z} by {APP_NAME} {version}"


# Clinic adaptation: Model menu, the adapt dialog, the active model's line -----------------
MODEL_MENU = "&Model"
ADAPT = "&Adapt to this clinic\u2026"
ADAPT_TIP = "Fit the model to this clinic's dermatoscope from its own labelled images"
USE_SHIPPED = "Use the &shipped model"
USE_SHIPPED_TIP = f"Go back to the model that came with {APP_NAME}"
ADAPT_TITLE = "Adapt to this clinic"
ADAPT_INTRO = (
    "Choose folders of this clinic's labelled images: one folder per class, named with the "
    "class (melanoma, nevus, \u2026), or a folder with a CSV of image,label. The model's last "
    "layer, its calibration and the melanoma alert are refitted on them, and the adapted "
    "model is compared with the shipped one by cross-validation. The images are only read."
)
ADAPT_FOLDERS = "Folders of labelled images"
ADAPT_ADD_FOLDER = "&Add folder\u2026"
ADAPT_ADD_FOLDER_TITLE = "A folder of this clinic's labelled images"
ADAPT_REMOVE_FOLDER = "&Remove"
ADAPT_OUT = "Save the adapted model in"
ADAPT_CHOOSE_OUT = "C&hoose\u2026"
ADAPT_CHOOSE_OUT_TITLE = "Folder for the adapted model"
ADAPT_START = "&Adapt"
ADAPT_USE = "&Use this model"
ADAPT_WRITE_ANYWAY = "&Write anyway"
ADAPT_WRITE_ANYWAY_TIP = "Save the adapted model although it is not better on these images"
ADAPT_NO_FOLDERS = "Add at least one folder of labelled images."
ADAPT_NO_OUT = "Choose where the adapted model goes."
ADAPT_OUT_IN_USE = (
    "The model in use lives in that folder; choose another one for the adapted model."
)
ADAPT_CANCELLED = "Adaptation cancelled; no model was written."
ADAPT_TABLE_NAME = "Shipped model against adapted model"
ADAPT_TABLE_HEADERS = ("", "Shipped model", "Adapted")
ADAPT_ROWS = (
    "Melanoma ROC AUC",
    "Sensitivity at the alert",
    "Specificity at the alert",
    "Balanced accuracy (classes present)",
)
ADAPT_ROC_NAME = "ROC curves of the shipped and the adapted model"
ADAPT_WRITTEN_ANYWAY = "Written although it is not better than the shipped model on these images."
NOT_MEASURED = "\u2014"


def adapt_stage(stage: str, done: int, total: int) -> str:
    """The progress line: what the run is doing, in words."""
    if stage == "features":
        return f"Reading the images: {done} of {total}"
    if stage == "cross-validation":
        return "Cross-validating the adapted model\u2026"
    return f"{stage}: {done} of {total}"


def adapt_summary(images: int, melanomas: int, folds: int) -> str:
    return (
        f"{images} images ({melanomas} melanomas). The adapted figures are {folds}-fold "
        "cross-validated: each image was scored by a model fitted without it."
    )


def adapt_not_better(base_auc: float, adapted_auc: float) -> str:
    """Why "Use this model" is off."""
    return (
        "The adapted model is not better than the shipped model on these images (melanoma "
        f"ROC AUC {adapted_auc:.3f} against {base_auc:.3f}), so it was not saved. Add more "
        "labelled images, or write it anyway."
    )


def adapt_left_out(kind: str, count: int, example: str) -> str:
    return f"Left out: {count} \u00d7 {kind} (e.g. {example})"


def adapt_failed(reason: str) -> str:
    return f"The model could not be adapted: {reason}"


def adapt_saved(folder: str) -> str:
    return f"Adapted model saved in {folder}"


def adapted_on(adaptation: dict | None) -> str | None:
    """The card's adaptation block in words: 'Adapted on 50 images of this clinic, <date>'."""
    if not adaptation:
        return None
    images, date = adaptation.get("images"), str(adaptation.get("date") or "")
    counted = f"{images} images" if isinstance(images, int) else "images"
    return f"Adapted on {counted} of this clinic" + (f", {date}" if date else "")


def model_status_line(name: str, adaptation: dict | None) -> str:
    """The status bar's model label, with the clinic adaptation when there is one."""
    line = adapted_on(adaptation)
    return model_status(name) + (f" \u2014 {line[0].lower()}{line[1:]}" if line else "")


def adapted_sentence(adaptation: dict | None) -> str | None:
    """The PDF's line on which model spoke, when it is a clinic's adapted one."""
    line = adapted_on(adaptation)
    return f"This model was {line[0].lower()}{line[1:]}." if line else None


CARD_ADAPTED = "Clinic adaptation"


def model_in_use(adapted: bool) -> str:
    which = "this clinic's adapted model" if adapted else "the shipped model"
    return f"Now using {which}: new results, and results saved to a case, come from it."


def saved_model_unusable(path: str, reason: str) -> str:
    """The remembered adapted model is gone or broken: the shipped one is used instead."""
    return (
        f"The adapted model chosen last time could not be loaded ({reason}); the shipped "
        f"model is used instead. It was at {path}."
    )


SAVED_MODEL_UNUSABLE_TITLE = "Using the shipped model"
