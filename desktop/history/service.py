"""Patients, lesions, visits and results: what the command line and the window do with a store.

Qt-free and classifier-agnostic: callers classify (``desktop.results``) and hand
the :class:`~desktop.results.ImageResult` in, so the same code stores a result
from the window, the command line or a re-classification. Every change is one
transaction (:meth:`Store.write`); image files are written inside it and removed
only after the rows that named them are gone, and only by a delete the user
asked for. A stored photo is checked against its SHA-256 before any use.
"""

from __future__ import annotations

import contextlib
import json
import re
import sqlite3
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any

from desktop.card import ModelCard
from desktop.history.images import (
    DAMAGED,
    MISSING,
    OK,
    StoredImage,
    normal_ext,
    sha256_file,
)
from desktop.history.store import DamagedPhotoError, Store, now_utc
from desktop.results import ImageResult
from desktop.verdict import CANNOT_ASSESS, LEVEL_TEXT, NO_ALERT, verdict_of

if TYPE_CHECKING:
    from desktop.history.transfer import ExportSummary, PdfWriter

# Anatomical sites as the ISIC archive groups them, plus "unspecified".
BODY_SITES = (
    "head/neck",
    "anterior torso",
    "posterior torso",
    "lateral torso",
    "upper extremity",
    "lower extremity",
    "palms/soles",
    "oral/genital",
    "unspecified",
)
DEFAULT_SITE = "unspecified"
MAX_CODE = 64
MAX_LABEL = 80
MAX_NOTE = 4000
RECOVERED_PATIENT = "recovered"
RECOVERED_LESION = "recovered photos"
PHOTO_WORDS = {OK: "", MISSING: "photo missing", DAMAGED: "photo damaged/changed"}


class HistoryError(Exception):
    """A request that cannot be done as asked (usage error); ``str(err)`` is one line."""


class UnknownPatientError(HistoryError):
    pass


# Validation -------------------------------------------------------------------------------
def _clean(text: str, what: str, limit: int) -> str:
    value = " ".join(str(text).split())
    if not value:
        raise HistoryError(f"{what} must not be empty")
    if len(value) > limit:
        raise HistoryError(f"{what} is longer than {limit} characters")
    if any(not ch.isprintable() for ch in value):
        raise HistoryError(f"{what} contains control characters")
    return value


def check_patient(code: str) -> str:
    """A pseudonymous id chosen by the clinic (no name needed); spaces are collapsed."""
    return _clean(code, "patient id", MAX_CODE)


def check_lesion(label: str) -> str:
    return _clean(label, "lesion name", MAX_LABEL)


def check_site(site: str | None) -> str:
    if site is None or not str(site).strip():
        return DEFAULT_SITE
    value = " ".join(str(site).lower().split())
    if value not in BODY_SITES:
        raise HistoryError(f"unknown body site {site!r}; choose one of: {', '.join(BODY_SITES)}")
    return value


def check_date(text: str | None) -> str:
    """ISO ``YYYY-MM-DD``, not in the future; today when not given."""
    if text is None or not str(text).strip():
        return date.today().isoformat()
    value = str(text).strip()
    if not re.fullmatch(r"\d{4}-\d{2}-\d{2}", value):
        raise HistoryError(f"date {value!r} is not in the form YYYY-MM-DD")
    try:
        day = date.fromisoformat(value)
    except ValueError:
        raise HistoryError(f"date {value!r} does not exist") from None
    if day > date.today():
        raise HistoryError(f"date {value} is in the future")
    return value


def check_note(note: str | None) -> str:
    text = (note or "").strip()
    if len(text) > MAX_NOTE:
        raise HistoryError(f"note is longer than {MAX_NOTE} characters")
    return text


# The model that produced a result ------------------------------------------------------------
@dataclass(frozen=True)
class ModelInfo:
    """Which model produced a result: card version, file hash, and the card for the verdict."""

    version: str
    sha256: str
    card: ModelCard | None = field(default=None, compare=False, repr=False)


_HASH_CACHE: dict[tuple[str, int, int], str] = {}


def model_info(classifier: Any) -> ModelInfo:
    """Card version and SHA-256 of the model file (``unknown`` when the classifier has no file)."""
    card = classifier.card
    path = getattr(classifier, "model_path", None)
    digest = "unknown"
    if path is not None:
        p = Path(path)
        try:
            st = p.stat()
            key = (str(p.resolve()), st.st_size, st.st_mtime_ns)
            if key not in _HASH_CACHE:
                _HASH_CACHE[key] = sha256_file(p)
            digest = _HASH_CACHE[key]
        except OSError:
            digest = "unknown"
    return ModelInfo(str(card.model_version), digest, card)


