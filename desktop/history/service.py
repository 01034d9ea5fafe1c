"""Patients, lesions, visits and results: what the command line and the window do with a store.

Qt-free and classifier-agnostic: callers classify (``desktop.results``) and hand
the :class:`~desktop.results.ImageResult` in, so the same code stores a result
from the window, the command line or a re-classification. Every change is one
transaction (:meth:`Store.write`); image files are written inside it and removed
only after the rows that named them are gone, and only by a delete the user
asked for. A stored photo is checked against its SHA-256 before any use.

:class:`History` is put together from parts, one responsibility each: reading
(:mod:`~desktop.history.queries`), follow-up (:mod:`~desktop.history.followup`) and
photos (:mod:`~desktop.history.photos`); adding visits, deleting and export/import are
here. The names callers know (field rules, errors, records) are re-exported from
:mod:`~desktop.history.records`, :mod:`~desktop.history.stored` (what a read returns) and the
parts, so ``desktop.history.service`` stays the one import.
"""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from desktop.history.followup import DueLesion, FollowUp, check_review_after
from desktop.history.images import photo_status, sha256_file
from desktop.history.photos import RECOVERED_LESION, RECOVERED_PATIENT, Photos, RecoverReport
from desktop.history.records import (
    BODY_SITES,
    DECISIONS,
    DEFAULT_SITE,
    DUE_SOON_DAYS,
    LATERALITIES,
    LESION_FIELDS,
    MAX_CODE,
    MAX_LABEL,
    MAX_NOTE,
    OTHER_OUTCOME,
    OUTCOMES,
    PHOTO_WORDS,
    VISIT_FIELDS,
    HistoryError,
    ModelInfo,
    PatientSummary,
    UnknownPatientError,
    check_date,
    check_decision,
    check_laterality,
    check_lesion,
    check_note,
    check_outcome,
    check_patient,
    check_review_date,
    check_site,
    looks_like_name,
    model_info,
    parse_iso_date,
    site_text,
)
from desktop.history.store import DamagedPhotoError, now_utc
from desktop.history.stored import (
    Case,
    Edit,
    Lesion,
    LesionSummary,
    Outcome,
    Photo,
    SeriesPoint,
    StoredResult,
    Visit,
    melanoma_series,
)
from desktop.results import ImageResult
from desktop.verdict import CANNOT_ASSESS, alert_level, is_uncertain, uncertain_reasons, verdict_of

if TYPE_CHECKING:
    from desktop.history.transfer import ExportSummary, PdfWriter

__all__ = [
    "BODY_SITES",
    "DECISIONS",
    "DEFAULT_SITE",
    "DUE_SOON_DAYS",
    "LATERALITIES",
    "LESION_FIELDS",
    "MAX_CODE",
    "MAX_LABEL",
    "MAX_NOTE",
    "OTHER_OUTCOME",
    "OUTCOMES",
    "PHOTO_WORDS",
    "RECOVERED_LESION",
    "RECOVERED_PATIENT",
    "VISIT_FIELDS",
    "Case",
    "DeletePlan",
    "DueLesion",
    "Edit",
    "History",
    "HistoryError",
    "Lesion",
    "LesionSummary",
    "ModelInfo",
    "Outcome",
    "PatientSummary",
    "Photo",
    "RecoverReport",
    "SeriesPoint",
    "StoredResult",
    "UnknownPatientError",
    "Visit",
    "check_date",
    "check_decision",
    "check_laterality",
    "check_lesion",
    "check_note",
    "check_outcome",
    "check_patient",
    "check_review_date",
    "check_site",
    "looks_like_name",
    "melanoma_series",
    "model_info",
    "parse_iso_date",
    "photo_status",
    "site_text",
]


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


