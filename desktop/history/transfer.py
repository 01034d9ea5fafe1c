"""A patient's case out of the store and back in: the export folder (``case.json`` with the
images, a CSV of every result, a PDF per lesion) and its import into another store.

The export is a plain folder a clinician can archive or hand on. The import treats it as
untrusted input (it may have been edited or crafted): links are refused, every field of
``case.json`` is checked and each verdict recomputed (:mod:`desktop.history.manifest`), every
photo is hashed and decoded (:mod:`desktop.history.export_reading`), and only then is the
whole case written in one transaction.
"""

from __future__ import annotations

import contextlib
import csv
import io
import json
import os
import re
import shutil
import sqlite3
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from desktop import APP_NAME, __version__, verdict
from desktop.history.export_reading import (
    EXPORT_FORMAT,
    EXPORT_VERSION,
    MANIFEST,
    check_images,
    first_line,
    images_folder,
    read_image,
    read_manifest,
)
from desktop.history.images import make_private_dir, make_private_file
from desktop.history.manifest import (
    CaseIn,
    EditIn,
    ImportRefused,
    LesionIn,
    VisitIn,
    check_case,
)
from desktop.history.service import Case, History, HistoryError, Lesion
from desktop.history.store import now_utc
from desktop.results_csv import csv_text

__all__ = ["ExportSummary", "ImportRefused", "export_case", "import_case", "results_csv"]

PdfWriter = Callable[[Path, Case, Lesion, Callable[[str], Path | None]], None]


@dataclass
class ExportSummary:
    folder: Path
    csv: Path
    manifest: Path
    pdfs: list[Path]
    images: int
    pdf_error: str | None = None


def export_case(
    history: History, patient: str, to: Path, pdf_writer: PdfWriter | None = None
) -> ExportSummary:
    """CSV of every result, ``case.json`` + images (for :func:`import_case`), a PDF per lesion.

    The target folder must be new or empty: an export never overwrites files.
    """
    case = history.case(patient)
    to = Path(to)
    if to.exists() and (not to.is_dir() or any(to.iterdir())):
        raise HistoryError(f"{to} is not an empty folder; choose a new or empty one")
    make_private_dir(to)
    make_private_dir(to / "images")
    manifest_record = case.to_json()
    count = 0
    for lesion in manifest_record["lesions"]:
        for visit in lesion["visits"]:
            image = visit["image"]
            rel = f"images/{image['sha256']}{image['ext']}"
            target = to / rel
            if not target.exists():
                shutil.copyfile(image["file"], target)
                make_private_file(target)
                count += 1
            image["file"] = rel
    manifest = {
        "format": EXPORT_FORMAT,
        "format_version": EXPORT_VERSION,
        "exported": now_utc(),
        "app": f"{APP_NAME} {__version__}",
        "case": manifest_record,
    }
    manifest_path = to / MANIFEST
    _write_private(manifest_path, json.dumps(manifest, indent=2, ensure_ascii=False) + "\n")
    csv_path = to / "results.csv"
    _write_private(csv_path, results_csv(manifest_record), encoding="utf-8-sig")
    pdfs: list[Path] = []
    pdf_error = None
    if pdf_writer is not None:
        for i, lesion in enumerate(case.lesions, start=1):
            path = to / f"lesion-{i:02d}-{_slug(lesion.label)}.pdf"
            try:
                pdf_writer(path, case, lesion, history.store.image_path)
            except Exception as exc:  # the CSV and the data are out; say what is missing
                pdf_error = f"{path.name}: {exc}"
                break
            make_private_file(path)
            pdfs.append(path)
    return ExportSummary(to, csv_path, manifest_path, pdfs, count, pdf_error)


def import_case(history: History, folder: Path, as_patient: str | None = None) -> dict[str, Any]:
    """Load an export back, in one transaction; the patient must not exist yet.

    The folder is untrusted: links are refused, every manifest field is checked and each
    verdict recomputed (:mod:`desktop.history.manifest`), every photo is decoded and hashed,
    all before the store is touched. Any refusal is :class:`ImportRefused` (exit 2) and
    leaves the store as it was.
    """
    folder = Path(folder)
    try:
        case = check_case(read_manifest(folder), as_patient)
        _refuse_existing(history, case.patient)
        check_images(folder, case)
        _store_case(history, folder, case)
    except ImportRefused as exc:
        raise ImportRefused(f"{folder} was not imported: {exc}") from None
    return history.show(case.patient)


def _refuse_existing(history: History, code: str) -> None:
    if history.patient_id(code) is not None:
        raise ImportRefused(
            f"patient {code!r} already exists here; import with --as-patient NEWID "
            "or into another data folder"
        )


# Writing the case --------------------------------------------------------------------------
def _store_case(history: History, folder: Path, case: CaseIn) -> None:
    """One transaction: nothing is left half-imported, and new image files go on rollback.

    The patient is looked up again under the write lock, so a second import of the same
    export running at the same time gets "already exists" rather than a database error.
    """
    images = case.images()
    folder_open = images_folder(folder) if images else contextlib.nullcontext(None)
    try:
        with history.store.write(), folder_open as dir_fd:
            _refuse_existing(history, case.patient)
            history.conn.execute(
                "INSERT INTO patient (code, created) VALUES (?, ?)",
                (case.patient, case.created or now_utc()),
            )
            pid = history.patient_id(case.patient)
            for image in images.values():  # read again: it must still be what was checked
                data = read_image(folder, dir_fd, image)
                history._put_image(data, image.name, image.ext)
            for lesion in case.lesions:
                _insert_lesion(history, pid, lesion)
    except sqlite3.IntegrityError as exc:
        _refuse_existing(history, case.patient)
        raise ImportRefused(f"the case store refused it ({first_line(exc)})") from None