def describe(result: dict[str, Any]) -> tuple[str, str]:
    """(level, headline) of a stored result, in the words the window used when it was stored."""
    level = result.get("verdict") or result.get("alert_level") or NO_ALERT
    headline = result.get("headline") or LEVEL_TEXT.get(level, level)
    return level, headline


# Records ----------------------------------------------------------------------------------
def _result_json(row: Any) -> dict[str, Any]:
    return {
        "id": row["id"],
        "created": row["created"],
        "label": row["label"],
        "probabilities": json.loads(row["probabilities"]),
        "melanoma_probability": row["melanoma_probability"],
        "alert_level": row["alert_level"],
        "verdict": row["verdict"],
        "headline": row["headline"],
        "threshold": row["threshold"],
        "uncertain": bool(row["uncertain"]),
        "uncertain_reasons": json.loads(row["uncertain_reasons"]),
        "model_version": row["model_version"],
        "model_sha256": row["model_sha256"],
    }


@dataclass(frozen=True)
class PatientSummary:
    """One row of the case browser."""

    code: str
    lesions: int
    visits: int
    last_visit: str | None
    alerts: int  # visits whose current result is a melanoma alert


@dataclass
class DeletePlan:
    """What a delete will remove; shown to the user before anything goes."""

    what: str
    patient: str
    lesion_ids: list[int] = field(default_factory=list)
    visit_ids: list[int] = field(default_factory=list)
    patient_id: int | None = None
    images: int = 0  # image files that no other visit uses, deleted from the store too

    def message(self) -> str:
        return (
            f"This deletes {self.what}: {len(self.visit_ids)} visit(s) with their results, "
            f"and {self.images} stored image file(s) from the image store. "
            "It cannot be undone (backups keep older copies of the database, not the images)."
        )


