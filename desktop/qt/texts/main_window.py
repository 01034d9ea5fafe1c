"""The main window's wording: empty state, model state, opening and classifying, menus and
actions, recent files, samples, zoom, the result pane and the heat-map controls; and the
words the history windows, the batch report and the adapt dialog share with it.
"""

from __future__ import annotations

from desktop import APP_NAME, verdict

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


def bar_name(label: str, shown: str) -> str:
    """What a screen reader says for one bar, as the bar's text reads ('Nevus 81.2 percent',
    'Dermatofibroma under 0.1 percent')."""
    return f"{label} {shown.replace(verdict.NBSP, ' ').replace(' %', ' percent')}"


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


# Shared by the history windows, the batch report and the adapt dialog ---------------------
CLOSE = "Close"


def melanoma_figure(shown: str) -> str:
    """``shown``: the melanoma percentage as the result's bars show it."""
    return f"melanoma {shown}"
