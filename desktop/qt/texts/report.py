"""The one-image PDF report's wording (File > Save report): saving it, its labels, and the
"Printed" line every PDF ends with. The verdict's words come from :mod:`desktop.verdict`.
"""

from __future__ import annotations

from datetime import datetime

from desktop import APP_NAME

# Saving the report -------------------------------------------------------------------------
SAVE_REPORT_TITLE = "Save report"
PDF_FILTER = "PDF (*.pdf)"
NOTHING_TO_REPORT = "Nothing to report: open an image first."


def report_not_saved(error: object) -> str:
    return f"The report could not be saved: {error}"


def report_saved(path: object) -> str:
    return f"Report saved: {path}"


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


def printed(when: datetime, version: str) -> str:
    return f"Printed {when:%Y-%m-%d %H:%M %Z} by {APP_NAME} {version}"