class History:
    """The case store's domain operations, on an open :class:`Store`."""

    def __init__(self, store: Store) -> None:
        self.store = store

    @property
    def conn(self):  # noqa: ANN201 (sqlite3.Connection)
        return self.store.conn

    # Queries ------------------------------------------------------------------------------
    def patient_id(self, code: str) -> int | None:
        row = self.conn.execute("SELECT id FROM patient WHERE code = ?", (code,)).fetchone()
        return int(row["id"]) if row else None

    def require_patient(self, code: str) -> int:
        pid = self.patient_id(" ".join(str(code).split()))
        if pid is None:
            raise UnknownPatientError(f"unknown patient {code!r} in {self.store.data_dir}")
        return pid

    def patients(self, search: str = "", limit: int = 1000) -> list[PatientSummary]:
        """Case browser rows: patients whose id contains ``search`` (case-insensitive)."""
        escaped = search.strip().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        rows = self.conn.execute(
            """
            WITH pv AS (
                SELECT l.patient_id AS pid, COUNT(DISTINCT l.id) AS lesions, COUNT(v.id) AS visits,
                       MAX(v.taken) AS last_visit
                FROM lesion l LEFT JOIN visit v ON v.lesion_id = l.id
                GROUP BY l.patient_id
            ), alerts AS (
                SELECT l.patient_id AS pid, COUNT(*) AS n
                FROM visit v JOIN lesion l ON l.id = v.lesion_id
                JOIN result r ON r.id = (SELECT MAX(id) FROM result WHERE visit_id = v.id)
                WHERE r.alert_level = 'alert'
                GROUP BY l.patient_id
            )
            SELECT p.code, COALESCE(pv.lesions, 0) AS lesions, COALESCE(pv.visits, 0) AS visits,
                   pv.last_visit, COALESCE(alerts.n, 0) AS alerts
            FROM patient p LEFT JOIN pv ON pv.pid = p.id LEFT JOIN alerts ON alerts.pid = p.id
            WHERE p.code LIKE ? ESCAPE '\\'
            ORDER BY p.code LIMIT ?
            """,
            (f"%{escaped}%", int(limit)),
        ).fetchall()
        return [
            PatientSummary(r["code"], r["lesions"], r["visits"], r["last_visit"], r["alerts"])
            for r in rows
        ]

    def lesions(self, code: str) -> list[dict[str, Any]]:
        """The patient's lesions (without visits) with visit counts, for pickers."""
        pid = self.require_patient(code)
        rows = self.conn.execute(
            """SELECT l.id, l.label, l.site, l.note, l.created, COUNT(v.id) AS visits,
                      MIN(v.taken) AS first_visit, MAX(v.taken) AS last_visit
               FROM lesion l LEFT JOIN visit v ON v.lesion_id = l.id
               WHERE l.patient_id = ? GROUP BY l.id
               ORDER BY COALESCE(MIN(v.taken), l.created), l.label""",
            (pid,),
        ).fetchall()
        return [dict(r) for r in rows]

    def lesion(self, lesion_id: int) -> dict[str, Any]:
        """One lesion with its patient id and every visit and result, in date order."""
        row = self.conn.execute(
            """SELECT l.id, l.label, l.site, l.note, l.created, p.code AS patient
               FROM lesion l JOIN patient p ON p.id = l.patient_id WHERE l.id = ?""",
            (lesion_id,),
        ).fetchone()
        if row is None:
            raise HistoryError(f"no lesion with id {lesion_id}")
        lesion = dict(row)
        lesion["visits"] = self._visits([lesion_id])[lesion_id]
        return lesion

    def _visits(self, lesion_ids: list[int]) -> dict[int, list[dict[str, Any]]]:
        out: dict[int, list[dict[str, Any]]] = {i: [] for i in lesion_ids}
        if not lesion_ids:
            return out
        marks = ",".join("?" * len(lesion_ids))
        visits = self.conn.execute(
            f"""SELECT v.id, v.lesion_id, v.taken, v.note, v.created, v.original_name,
                       v.image_sha256, i.ext, i.bytes
                FROM visit v JOIN image i ON i.sha256 = v.image_sha256
                WHERE v.lesion_id IN ({marks}) ORDER BY v.taken, v.id""",
            lesion_ids,
        ).fetchall()
        results: dict[int, list[dict[str, Any]]] = {}
        for r in self.conn.execute(
            f"""SELECT r.* FROM result r JOIN visit v ON v.id = r.visit_id
                WHERE v.lesion_id IN ({marks}) ORDER BY r.created, r.id""",
            lesion_ids,
        ):
            results.setdefault(r["visit_id"], []).append(_result_json(r))
        for v in visits:
            out[v["lesion_id"]].append(self._visit_json(v, results.get(v["id"], [])))
        return out

    def _visit_json(self, v: Any, results: list[dict[str, Any]]) -> dict[str, Any]:
        sha, ext = v["image_sha256"], v["ext"]
        status = photo_status(self.store.images.path_for(sha, ext), sha)
        return {
            "id": v["id"],
            "date": v["taken"],
            "note": v["note"],
            "created": v["created"],
            "image": {
                "sha256": sha,
                "ext": ext,
                "bytes": v["bytes"],
                "original_name": v["original_name"],
                "file": str(self.store.images.path_for(sha, ext)),
                "status": status,  # ok, missing, damaged (bytes no longer match the hash)
            },
            "results": results,
        }

    def show(self, code: str) -> dict[str, Any]:
        """Everything stored for a patient: lesions, visits, results, in date order."""
        pid = self.require_patient(code)
        prow = self.conn.execute(
            "SELECT code, created FROM patient WHERE id = ?", (pid,)
        ).fetchone()
        lesions = self.lesions(prow["code"])
        visits = self._visits([int(lesion["id"]) for lesion in lesions])
        return {
            "patient": prow["code"],
            "created": prow["created"],
            "lesions": [
                {
                    "id": lesion["id"],
                    "label": lesion["label"],
                    "site": lesion["site"],
                    "note": lesion["note"],
                    "created": lesion["created"],
                    "visits": visits[lesion["id"]],
                }
                for lesion in lesions
            ],
        }

    def visit(self, visit_id: int) -> dict[str, Any]:
        """One visit with its results, patient and lesion names."""
        row = self.conn.execute(
            """SELECT v.id, v.lesion_id, v.taken, v.note, v.created, v.original_name,
                      v.image_sha256, i.ext, i.bytes, l.label AS lesion, l.site, p.code AS patient
               FROM visit v JOIN image i ON i.sha256 = v.image_sha256
               JOIN lesion l ON l.id = v.lesion_id JOIN patient p ON p.id = l.patient_id
               WHERE v.id = ?""",
            (visit_id,),
        ).fetchone()
        if row is None:
            raise HistoryError(f"no visit with id {visit_id}")
        results = [
            _result_json(r)
            for r in self.conn.execute(
                "SELECT * FROM result WHERE visit_id = ? ORDER BY created, id", (visit_id,)
            )
        ]
        record = self._visit_json(row, results)
        record.update(patient=row["patient"], lesion=row["lesion"], site=row["site"])
        record["lesion_id"] = row["lesion_id"]
        return record

    # Writes -------------------------------------------------------------------------------
    def _ensure_lesion(self, code: str, label: str, site: str | None, note: str) -> int:
        """Inside a transaction: the lesion's id, creating patient and lesion when new."""
        now = now_utc()
        self.conn.execute(
            "INSERT INTO patient (code, created) VALUES (?, ?) ON CONFLICT(code) DO NOTHING",
            (code, now),
        )
        pid = self.patient_id(code)
        row = self.conn.execute(
            "SELECT id, site FROM lesion WHERE patient_id = ? AND label = ?", (pid, label)
        ).fetchone()
        if row is not None:
            if site is not None and site != row["site"]:
                raise HistoryError(
                    f"lesion {label!r} of patient {code!r} is recorded at {row['site']!r}, "
                    f"not {site!r}; give the same --site or none"
                )
            return int(row["id"])
        cur = self.conn.execute(
            "INSERT INTO lesion (patient_id, label, site, note, created) VALUES (?, ?, ?, ?, ?)",
            (pid, label, site or DEFAULT_SITE, note, now),
        )
        return int(cur.lastrowid)

    def check_lesion_site(self, patient: str, lesion: str, site: str | None) -> None:
        """Refuse a site that contradicts the stored one before any work is done."""
        row = self.conn.execute(
            """SELECT l.site FROM lesion l JOIN patient p ON p.id = l.patient_id
               WHERE p.code = ? AND l.label = ?""",
            (check_patient(patient), check_lesion(lesion)),
        ).fetchone()
        if row is not None and site is not None and check_site(site) != row["site"]:
            raise HistoryError(
                f"lesion {lesion!r} of patient {patient!r} is recorded at {row['site']!r}, "
                f"not {site!r}; give the same --site or none"
            )

    def _insert_result(
        self, visit_id: int, result: ImageResult, model: ModelInfo, created: str | None = None
    ) -> None:
        pred = result.prediction
        if pred is None:
            raise HistoryError(result.error or "no classification to store")
        verdict = verdict_of(result, model.card)
        self.conn.execute(
            """INSERT INTO result (visit_id, probabilities, label, melanoma_probability,
                   alert_level, verdict, headline, threshold, uncertain, uncertain_reasons,
                   model_version, model_sha256, created)
               VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)""",
            (
                visit_id,
                json.dumps(
                    {c: float(p) for c, p in zip(pred.classes, pred.probabilities, strict=True)},
                    allow_nan=False,
                ),
                pred.label,
                pred.melanoma_probability,
                pred.alert_level,
                verdict.level,
                verdict.headline,
                float(pred.melanoma_threshold),
                int(pred.uncertain),
                json.dumps(list(pred.uncertain_reasons)),
                model.version,
                model.sha256,
                created or now_utc(),
            ),
        )

    def _put_image(self, source: Path | bytes, name: str, ext: str | None = None) -> StoredImage:
        """Inside a transaction: copy the image in and record it.

        A file that did not exist before is removed again if the transaction
        rolls back (while the write lock is still held, so no other writer can
        have started using it).
        """
        images = self.store.images
        if isinstance(source, bytes):
            stored = images.put_bytes(source, ext or normal_ext(name))
        else:
            stored = images.put(source, ext)
        if stored.new:
            self.store.on_rollback(lambda: images.remove(stored.sha256, stored.ext))
        self.conn.execute(
            "INSERT INTO image (sha256, ext, bytes, added) VALUES (?, ?, ?, ?) "
            "ON CONFLICT(sha256) DO NOTHING",
            (stored.sha256, stored.ext, stored.size, now_utc()),
        )
        row = self.conn.execute(
            "SELECT ext FROM image WHERE sha256 = ?", (stored.sha256,)
        ).fetchone()
        if row["ext"] != stored.ext:  # same bytes stored earlier under another extension
            if stored.new:
                images.remove(stored.sha256, stored.ext)
            return StoredImage(stored.sha256, row["ext"], stored.size, new=False)
        return stored

    def add_visit(
        self,
        patient: str,
        lesion: str,
        image: Path | bytes,
        result: ImageResult,
        model: ModelInfo,
        *,
        site: str | None = None,
        taken: str | None = None,
        note: str = "",
        lesion_note: str = "",
        name: str | None = None,
    ) -> dict[str, Any]:
        """Store one visit (image copy + result) in ONE transaction; returns its record.

        ``image`` is the file that was classified (or encoded bytes of an in-memory
        image). A file that changed between classification and copying is refused.
        """
        code, label = check_patient(patient), check_lesion(lesion)
        site = check_site(site) if site is not None else None
        taken, note = check_date(taken), check_note(note)
        if result.prediction is None:
            raise HistoryError(result.error or "the image was not classified")
        shown = name or (image.name if isinstance(image, Path) else "image.png")
        before = _fingerprint(image) if isinstance(image, Path) else None
        with self.store.write():
            lesion_id = self._ensure_lesion(code, label, site, check_note(lesion_note))
            sha = self._put_image(image, shown).sha256
            if before is not None and _fingerprint(image) != before:
                raise HistoryError(f"{shown}: the file changed while it was being stored")
            cur = self.conn.execute(
                """INSERT INTO visit (lesion_id, taken, image_sha256, original_name, note, created)
                   VALUES (?, ?, ?, ?, ?, ?)""",
                (lesion_id, taken, sha, shown, note, now_utc()),
            )
            visit_id = int(cur.lastrowid)
            self._insert_result(visit_id, result, model)
        return self.visit(visit_id)

    def add_result(self, visit_id: int, result: ImageResult, model: ModelInfo) -> dict[str, Any]:
        """Re-classification: a new result beside the old ones (nothing is overwritten)."""
        with self.store.write():
            if not self.conn.execute("SELECT 1 FROM visit WHERE id = ?", (visit_id,)).fetchone():
                raise HistoryError(f"no visit with id {visit_id}")
            self._insert_result(visit_id, result, model)
        return self.visit(visit_id)

    def set_visit_note(self, visit_id: int, note: str) -> None:
        with self.store.write():
            self.conn.execute(
                "UPDATE visit SET note = ? WHERE id = ?", (check_note(note), visit_id)
            )

    # Deleting -----------------------------------------------------------------------------
    def plan_delete(
        self, patient: str, lesion: str | None = None, visit_id: int | None = None
    ) -> DeletePlan:
        """What deleting the patient, one lesion or one visit would remove (nothing yet)."""
        pid = self.require_patient(patient)
        code = self.conn.execute("SELECT code FROM patient WHERE id = ?", (pid,)).fetchone()["code"]
        if visit_id is not None:
            row = self.conn.execute(
                """SELECT v.id FROM visit v JOIN lesion l ON l.id = v.lesion_id
                   WHERE v.id = ? AND l.patient_id = ?""",
                (visit_id, pid),
            ).fetchone()
            if row is None:
                raise HistoryError(f"patient {code!r} has no visit {visit_id}")
            plan = DeletePlan(f"visit {visit_id} of patient {code!r}", code, visit_ids=[visit_id])
        elif lesion is not None:
            row = self.conn.execute(
                "SELECT id FROM lesion WHERE patient_id = ? AND label = ?",
                (pid, check_lesion(lesion)),
            ).fetchone()
            if row is None:
                raise HistoryError(f"patient {code!r} has no lesion {lesion!r}")
            lid = int(row["id"])
            visits = [
                int(r["id"])
                for r in self.conn.execute("SELECT id FROM visit WHERE lesion_id = ?", (lid,))
            ]
            plan = DeletePlan(f"lesion {lesion!r} of patient {code!r}", code, [lid], visits)
        else:
            lesions = [
                int(r["id"])
                for r in self.conn.execute("SELECT id FROM lesion WHERE patient_id = ?", (pid,))
            ]
            visits = [
                int(r["id"])
                for r in self.conn.execute(
                    "SELECT v.id FROM visit v JOIN lesion l ON l.id = v.lesion_id "
                    "WHERE l.patient_id = ?",
                    (pid,),
                )
            ]
            plan = DeletePlan(f"patient {code!r}", code, lesions, visits, patient_id=pid)
        plan.images = len(self._images_only_used_by(plan.visit_ids))
        return plan

    def _images_only_used_by(self, visit_ids: list[int]) -> list[tuple[str, str]]:
        if not visit_ids:
            return []
        ids = set(visit_ids)
        out = []
        shas = {
            r["image_sha256"]
            for r in self.conn.execute(
                f"SELECT image_sha256 FROM visit WHERE id IN ({','.join('?' * len(ids))})",
                list(ids),
            )
        }
        for sha in sorted(shas):
            users = {
                r["id"]
                for r in self.conn.execute("SELECT id FROM visit WHERE image_sha256 = ?", (sha,))
            }
            if users <= ids:
                ext = self.conn.execute(
                    "SELECT ext FROM image WHERE sha256 = ?", (sha,)
                ).fetchone()["ext"]
                out.append((sha, ext))
        return out

    def delete(self, plan: DeletePlan) -> int:
        """Delete rows in one transaction, then their image files; returns files removed.

        Only this explicit, committed delete removes image files. If the process
        dies between the commit and the removal, the files are moved to
        ``quarantine/`` at the next start-up (where ``check`` lists them).
        """
        with self.store.write():
            doomed = self._images_only_used_by(plan.visit_ids)
            if plan.patient_id is not None:
                self.conn.execute("DELETE FROM patient WHERE id = ?", (plan.patient_id,))
            elif plan.lesion_ids:
                marks = ",".join("?" * len(plan.lesion_ids))
                self.conn.execute(f"DELETE FROM lesion WHERE id IN ({marks})", plan.lesion_ids)
            else:
                marks = ",".join("?" * len(plan.visit_ids))
                self.conn.execute(f"DELETE FROM visit WHERE id IN ({marks})", plan.visit_ids)
            for sha, _ in doomed:
                self.conn.execute("DELETE FROM image WHERE sha256 = ?", (sha,))
        removed = 0
        for sha, ext in doomed:
            removed += int(self.store.images.remove(sha, ext))
        return removed

    # Stored photos ----------------------------------------------------------------------
    def verified_photo(self, visit_id: int) -> Path:
        """The visit's photo after checking it against its SHA-256 (DamagedPhotoError if not)."""
        row = self.conn.execute(
            "SELECT image_sha256 FROM visit WHERE id = ?", (visit_id,)
        ).fetchone()
        if row is None:
            raise HistoryError(f"no visit with id {visit_id}")
        return self.store.verified_image(row["image_sha256"], f"the photo of visit {visit_id}")

    def recover(
        self, patient: str = RECOVERED_PATIENT, lesion: str = RECOVERED_LESION
    ) -> RecoverReport:
        """Quarantined photos back as visits of ``patient``/``lesion`` (no result: re-classify).

        Each file must match the SHA-256 in its name and decode as an image; the
        visit's date is the file's modification time (when it was stored) and
        its note says it was recovered. A photo already stored as a visit is a
        duplicate: its quarantined copy is removed once the stored one checks out.
        """
        code, label = check_patient(patient), check_lesion(lesion)
        report = RecoverReport()
        for sha, ext, path in self.store.quarantined():
            why = _unrecoverable(path, sha)
            if why:
                report.skipped.append((path, why))
                continue
            taken = min(date.fromtimestamp(path.stat().st_mtime), date.today()).isoformat()
            with self.store.write():
                if self._photo_in_use(sha):
                    report.duplicates += 1
                else:
                    lesion_id = self._ensure_lesion(code, label, None, "")
                    stored = self._put_image(path, path.name, ext)
                    cur = self.conn.execute(
                        """INSERT INTO visit (lesion_id, taken, image_sha256, original_name,
                               note, created) VALUES (?, ?, ?, ?, ?, ?)""",
                        (lesion_id, taken, stored.sha256, path.name, RECOVERED_NOTE, now_utc()),
                    )
                    report.visit_ids.append(int(cur.lastrowid))
            path.unlink()  # its bytes are now in images/, checked by hash
        return report

    def _photo_in_use(self, sha: str) -> bool:
        """Inside a transaction: a visit already uses this photo and the stored copy is good."""
        used = self.conn.execute("SELECT 1 FROM visit WHERE image_sha256 = ?", (sha,)).fetchone()
        if used is None:
            return False
        with contextlib.suppress(DamagedPhotoError):
            self.store.verified_image(sha)
            return True
        return False

    # Export and import (desktop.history.transfer) ----------------------------------------
    def export(self, patient: str, to: Path, pdf_writer: PdfWriter | None = None) -> ExportSummary:
        """See :func:`desktop.history.transfer.export_case`; every photo is checked by hash
        before anything is written, and every exported copy after."""
        from desktop.history import transfer  # it builds on this module

        case = self.show(patient)
        for lesion in case["lesions"]:
            for visit in lesion["visits"]:
                self.verified_photo(visit["id"])
        summary = transfer.export_case(self, patient, to, pdf_writer)
        for lesion in case["lesions"]:
            for visit in lesion["visits"]:
                image = visit["image"]
                copy = Path(to) / "images" / f"{image['sha256']}{image['ext']}"
                if sha256_file(copy) != image["sha256"]:
                    raise DamagedPhotoError(
                        f"the exported copy {copy} does not match its SHA-256 (the stored photo "
                        "changed while exporting); export again into a new folder"
                    )
        return summary

    def import_case(self, folder: Path, as_patient: str | None = None) -> dict[str, Any]:
        """See :func:`desktop.history.transfer.import_case`.

        Two imports of one case at once: the second finds the patient created by
        the first only at commit; that is "already exists", not a crash.
        """
        from desktop.history import transfer

        try:
            return transfer.import_case(self, folder, as_patient)
        except sqlite3.IntegrityError:
            raise HistoryError(
                "the patient of this import already exists here (imported at the same time by "
                "another window or command); import with --as-patient NEWID"
            ) from None