class History(FollowUp, Photos):
    """The case store's domain operations, on an open :class:`Store`."""

    # Adding visits and results ----------------------------------------------------------
    def _insert_result(
        self, visit_id: int, result: ImageResult, model: ModelInfo, created: str | None = None
    ) -> None:
        pred = result.prediction
        if pred is None:
            raise HistoryError(result.error or "no classification to store")
        verdict = verdict_of(result, model.card)
        # An image that could not be assessed keeps no class, probabilities or melanoma
        # figure: numbers from a photo the model should not read would be read anyway.
        known = alert_level(pred) != CANNOT_ASSESS and verdict.level != CANNOT_ASSESS
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
                )
                if known
                else None,
                pred.label if known else None,
                pred.melanoma_probability if known else None,
                alert_level(pred),
                verdict.level,
                verdict.headline,
                float(pred.melanoma_threshold),
                int(is_uncertain(pred)),
                json.dumps(list(uncertain_reasons(pred))),
                model.version,
                model.sha256,
                created or now_utc(),
            ),
        )

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
        laterality: str | None = None,
        decision: str | None = None,
        next_review: str | None = None,
        before_first: bool = False,
    ) -> dict[str, Any]:
        """Store one visit (image copy + result) in ONE transaction; returns its JSON record
        (:meth:`visit_record`: what ``history add`` prints).

        ``image`` is the file that was classified (or encoded bytes of an in-memory
        image). A file that changed between classification and copying is refused.
        """
        code, label = check_patient(patient), check_lesion(lesion)
        site = check_site(site) if site is not None else None
        side = check_laterality(laterality) if laterality is not None else None
        note, decision = check_note(note), check_decision(decision)
        if result.prediction is None:
            raise HistoryError(result.error or "the image was not classified")
        shown = name or (image.name if isinstance(image, Path) else "image.png")
        before = _fingerprint(image) if isinstance(image, Path) else None
        with self.store.write():
            taken = self.check_visit_date(code, taken, before_first=before_first)
            review = check_review_after(next_review, taken)
            lesion_id = self._ensure_lesion(code, label, site, check_note(lesion_note), side)
            sha = self._put_image(image, shown).sha256
            if before is not None and _fingerprint(image) != before:
                raise HistoryError(f"{shown}: the file changed while it was being stored")
            cur = self.conn.execute(
                """INSERT INTO visit (lesion_id, taken, image_sha256, original_name, note,
                       created, decision, next_review)
                   VALUES (?, ?, ?, ?, ?, ?, ?, ?)""",
                (lesion_id, taken, sha, shown, note, now_utc(), decision, review),
            )
            visit_id = int(cur.lastrowid)
            self._insert_result(visit_id, result, model)
        return self.visit_record(visit_id)

    def add_result(self, visit_id: int, result: ImageResult, model: ModelInfo) -> dict[str, Any]:
        """Re-classification: a new result beside the old ones (nothing is overwritten);
        returns the visit's JSON record."""
        with self.store.write():
            if not self.conn.execute("SELECT 1 FROM visit WHERE id = ?", (visit_id,)).fetchone():
                raise HistoryError(f"no visit with id {visit_id}")
            self._insert_result(visit_id, result, model)
        return self.visit_record(visit_id)

    def set_visit_note(self, visit_id: int, note: str) -> None:
        self.edit_visit(visit_id, note=note)

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
            place, v = self._placed_visit(visit_id)
            what = f"visit {v.number} of {v.date} (lesion {place.label!r}, patient {code!r})"
            plan = DeletePlan(what, code, visit_ids=[visit_id])
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

    # Export and import (desktop.history.transfer) ----------------------------------------
    def export(self, patient: str, to: Path, pdf_writer: PdfWriter | None = None) -> ExportSummary:
        """See :func:`desktop.history.transfer.export_case`; every photo is checked by hash
        before anything is written, and every exported copy after."""
        from desktop.history import transfer  # it builds on this module

        case = self.case(patient)
        for lesion in case.lesions:
            for visit in lesion.visits:
                self.verified_photo(visit.id)
        summary = transfer.export_case(self, patient, to, pdf_writer)
        for lesion in case.lesions:
            for visit in lesion.visits:
                image = visit.image
                copy = Path(to) / "images" / f"{image.sha256}{image.ext}"
                if sha256_file(copy) != image.sha256:
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


def _fingerprint(path: Path) -> tuple[int, int]:
    st = path.stat()
    return st.st_size, st.st_mtime_ns
