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
from datetime import date, timedelta
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
from desktop.labelled.labels import CLASSES
from desktop.results import ImageResult
from desktop.verdict import CANNOT_ASSESS, LEVEL_TEXT, NO_ALERT, verdict_of

if TYPE_CHECKING:
    from desktop.history.transfer import ExportSummary, PdfWriter

# Anatomical sites as the ISIC archive groups them (anatom_site_general), with face and
# scalp apart from the rest of head/neck, plus "unspecified".
BODY_SITES = (
    "head/neck",
    "face",
    "scalp",
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
LATERALITIES = ("left", "right", "midline")  # "" when not given (stores made before it)
DECISIONS = ("monitor", "excise", "refer", "discharge")
OTHER_OUTCOME = "other"
OUTCOMES = (*CLASSES, OTHER_OUTCOME)  # histology: one of the model's classes, or other
DUE_SOON_DAYS = 7  # "due" means a review date within this many days; earlier is overdue
# Fields whose edits are logged: on a visit, and on its lesion.
VISIT_FIELDS = ("date", "note", "decision", "next_review")
LESION_FIELDS = ("site", "laterality", "outcome")
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


def parse_iso_date(text: str, what: str = "date") -> date:
    """A strict ``YYYY-MM-DD`` day (no other form: a typed 20/11 is ambiguous across locales)."""
    value = str(text).strip()
    if not re.fullmatch(r"\d{4}-\d{2}-\d{2}", value):
        raise HistoryError(f"{what} {value!r} is not in the form YYYY-MM-DD")
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise HistoryError(f"{what} {value!r} does not exist") from None


def check_date(text: str | None) -> str:
    """ISO ``YYYY-MM-DD``, not in the future; today when not given."""
    if text is None or not str(text).strip():
        return date.today().isoformat()
    day = parse_iso_date(str(text))
    if day > date.today():
        raise HistoryError(f"date {day.isoformat()} is in the future")
    return day.isoformat()


def check_review_date(text: str | None) -> str | None:
    """A next-review date (may be in the future); None when not given or cleared."""
    if text is None or not str(text).strip():
        return None
    return parse_iso_date(str(text), "next review date").isoformat()


def check_laterality(side: str | None) -> str:
    """left, right or midline; '' when not given."""
    value = " ".join(str(side or "").lower().split())
    if value and value not in LATERALITIES:
        raise HistoryError(f"unknown side {side!r}; choose one of: {', '.join(LATERALITIES)}")
    return value


def check_decision(decision: str | None) -> str | None:
    """monitor, excise, refer or discharge; None when not given or cleared."""
    value = " ".join(str(decision or "").lower().split())
    if not value:
        return None
    if value not in DECISIONS:
        raise HistoryError(f"unknown decision {decision!r}; choose one of: {', '.join(DECISIONS)}")
    return value


def check_outcome(diagnosis: str) -> str:
    """A histology diagnosis: one of the nine classes, or 'other' (say what in the note)."""
    value = " ".join(str(diagnosis or "").lower().replace("_", " ").split())
    if value not in OUTCOMES:
        raise HistoryError(
            f"unknown histology diagnosis {diagnosis!r}; choose one of: {', '.join(OUTCOMES)}"
        )
    return value


def _name_word(word: str) -> bool:
    """A capitalised word of letters ("Anna", "O'Brien", "Jean-Luc")."""
    word = word.rstrip(".")
    parts = re.split(r"['’-]", word)
    return (
        len(word) >= 2
        and all(part.isalpha() for part in parts)
        and word[0].isupper()
        and any(ch.islower() for ch in word)
    )


def looks_like_name(code: str) -> bool:
    """Two or more capitalised words ("Anna Smith"): the id may be a name, not a pseudonym.

    A warning only: a clinic may have ids that look so; names are what it should not store.
    """
    words = str(code).replace(",", " ").split()
    return len(words) >= 2 and all(_name_word(w) for w in words)


def site_text(site: str, laterality: str = "") -> str:
    """'upper extremity, left' for people; the site alone when no side was given."""
    return f"{site}, {laterality}" if laterality else site


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
def assessed(result: dict[str, Any]) -> bool:
    """False for a result whose image could not be assessed: it has no class at all."""
    return CANNOT_ASSESS not in (result.get("alert_level"), result.get("verdict"))


def _result_json(row: Any) -> dict[str, Any]:
    """A stored result; one that could not be assessed reads back with no class, no
    probabilities and no melanoma figure, whatever an older store kept for it."""
    out = {
        "id": row["id"],
        "created": row["created"],
        "label": row["label"],
        "probabilities": json.loads(row["probabilities"]) if row["probabilities"] else None,
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
    if not assessed(out):
        out.update(label=None, probabilities=None, melanoma_probability=None)
    return out


def _edit_json(row: Any) -> dict[str, Any]:
    return {
        "field": row["field"],
        "old": row["old_value"],
        "new": row["new_value"],
        "edited": row["edited"],
    }


def _outcome_json(row: Any) -> dict[str, Any] | None:
    if not row["outcome"]:
        return None
    return {
        "diagnosis": row["outcome"],
        "date": row["outcome_date"],
        "note": row["outcome_note"],
        "recorded": row["outcome_recorded"],
    }


@dataclass(frozen=True)
class PatientSummary:
    """One row of the case browser."""

    code: str
    lesions: int
    visits: int
    last_visit: str | None
    alerts: int  # visits whose current result is a melanoma alert


@dataclass(frozen=True)
class DueLesion:
    """A lesion whose review is due or overdue (case browser, ``history due``)."""

    patient: str
    lesion_id: int
    lesion: str
    site: str
    last_visit: str
    last_number: int  # the latest visit's number, which set the review
    decision: str | None
    next_review: str
    days_over: int  # > 0 overdue by that many days, 0 due today, < 0 due in that many

    @property
    def overdue(self) -> bool:
        return self.days_over > 0


def _check_review(review: str | None, taken: str) -> str | None:
    """A next-review date, which must not come before the visit that set it."""
    value = check_review_date(review)
    if value is not None and value < taken:
        raise HistoryError(f"next review date {value} is before the visit's date ({taken})")
    return value


def _outcome_words(outcome: dict[str, Any]) -> str:
    return f"{outcome['diagnosis']} ({outcome['date']})"


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


def _same_site(code: str, label: str, row: Any, site: str | None, laterality: str | None) -> None:
    """Refuse a site or side that contradicts the lesion's stored one (None: not given)."""
    if site is not None and site != row["site"]:
        raise HistoryError(
            f"lesion {label!r} of patient {code!r} is recorded at {row['site']!r}, "
            f"not {site!r}; give the same --site or none (history edit changes it)"
        )
    if laterality and row["laterality"] and laterality != row["laterality"]:
        raise HistoryError(
            f"lesion {label!r} of patient {code!r} is recorded on the {row['laterality']} "
            f"side, not {laterality}; give the same --side or none (history edit changes it)"
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
            """SELECT l.id, l.label, l.site, l.laterality, l.note, l.created, l.outcome,
                      l.outcome_date, l.outcome_note, l.outcome_recorded, COUNT(v.id) AS visits,
                      MIN(v.taken) AS first_visit, MAX(v.taken) AS last_visit
               FROM lesion l LEFT JOIN visit v ON v.lesion_id = l.id
               WHERE l.patient_id = ? GROUP BY l.id
               ORDER BY COALESCE(MIN(v.taken), l.created), l.label""",
            (pid,),
        ).fetchall()
        out = []
        for r in rows:
            lesion = {k: r[k] for k in ("id", "label", "site", "laterality", "note", "created")}
            lesion.update(
                visits=r["visits"],
                first_visit=r["first_visit"],
                last_visit=r["last_visit"],
                outcome=_outcome_json(r),
            )
            out.append(lesion)
        return out

    def _lesion_row(self, lesion_id: int) -> Any:
        row = self.conn.execute(
            """SELECT l.*, p.code AS patient
               FROM lesion l JOIN patient p ON p.id = l.patient_id WHERE l.id = ?""",
            (lesion_id,),
        ).fetchone()
        if row is None:
            raise HistoryError(f"no lesion with id {lesion_id}")
        return row

    def lesion(self, lesion_id: int) -> dict[str, Any]:
        """One lesion with its patient id and every visit and result, in date order."""
        row = self._lesion_row(lesion_id)
        lesion = {k: row[k] for k in ("id", "label", "site", "laterality", "note", "created")}
        lesion.update(
            patient=row["patient"],
            outcome=_outcome_json(row),
            edits=self._lesion_edits([lesion_id])[lesion_id],
            visits=self._visits([lesion_id])[lesion_id],
        )
        return lesion

    def _lesion_edits(self, lesion_ids: list[int]) -> dict[int, list[dict[str, Any]]]:
        """Edits of lesion fields (site, side, outcome), oldest first."""
        out: dict[int, list[dict[str, Any]]] = {i: [] for i in lesion_ids}
        marks = ",".join("?" * len(lesion_ids))
        for r in self.conn.execute(
            f"""SELECT * FROM edit WHERE visit_id IS NULL AND lesion_id IN ({marks})
                ORDER BY id""",
            lesion_ids,
        ):
            out[r["lesion_id"]].append(_edit_json(r))
        return out

    def _visits(self, lesion_ids: list[int]) -> dict[int, list[dict[str, Any]]]:
        """Each lesion's visits in date order, numbered 1, 2, 3… in that order.

        The number is derived (date, then order of storing), never stored: it stays
        1..n after a delete and is the same after an export and import.
        """
        out: dict[int, list[dict[str, Any]]] = {i: [] for i in lesion_ids}
        if not lesion_ids:
            return out
        marks = ",".join("?" * len(lesion_ids))
        visits = self.conn.execute(
            f"""SELECT v.id, v.lesion_id, v.taken, v.note, v.created, v.original_name,
                       v.decision, v.next_review, v.image_sha256, i.ext, i.bytes
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
        edits: dict[int, list[dict[str, Any]]] = {}
        for r in self.conn.execute(
            f"SELECT * FROM edit WHERE visit_id IS NOT NULL AND lesion_id IN ({marks}) ORDER BY id",
            lesion_ids,
        ):
            edits.setdefault(r["visit_id"], []).append(_edit_json(r))
        for v in visits:
            record = self._visit_json(v, results.get(v["id"], []))
            record["number"] = len(out[v["lesion_id"]]) + 1
            record["edits"] = edits.get(v["id"], [])
            out[v["lesion_id"]].append(record)
        return out

    def _visit_json(self, v: Any, results: list[dict[str, Any]]) -> dict[str, Any]:
        sha, ext = v["image_sha256"], v["ext"]
        status = photo_status(self.store.images.path_for(sha, ext), sha)
        return {
            "id": v["id"],
            "date": v["taken"],
            "note": v["note"],
            "created": v["created"],
            "decision": v["decision"],
            "next_review": v["next_review"],
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
        ids = [int(lesion["id"]) for lesion in lesions]
        visits, edits = self._visits(ids), self._lesion_edits(ids)
        return {
            "patient": prow["code"],
            "created": prow["created"],
            "lesions": [
                {
                    **{k: lesion[k] for k in ("id", "label", "site", "laterality", "note")},
                    "created": lesion["created"],
                    "outcome": lesion["outcome"],
                    "edits": edits[lesion["id"]],
                    "visits": visits[lesion["id"]],
                }
                for lesion in lesions
            ],
        }

    def visit(self, visit_id: int) -> dict[str, Any]:
        """One visit with its results, number, patient and lesion names."""
        row = self.conn.execute(
            """SELECT v.lesion_id FROM visit v WHERE v.id = ?""", (visit_id,)
        ).fetchone()
        if row is None:
            raise HistoryError(f"no visit with id {visit_id}")
        lesion = self.lesion(int(row["lesion_id"]))
        record = next(v for v in lesion["visits"] if v["id"] == visit_id)
        record.update(
            patient=lesion["patient"],
            lesion=lesion["label"],
            site=lesion["site"],
            laterality=lesion["laterality"],
            lesion_id=lesion["id"],
        )
        return record

    def visit_id(self, patient: str, lesion: str | None, number: int) -> int:
        """The stored id of visit ``number`` (1, 2, 3… by date) of a lesion of the patient."""
        lesion_id = self.pick_lesion(patient, lesion)
        ids = [
            int(r["id"])
            for r in self.conn.execute(
                "SELECT id FROM visit WHERE lesion_id = ? ORDER BY taken, id", (lesion_id,)
            )
        ]
        if not 1 <= number <= len(ids):
            label = self._lesion_row(lesion_id)["label"]
            raise HistoryError(
                f"lesion {label!r} of patient {patient!r} has no visit {number} (it has {len(ids)})"
            )
        return ids[number - 1]

    def pick_lesion(self, patient: str, lesion: str | None) -> int:
        """The named lesion's id; without a name the patient must have one lesion only."""
        if lesion is not None:
            return self.lesion_id(patient, lesion)
        pid = self.require_patient(patient)
        rows = self.conn.execute("SELECT id FROM lesion WHERE patient_id = ?", (pid,)).fetchall()
        if len(rows) != 1:
            raise HistoryError(
                f"patient {patient!r} has {len(rows)} lesions; say which with --lesion NAME"
            )
        return int(rows[0]["id"])

    def lesion_id(self, patient: str, lesion: str) -> int:
        pid = self.require_patient(patient)
        row = self.conn.execute(
            "SELECT id FROM lesion WHERE patient_id = ? AND label = ?", (pid, check_lesion(lesion))
        ).fetchone()
        if row is None:
            raise HistoryError(f"patient {patient!r} has no lesion {lesion!r}")
        return int(row["id"])

    # Writes -------------------------------------------------------------------------------
    def _ensure_lesion(
        self, code: str, label: str, site: str | None, note: str, laterality: str | None = None
    ) -> int:
        """Inside a transaction: the lesion's id, creating patient and lesion when new."""
        now = now_utc()
        self.conn.execute(
            "INSERT INTO patient (code, created) VALUES (?, ?) ON CONFLICT(code) DO NOTHING",
            (code, now),
        )
        pid = self.patient_id(code)
        row = self.conn.execute(
            "SELECT id, site, laterality FROM lesion WHERE patient_id = ? AND label = ?",
            (pid, label),
        ).fetchone()
        if row is not None:
            _same_site(code, label, row, site, laterality)
            return int(row["id"])
        cur = self.conn.execute(
            """INSERT INTO lesion (patient_id, label, site, laterality, note, created)
               VALUES (?, ?, ?, ?, ?, ?)""",
            (pid, label, site or DEFAULT_SITE, laterality or "", note, now),
        )
        return int(cur.lastrowid)

    def check_lesion_site(
        self, patient: str, lesion: str, site: str | None, laterality: str | None = None
    ) -> None:
        """Refuse a site or side that contradicts the stored one before any work is done."""
        code, label = check_patient(patient), check_lesion(lesion)
        row = self.conn.execute(
            """SELECT l.site, l.laterality FROM lesion l JOIN patient p ON p.id = l.patient_id
               WHERE p.code = ? AND l.label = ?""",
            (code, label),
        ).fetchone()
        if row is not None:
            side = check_laterality(laterality) if laterality is not None else None
            _same_site(code, label, row, check_site(site) if site is not None else None, side)

    def first_visit(self, patient: str, ignore_visit: int | None = None) -> str | None:
        """The date of the patient's first visit (not counting ``ignore_visit``); None if none."""
        row = self.conn.execute(
            """SELECT MIN(v.taken) FROM visit v JOIN lesion l ON l.id = v.lesion_id
               JOIN patient p ON p.id = l.patient_id WHERE p.code = ? AND v.id IS NOT ?""",
            (check_patient(patient), ignore_visit),
        ).fetchone()
        return row[0] if row else None

    def check_visit_date(
        self,
        patient: str,
        taken: str | None,
        *,
        ignore_visit: int | None = None,
        before_first: bool = False,
    ) -> str:
        """A visit date: ISO, not in the future, and not before the patient's first visit.

        An earlier date is most often a mistyped year; ``before_first`` says the photo
        really is older than every stored visit (a photo brought from an earlier clinic).
        """
        day = check_date(taken)
        first = self.first_visit(patient, ignore_visit)
        if first is not None and day < first and not before_first:
            raise HistoryError(
                f"date {day} is before patient {check_patient(patient)!r}'s first visit "
                f"({first}); check the year, or confirm that the photo is that old"
            )
        return day

    def _insert_result(
        self, visit_id: int, result: ImageResult, model: ModelInfo, created: str | None = None
    ) -> None:
        pred = result.prediction
        if pred is None:
            raise HistoryError(result.error or "no classification to store")
        verdict = verdict_of(result, model.card)
        # An image that could not be assessed keeps no class, probabilities or melanoma
        # figure: numbers from a photo the model should not read would be read anyway.
        known = pred.alert_level != CANNOT_ASSESS and verdict.level != CANNOT_ASSESS
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
        laterality: str | None = None,
        decision: str | None = None,
        next_review: str | None = None,
        before_first: bool = False,
    ) -> dict[str, Any]:
        """Store one visit (image copy + result) in ONE transaction; returns its record.

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
            review = _check_review(next_review, taken)
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
        return self.visit(visit_id)

    def add_result(self, visit_id: int, result: ImageResult, model: ModelInfo) -> dict[str, Any]:
        """Re-classification: a new result beside the old ones (nothing is overwritten)."""
        with self.store.write():
            if not self.conn.execute("SELECT 1 FROM visit WHERE id = ?", (visit_id,)).fetchone():
                raise HistoryError(f"no visit with id {visit_id}")
            self._insert_result(visit_id, result, model)
        return self.visit(visit_id)

    def set_visit_note(self, visit_id: int, note: str) -> None:
        self.edit_visit(visit_id, note=note)

    # Edits (each logged with its old value) ----------------------------------------------
    def _log(
        self, lesion_id: int, visit_id: int | None, what: str, old: Any, new: Any, when: str
    ) -> None:
        self.conn.execute(
            """INSERT INTO edit (lesion_id, visit_id, field, old_value, new_value, edited)
               VALUES (?, ?, ?, ?, ?, ?)""",
            (lesion_id, visit_id, what, old, new, when),
        )

    def edit_visit(
        self,
        visit_id: int,
        *,
        taken: str | None = None,
        note: str | None = None,
        decision: str | None = None,
        next_review: str | None = None,
        before_first: bool = False,
    ) -> list[str]:
        """Change a visit's date, note, decision or next review (None: leave as it is; ''
        clears a decision or review date). Each change is logged with its old value, in the
        same transaction; returns the fields that changed. A date before the patient's first
        visit as stored now (this one included) needs ``before_first``."""
        with self.store.write():
            row = self.conn.execute(
                """SELECT v.*, p.code FROM visit v JOIN lesion l ON l.id = v.lesion_id
                   JOIN patient p ON p.id = l.patient_id WHERE v.id = ?""",
                (visit_id,),
            ).fetchone()
            if row is None:
                raise HistoryError(f"no visit with id {visit_id}")
            new = {
                "taken": row["taken"]
                if taken is None
                else self.check_visit_date(row["code"], taken, before_first=before_first),
                "note": row["note"] if note is None else check_note(note),
                "decision": row["decision"] if decision is None else check_decision(decision),
            }
            review = row["next_review"] if next_review is None else next_review
            new["next_review"] = _check_review(review, new["taken"])
            changed = [k for k, v in new.items() if v != row[k]]
            when = now_utc()
            for key in changed:
                what = "date" if key == "taken" else key
                self._log(row["lesion_id"], visit_id, what, row[key], new[key], when)
            if changed:
                sets = ", ".join(f"{k} = ?" for k in changed)
                self.conn.execute(
                    f"UPDATE visit SET {sets} WHERE id = ?", [new[k] for k in changed] + [visit_id]
                )
        return ["date" if k == "taken" else k for k in changed]

    def edit_lesion(
        self, lesion_id: int, *, site: str | None = None, laterality: str | None = None
    ) -> list[str]:
        """Change a lesion's body site or side (None: leave as it is), logged with the old value."""
        with self.store.write():
            row = self._lesion_row(lesion_id)
            new = {
                "site": row["site"] if site is None else check_site(site),
                "laterality": row["laterality"]
                if laterality is None
                else check_laterality(laterality),
            }
            changed = [k for k, v in new.items() if v != row[k]]
            when = now_utc()
            for key in changed:
                self._log(lesion_id, None, key, row[key], new[key], when)
                self.conn.execute(
                    f"UPDATE lesion SET {key} = ? WHERE id = ?", (new[key], lesion_id)
                )
        return changed

    def set_outcome(
        self, lesion_id: int, diagnosis: str, when: str | None = None, note: str = ""
    ) -> dict[str, Any]:
        """Record the lesion's histology (one of the classes or 'other'), dated; a change of
        an earlier outcome is logged with the old one. Returns the outcome as stored."""
        diagnosis, note = check_outcome(diagnosis), check_note(note)
        day = check_date(when)
        with self.store.write():
            row = self._lesion_row(lesion_id)
            first = self.conn.execute(
                "SELECT MIN(taken) FROM visit WHERE lesion_id = ?", (lesion_id,)
            ).fetchone()[0]
            if first is not None and day < first:
                raise HistoryError(
                    f"histology date {day} is before the lesion's first visit ({first})"
                )
            old, now = _outcome_json(row), now_utc()
            if old is not None:
                words = _outcome_words({"diagnosis": diagnosis, "date": day})
                self._log(lesion_id, None, "outcome", _outcome_words(old), words, now)
            self.conn.execute(
                """UPDATE lesion SET outcome = ?, outcome_date = ?, outcome_note = ?,
                       outcome_recorded = ? WHERE id = ?""",
                (diagnosis, day, note, now, lesion_id),
            )
        return self.lesion(lesion_id)["outcome"]

    # Follow-up ---------------------------------------------------------------------------
    def due(self, within_days: int = DUE_SOON_DAYS, today: date | None = None) -> list[DueLesion]:
        """Lesions whose latest visit set a review date that is past or within ``within_days``.

        A lesion with a histology outcome, or whose latest decision is discharge, is not due.
        Overdue first, then by review date.
        """
        today = today or date.today()
        limit = (today + timedelta(days=max(0, within_days))).isoformat()
        rows = self.conn.execute(
            """WITH latest AS (
                   SELECT v.*, ROW_NUMBER() OVER (
                       PARTITION BY v.lesion_id ORDER BY v.taken DESC, v.id DESC) AS back,
                       COUNT(*) OVER (PARTITION BY v.lesion_id) AS n
                   FROM visit v)
               SELECT p.code, l.id AS lesion_id, l.label, l.site, l.laterality, latest.taken,
                      latest.n, latest.decision, latest.next_review
               FROM latest JOIN lesion l ON l.id = latest.lesion_id
               JOIN patient p ON p.id = l.patient_id
               WHERE latest.back = 1 AND latest.next_review IS NOT NULL
                 AND latest.next_review <= ? AND l.outcome IS NULL
                 AND COALESCE(latest.decision, '') != 'discharge'
               ORDER BY latest.next_review, p.code, l.label""",
            (limit,),
        ).fetchall()
        return [
            DueLesion(
                r["code"],
                r["lesion_id"],
                r["label"],
                site_text(r["site"], r["laterality"]),
                r["taken"],
                r["n"],
                r["decision"],
                r["next_review"],
                (today - date.fromisoformat(r["next_review"])).days,
            )
            for r in rows
        ]

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
            v = self.visit(visit_id)
            what = f"visit {v['number']} of {v['date']} (lesion {v['lesion']!r}, patient {code!r})"
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
