"""Wording for follow-up and filed reports: aligned visits, the chart's axis, the report
header and sign-off, the clinician setting and the batch report.

Kept beside :mod:`desktop.qt.texts` (the rest of the window's words, one module per
screen); the same rule holds: every word the window or a PDF shows is here.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

from desktop import APP_NAME
from desktop.verdict import NBSP, percent

# Aligned comparison (timeline) -------------------------------------------------------------
ALIGN = "&Align later photo to earlier"
ALIGN_TIP = (
    "Turn, zoom and move the right-hand photo so that it lies on the left-hand one "
    "(found from details the two photos share)"
)
OVERLAY = "Overlay earlier:"
OVERLAY_TIP = "Slide to fade the earlier photo over the aligned later one and see what changed"
OVERLAY_NAME = "Earlier photo over the later one"
ALIGNING = "Aligning the later photo\u2026"
NOT_ALIGNED_OFF = "Shown as taken (not aligned)."


def aligned(degrees: float, scale: float, confidence: float) -> str:
    """What was done to the later photo, in words, with how sure the fit is."""
    turn = "clockwise" if degrees >= 0 else "anticlockwise"
    return (
        f"Later photo aligned: turned {abs(degrees):.0f}\u00b0 {turn}, zoomed "
        f"{scale:.2f}\u00d7 (fit confidence {percent(confidence)})."
    )


def not_aligned(reason: str) -> str:
    """Registration refused: the photos are shown as taken, and why."""
    return f"Not aligned: {reason}; shown as taken. Compare them by eye."


# Melanoma chart ------------------------------------------------------------------------------
CHART_SCALE_NOTE = "scale stretched below the alert level"


def chart_threshold(percent: float) -> str:
    """The chart's dashed line, labelled where it is drawn."""
    shown = f"{percent:.1f}".rstrip("0").rstrip(".")  # 4.5 % stays 4.5 %, 30.0 % is 30 %
    return f"alert level {shown}{NBSP}%"


CHART_CLICK_TIP = "Click a point to show that visit"

# Reports a clinic files -----------------------------------------------------------------------
BLANK = "________"
SIGN_OFF = "Reviewed by ______________________________      Date ______________"
ADAPTED = "adapted for this clinic"


def model_line(version: str, adapted: bool) -> str:
    return f"Model {version}" + (f" ({ADAPTED})" if adapted else "")


def subject_line(patient: str, lesion: str, site: str, captured: str) -> str:
    """Who and what the page is about; blanks for the clinician to fill in by hand."""
    return (
        f"Patient ID: {patient or BLANK}    Lesion: {lesion or BLANK}    "
        f"Site: {site or BLANK}    Captured: {captured or BLANK}"
    )


def clinician_line(name: str) -> str:
    return f"Clinician: {name or BLANK}"


# Internal data-set names never reach a filed report (a reader cannot look them up).
INTERNAL_NAMES = (
    "ham10000",
    "isic-9class",
    "isic_9class",
    "vienna_dias",
    "vienna-dias",
    "derm7pt",
    "pad-ufes-20",
    "bcn20000",
)
_INTERNAL = re.compile(r"\bisic[-_ ]?\d{4}\b|\bisic[-_]\d+class\b", re.IGNORECASE)
PLAIN_SOURCE = "a public dermoscopy collection"


def source_names(raw: Mapping[str, Any] | None) -> set[str]:
    """The data-set names a model card uses (training sources, per-source figures)."""
    raw = raw or {}
    names: set[str] = set()
    data = raw.get("training_data")
    for source in data.get("sources", []) if isinstance(data, Mapping) else []:
        if isinstance(source, Mapping):
            names.update(str(source[k]) for k in ("name", "path", "format") if source.get(k))
    metrics = raw.get("metrics") if isinstance(raw.get("metrics"), Mapping) else {}
    by_source = metrics.get("melanoma_by_source")
    names.update(str(k) for k in (by_source if isinstance(by_source, Mapping) else ()))
    oos = metrics.get("out_of_source")
    if isinstance(oos, Mapping) and isinstance(oos.get("origins"), list):
        names.update(str(o) for o in oos["origins"])  # several, each held out in turn
    elif isinstance(oos, Mapping) and oos.get("source"):
        names.add(str(oos["source"]))
    if isinstance(data, Mapping) and data.get("holdout_source"):
        names.add(str(data["holdout_source"]))
    return {n for n in names if len(n) > 3 and n.lower() not in _COMMON}


_COMMON = {"folders", "csv", "images", "none"}  # formats that are ordinary words


def plain_words(text: str, extra: Iterable[str] = ()) -> str:
    """``text`` with every internal data-set name said as plain words."""
    for name in sorted({*INTERNAL_NAMES, *(e for e in extra if e)}, key=len, reverse=True):
        text = re.sub(
            rf"(?<![a-z0-9]){re.escape(name)}(?![a-z0-9])", PLAIN_SOURCE, text, flags=re.I
        )
    return _INTERNAL.sub(PLAIN_SOURCE, text)


# Settings ▸ Clinician name ------------------------------------------------------------------
SETTINGS_MENU = "&Settings"
CLINICIAN_ACTION = "&Clinician name\u2026"
CLINICIAN_TIP = "The name printed on every report you save"
CLINICIAN_TITLE = "Clinician name"
CLINICIAN_PROMPT = "Name printed on reports (leave empty for a blank line to sign):"


def clinician_saved(name: str) -> str:
    return f"Reports will name {name}." if name else "Reports will leave the clinician blank."


# File ▸ Save batch report --------------------------------------------------------------------
SAVE_BATCH_REPORT = "Save &batch report (PDF)\u2026"
SAVE_BATCH_REPORT_TIP = "One PDF with a line per image, alerts first"
SAVE_BATCH_REPORT_TITLE = "Save batch report"
NO_BATCH_TO_REPORT = "No batch to report: open several images or a folder first."
BATCH_REPORT_HEADING = f"{APP_NAME} \u2014 batch report"
UNREADABLE = "could not be read"


def batch_counts(images: int, alerts: int) -> str:
    return f"{images} image(s), {alerts} with a melanoma alert (listed first)"


def batch_report_saved(path: object) -> str:
    return f"Batch report saved to {path}"