RECOVERED_NOTE = "recovered: photo found in quarantine/ without its visit; not yet classified"


@dataclass
class RecoverReport:
    """What ``recover`` did: new visit ids, duplicates dropped, files it could not use (why)."""

    visit_ids: list[int] = field(default_factory=list)
    duplicates: int = 0
    skipped: list[tuple[Path, str]] = field(default_factory=list)


def _unrecoverable(path: Path, sha: str) -> str:
    """Why a quarantined file cannot become a visit ('' when it can)."""
    from desktop.imaging import ImageLoadError, open_image

    try:
        if sha256_file(path) != sha:
            return "its bytes do not match the SHA-256 in its name"
    except OSError as exc:
        return f"cannot be read ({exc.strerror or exc})"
    try:
        open_image(path)
    except ImageLoadError as exc:
        return f"not a usable image ({str(exc).split(': ', 1)[-1]})"
    return ""


_STATUS_CACHE: dict[tuple[str, int, int, int, int], str] = {}


def photo_status(path: Path, sha256: str) -> str:
    """OK, MISSING or DAMAGED, hashing a file again only when its size, times or inode changed.

    Any write to a file changes its ctime, so a substituted photo is caught;
    bit rot without a write is for ``history check``, which always hashes.
    """
    try:
        st = path.stat()
    except FileNotFoundError:
        return MISSING
    except OSError:
        return DAMAGED
    key = (str(path), st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_ino)
    if key not in _STATUS_CACHE:
        if len(_STATUS_CACHE) > 100_000:
            _STATUS_CACHE.clear()
        try:
            _STATUS_CACHE[key] = OK if sha256_file(path) == sha256 else DAMAGED
        except OSError:
            return DAMAGED
    return _STATUS_CACHE[key]


def _fingerprint(path: Path) -> tuple[int, int]:
    st = path.stat()
    return st.st_size, st.st_mtime_ns


def current_result(visit: dict[str, Any]) -> dict[str, Any] | None:
    """A visit's newest result (re-classification adds results; none is overwritten)."""
    return visit["results"][-1] if visit.get("results") else None


def melanoma_series(lesion: dict[str, Any]) -> list[dict[str, Any]]:
    """Per visit, in date order: date, level and melanoma probability of the current result
    (None where the image could not be assessed: no number is drawn for it), plus the
    probabilities of earlier results so a chart can show what re-classification changed."""
    series = []
    for visit in lesion["visits"]:
        current = current_result(visit)
        if current is None:
            continue
        level, _ = describe(current)
        series.append(
            {
                "visit_id": visit["id"],
                "date": visit["date"],
                "level": level,
                "value": None if level == CANNOT_ASSESS else current["melanoma_probability"],
                "threshold": current["threshold"],
                "earlier": [
                    r["melanoma_probability"]
                    for r in visit["results"][:-1]
                    if describe(r)[0] != CANNOT_ASSESS
                ],
            }
        )
    return series
