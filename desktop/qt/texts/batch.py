"""The batch's wording: the status line and summary, the results table and its CSV export."""

from __future__ import annotations

from desktop.qt import palette


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

# Exporting the table -----------------------------------------------------------------------
EXPORT_TABLE_TITLE = "Export table"
CSV_FILTER = "CSV (*.csv)"
NO_BATCH_TO_EXPORT = "No batch to export."


def table_not_saved(error: object) -> str:
    return f"The table could not be saved: {error}"


def table_exported(rows: int, path: object) -> str:
    return f"Exported {rows} rows to {path}"
