"""Clinic adaptation's wording: the Model menu, the adapt dialog, and the line that says
which model is in use (status bar, model card, PDF).
"""

from __future__ import annotations

from desktop import APP_NAME
from desktop.qt.texts.main_window import model_status

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
ADAPT_CLINIC_LIMIT = "Also set aside images &unlike this clinic\u2019s dermoscopy"
ADAPT_CLINIC_LIMIT_TIP = (
    "For a clinic with one dermatoscope: more photos taken without a dermatoscope are set "
    "aside, but so is dermoscopy from another dermatoscope (open those with the shipped model). "
    "Set only if cross-validation on these images keeps 99 % of them and every melanoma."
)
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