def _insert_lesion(history: History, patient_id: int, lesion: LesionIn) -> None:
    """A lesion with its side, histology outcome, edit log and visits."""
    outcome = lesion.outcome
    cur = history.conn.execute(
        """INSERT INTO lesion (patient_id, label, site, laterality, note, created, outcome,
               outcome_date, outcome_note, outcome_recorded)
           VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)""",
        (
            patient_id,
            lesion.label,
            lesion.site,
            lesion.laterality,
            lesion.note,
            lesion.created or now_utc(),
            outcome.diagnosis if outcome else None,
            outcome.date if outcome else None,
            outcome.note if outcome else "",
            (outcome.recorded or now_utc()) if outcome else None,
        ),
    )
    lesion_id = int(cur.lastrowid)
    _insert_edits(history, lesion_id, None, lesion.edits)
    for visit in lesion.visits:
        _insert_visit(history, lesion_id, visit)


def _insert_edits(
    history: History, lesion_id: int, visit_id: int | None, edits: tuple[EditIn, ...]
) -> None:
    for e in edits:
        history.conn.execute(
            """INSERT INTO edit (lesion_id, visit_id, field, old_value, new_value, edited)
               VALUES (?, ?, ?, ?, ?, ?)""",
            (lesion_id, visit_id, e.field, e.old, e.new, e.edited),
        )


def _insert_visit(history: History, lesion_id: int, visit: VisitIn) -> None:
    cur = history.conn.execute(
        """INSERT INTO visit (lesion_id, taken, image_sha256, original_name, note, created,
               decision, next_review)
           VALUES (?, ?, ?, ?, ?, ?, ?, ?)""",
        (
            lesion_id,
            visit.date,
            visit.image.sha256,
            visit.image.original_name,
            visit.note,
            visit.created or now_utc(),
            visit.decision,
            visit.next_review,
        ),
    )
    _insert_edits(history, lesion_id, int(cur.lastrowid), visit.edits)
    for r in visit.results:
        history.conn.execute(
            """INSERT INTO result (visit_id, probabilities, label, melanoma_probability,
                   alert_level, verdict, headline, threshold, uncertain, uncertain_reasons,
                   model_version, model_sha256, created)
               VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)""",
            (
                int(cur.lastrowid),
                None if r.probabilities is None else json.dumps(r.probabilities, allow_nan=False),
                r.label,
                r.melanoma_probability,
                r.alert_level,
                r.alert_level,
                r.headline,
                r.threshold,
                int(r.uncertain),
                json.dumps(list(r.uncertain_reasons)),
                r.model_version,
                r.model_sha256,
                r.created,
            ),
        )


def _slug(text: str) -> str:
    slug = re.sub(r"[^A-Za-z0-9]+", "-", text).strip("-").lower()
    return slug[:40] or "lesion"


def _write_private(path: Path, text: str, encoding: str = "utf-8") -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding=encoding, newline="") as fh:
        fh.write(text)


def results_csv(case: dict[str, Any]) -> str:
    """One row per stored result; ``current`` marks each visit's newest one.

    A result that could not be assessed has empty class, melanoma and probability cells; a
    benign keratosis also names its group and the group's probability, as the batch CSV does.
    """
    classes: list[str] = []
    for lesion in case["lesions"]:
        for visit in lesion["visits"]:
            for r in visit["results"]:
                classes.extend(c for c in (r["probabilities"] or {}) if c not in classes)
    buf = io.StringIO()
    writer = csv.writer(buf)
    writer.writerow([*CSV_COLUMNS, *[f"p_{c}" for c in classes]])
    for lesion in case["lesions"]:
        outcome = lesion.get("outcome") or {}
        for visit in lesion["visits"]:
            for i, r in enumerate(visit["results"]):
                probs = r["probabilities"] or {}
                mel = r["melanoma_probability"]
                # the benign keratoses read as one, as the window and the batch CSV read them
                group = verdict.class_group(r["label"], probs) if r["label"] else None
                writer.writerow(
                    [
                        csv_text(case["patient"]),
                        csv_text(lesion["label"]),
                        lesion["site"],
                        visit["date"],
                        visit["image"]["sha256"],
                        csv_text(visit["image"]["file"]),
                        csv_text(visit["note"]),
                        r["created"],
                        "yes" if i == len(visit["results"]) - 1 else "no",
                        csv_text(r["model_version"]),
                        r["model_sha256"],
                        csv_text(r["label"] or ""),
                        csv_text(group[0]) if group else "",
                        f"{group[1]:.4f}" if group else "",
                        "" if mel is None else f"{mel:.4f}",
                        f"{r['threshold']:.4f}",
                        r["alert_level"],
                        r["verdict"] or "",
                        "yes" if r["uncertain"] else "no",
                        visit.get("number", ""),
                        lesion.get("laterality") or "",
                        visit.get("decision") or "",
                        visit.get("next_review") or "",
                        outcome.get("diagnosis", ""),
                        outcome.get("date", ""),
                        *[f"{probs[c]:.4f}" if c in probs else "" for c in classes],
                    ]
                )
    return buf.getvalue()


CSV_COLUMNS = (
    "patient",
    "lesion",
    "site",
    "visit_date",
    "image_sha256",
    "image_file",
    "visit_note",
    "result_created",
    "current",
    "model_version",
    "model_sha256",
    "top_class",
    "class_group",
    "class_group_probability",
    "melanoma_probability",
    "alert_threshold",
    "alert_level",
    "verdict",
    "uncertain",
    "visit",
    "side",
    "decision",
    "next_review",
    "histology",
    "histology_date",
)
