"""A patient's case out of the store and back in: the export folder (``case.json`` with the
images, a CSV of every result, a PDF per lesion) and its import into another store.

The export is a plain folder a clinician can archive or hand on; the import checks every
image against its recorded SHA-256 and writes the whole case in one transaction.
"""

from __future__ import annotations

import csv
import io
import json
import os
import re
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

from desktop import APP_NAME, __version__
from desktop.history.images import make_private_dir, make_private_file, normal_ext
from desktop.history.service import (
    History,
    HistoryError,
    check_lesion,
    check_note,
    check_patient,
    check_site,
)
from desktop.history.store import now_utc
from desktop.results import csv_text

EXPORT_FORMAT = "lesionlens-case"
EXPORT_VERSION = 1
MANIFEST = "case.json"

PdfWriter = Callable[[Path, dict[str, Any], dict[str, Any], Callable[[str], Path | None]], None]


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
    record = history.show(patient)
    to = Path(to)
    if to.exists() and (not to.is_dir() or any(to.iterdir())):
        raise HistoryError(f"{to} is not an empty folder; choose a new or empty one")
    make_private_dir(to)
    make_private_dir(to / "images")
    manifest_record = json.loads(json.dumps(record))
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
        for i, lesion in enumerate(record["lesions"], start=1):
            path = to / f"lesion-{i:02d}-{_slug(lesion['label'])}.pdf"
            try:
                pdf_writer(path, record, lesion, history.store.image_path)
            except Exception as exc:  # the CSV and the data are out; say what is missing
                pdf_error = f"{path.name}: {exc}"
                break
            make_private_file(path)
            pdfs.append(path)
    return ExportSummary(to, csv_path, manifest_path, pdfs, count, pdf_error)


def import_case(history: History, folder: Path, as_patient: str | None = None) -> dict[str, Any]:
    """Load an export back, in one transaction; the patient must not exist yet."""
    folder = Path(folder)
    manifest_path = folder / MANIFEST
    try:
        manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise HistoryError(f"{folder} holds no {MANIFEST} (not a {APP_NAME} export)") from None
    except (OSError, ValueError) as exc:
        raise HistoryError(f"{manifest_path} cannot be read: {exc}") from None
    if not isinstance(manifest, dict) or manifest.get("format") != EXPORT_FORMAT:
        raise HistoryError(f"{manifest_path} is not a {APP_NAME} case export")
    if manifest.get("format_version") != EXPORT_VERSION:
        raise HistoryError(
            f"{manifest_path} has export format {manifest.get('format_version')!r}; "
            f"this {APP_NAME} reads {EXPORT_VERSION}"
        )
    case = manifest.get("case") or {}
    try:
        code = check_patient(as_patient if as_patient is not None else case["patient"])
        lesions = list(case["lesions"])
    except (KeyError, TypeError) as exc:
        raise HistoryError(f"{manifest_path} is incomplete ({exc})") from None
    if history.patient_id(code) is not None:
        raise HistoryError(
            f"patient {code!r} already exists here; import with --as-patient NEWID "
            "or into another data folder"
        )
    try:
        with history.store.write():
            history.conn.execute(
                "INSERT INTO patient (code, created) VALUES (?, ?)",
                (code, case.get("created") or now_utc()),
            )
            pid = history.patient_id(code)
            for lesion in lesions:
                cur = history.conn.execute(
                    "INSERT INTO lesion (patient_id, label, site, note, created) "
                    "VALUES (?, ?, ?, ?, ?)",
                    (
                        pid,
                        check_lesion(lesion["label"]),
                        check_site(lesion.get("site")),
                        check_note(lesion.get("note")),
                        lesion.get("created") or now_utc(),
                    ),
                )
                lid = int(cur.lastrowid)
                for visit in lesion["visits"]:
                    _import_visit(history, folder, lid, visit)
    except (KeyError, TypeError, ValueError) as exc:
        raise HistoryError(f"{manifest_path} is incomplete or damaged ({exc!r})") from None
    return history.show(code)


def _import_visit(history: History, folder: Path, lesion_id: int, visit: dict[str, Any]) -> None:
    image = visit["image"]
    rel = Path(str(image["file"]))
    if rel.is_absolute() or ".." in rel.parts:
        raise HistoryError(f"image path {rel} in the export points outside it")
    src = folder / rel
    if not src.is_file():
        raise HistoryError(f"{src} is missing from the export")
    ext = normal_ext("x" + str(image["ext"]))
    stored = history._put_image(src, src.name, ext)
    if stored.sha256 != image["sha256"]:
        raise HistoryError(f"{src} does not match its recorded SHA-256 (damaged export)")
    cur = history.conn.execute(
        """INSERT INTO visit (lesion_id, taken, image_sha256, original_name, note, created)
           VALUES (?, ?, ?, ?, ?, ?)""",
        (
            lesion_id,
            _check_stored_date(visit["date"]),
            stored.sha256,
            str(image.get("original_name") or ""),
            check_note(visit.get("note")),
            visit.get("created") or now_utc(),
        ),
    )
    vid = int(cur.lastrowid)
    for r in visit["results"]:
        history.conn.execute(
            """INSERT INTO result (visit_id, probabilities, label, melanoma_probability,
                   alert_level, verdict, headline, threshold, uncertain, uncertain_reasons,
                   model_version, model_sha256, created)
               VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)""",
            (
                vid,
                json.dumps({str(k): float(v) for k, v in r["probabilities"].items()}),
                str(r["label"]),
                float(r["melanoma_probability"]),
                str(r["alert_level"]),
                r.get("verdict"),
                r.get("headline"),
                float(r["threshold"]),
                int(bool(r["uncertain"])),
                json.dumps([str(x) for x in r.get("uncertain_reasons", [])]),
                str(r["model_version"]),
                str(r["model_sha256"]),
                str(r["created"]),
            ),
        )


def _check_stored_date(value: Any) -> str:
    text = str(value)
    if not re.fullmatch(r"\d{4}-\d{2}-\d{2}", text):
        raise ValueError(f"bad date {text!r}")
    date.fromisoformat(text)
    return text


def _slug(text: str) -> str:
    slug = re.sub(r"[^A-Za-z0-9]+", "-", text).strip("-").lower()
    return slug[:40] or "lesion"


def _write_private(path: Path, text: str, encoding: str = "utf-8") -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding=encoding, newline="") as fh:
        fh.write(text)


def results_csv(case: dict[str, Any]) -> str:
    """One row per stored result; ``current`` marks each visit's newest one."""
    classes: list[str] = []
    for lesion in case["lesions"]:
        for visit in lesion["visits"]:
            for r in visit["results"]:
                classes.extend(c for c in r["probabilities"] if c not in classes)
    buf = io.StringIO()
    writer = csv.writer(buf)
    writer.writerow(
        [
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
            "melanoma_probability",
            "alert_threshold",
            "alert_level",
            "verdict",
            "uncertain",
            *[f"p_{c}" for c in classes],
        ]
    )
    for lesion in case["lesions"]:
        for visit in lesion["visits"]:
            for i, r in enumerate(visit["results"]):
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
                        csv_text(r["label"]),
                        f"{r['melanoma_probability']:.4f}",
                        f"{r['threshold']:.4f}",
                        r["alert_level"],
                        r["verdict"] or "",
                        "yes" if r["uncertain"] else "no",
                        *[
                            f"{r['probabilities'][c]:.4f}" if c in r["probabilities"] else ""
                            for c in classes
                        ],
                    ]
                )
    return buf.getvalue()
