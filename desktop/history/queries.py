"""Reading a case store: patients, lesions and visits as records, and the checks a write needs.

The base of :class:`desktop.history.service.History`: its follow-up
(:mod:`desktop.history.followup`) and photo (:mod:`desktop.history.photos`) parts build on
these queries, so each part reads a visit or a lesion the same way. Visits are numbered
1, 2, 3… by date here, and nowhere stored.
"""

from __future__ import annotations

import sqlite3
from typing import Any

from desktop.history.images import photo_status
from desktop.history.records import (
    DEFAULT_SITE,
    HistoryError,
    PatientSummary,
    UnknownPatientError,
    check_date,
    check_laterality,
    check_lesion,
    check_patient,
    check_site,
    same_site,
)
from desktop.history.store import Store, now_utc
from desktop.history.stored import (
    Case,
    Edit,
    Lesion,
    LesionSummary,
    Outcome,
    Photo,
    StoredResult,
    Visit,
)


class CaseQueries:
    """Patients, lesions and visits of an open :class:`Store`, read as records."""

    def __init__(self, store: Store) -> None:
        self.store = store

    @property
    def conn(self) -> sqlite3.Connection:
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

    def lesions(self, code: str) -> list[LesionSummary]:
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
        return [
            LesionSummary(
                *(r[k] for k in ("id", "label", "site", "laterality", "note", "created")),
                visits=r["visits"],
                first_visit=r["first_visit"],
                last_visit=r["last_visit"],
                outcome=Outcome.from_row(r),
            )
            for r in rows
        ]

    def _lesion_row(self, lesion_id: int) -> Any:
        row = self.conn.execute(
            """SELECT l.*, p.code AS patient
               FROM lesion l JOIN patient p ON p.id = l.patient_id WHERE l.id = ?""",
            (lesion_id,),
        ).fetchone()
        if row is None:
            raise HistoryError(f"no lesion with id {lesion_id}")
        return row

    def lesion(self, lesion_id: int) -> Lesion:
        """One lesion with its patient id and every visit and result, in date order."""
        row = self._lesion_row(lesion_id)
        return Lesion(
            *(row[k] for k in ("id", "label", "site", "laterality", "note", "created")),
            patient=row["patient"],
            outcome=Outcome.from_row(row),
            edits=self._lesion_edits([lesion_id])[lesion_id],
            visits=self._visits([lesion_id])[lesion_id],
        )

    def _lesion_edits(self, lesion_ids: list[int]) -> dict[int, tuple[Edit, ...]]:
        """Edits of lesion fields (site, side, outcome), oldest first."""
        out: dict[int, list[Edit]] = {i: [] for i in lesion_ids}
        marks = ",".join("?" * len(lesion_ids))
        for r in self.conn.execute(
            f"""SELECT * FROM edit WHERE visit_id IS NULL AND lesion_id IN ({marks})
                ORDER BY id""",
            lesion_ids,
        ):
            out[r["lesion_id"]].append(Edit.from_row(r))
        return {i: tuple(edits) for i, edits in out.items()}

    def _visits(self, lesion_ids: list[int]) -> dict[int, tuple[Visit, ...]]:
        """Each lesion's visits in date order, numbered 1, 2, 3… in that order.

        The number is derived (date, then order of storing), never stored: it stays
        1..n after a delete and is the same after an export and import.
        """
        out: dict[int, list[Visit]] = {i: [] for i in lesion_ids}
        if not lesion_ids:
            return {}
        marks = ",".join("?" * len(lesion_ids))
        visits = self.conn.execute(
            f"""SELECT v.id, v.lesion_id, v.taken, v.note, v.created, v.original_name,
                       v.decision, v.next_review, v.image_sha256, i.ext, i.bytes
                FROM visit v JOIN image i ON i.sha256 = v.image_sha256
                WHERE v.lesion_id IN ({marks}) ORDER BY v.taken, v.id""",
            lesion_ids,
        ).fetchall()
        results: dict[int, list[StoredResult]] = {}
        for r in self.conn.execute(
            f"""SELECT r.* FROM result r JOIN visit v ON v.id = r.visit_id
                WHERE v.lesion_id IN ({marks}) ORDER BY r.created, r.id""",
            lesion_ids,
        ):
            results.setdefault(r["visit_id"], []).append(StoredResult.from_row(r))
        edits: dict[int, list[Edit]] = {}
        for r in self.conn.execute(
            f"SELECT * FROM edit WHERE visit_id IS NOT NULL AND lesion_id IN ({marks}) ORDER BY id",
            lesion_ids,
        ):
            edits.setdefault(r["visit_id"], []).append(Edit.from_row(r))
        for v in visits:
            sha, ext = v["image_sha256"], v["ext"]
            path = self.store.images.path_for(sha, ext)
            photo = Photo(
                sha, ext, v["bytes"], v["original_name"], str(path), photo_status(path, sha)
            )
            out[v["lesion_id"]].append(
                Visit(
                    id=v["id"],
                    lesion_id=v["lesion_id"],
                    date=v["taken"],
                    note=v["note"],
                    created=v["created"],
                    decision=v["decision"],
                    next_review=v["next_review"],
                    image=photo,
                    results=tuple(results.get(v["id"], [])),
                    number=len(out[v["lesion_id"]]) + 1,
                    edits=tuple(edits.get(v["id"], [])),
                )
            )
        return {i: tuple(found) for i, found in out.items()}

    def case(self, code: str) -> Case:
        """Everything stored for a patient: lesions, visits, results, in date order."""
        pid = self.require_patient(code)
        prow = self.conn.execute(
            "SELECT code, created FROM patient WHERE id = ?", (pid,)
        ).fetchone()
        lesions = self.lesions(prow["code"])
        ids = [lesion.id for lesion in lesions]
        visits, edits = self._visits(ids), self._lesion_edits(ids)
        return Case(
            prow["code"],
            prow["created"],
            tuple(
                Lesion(
                    lesion.id,
                    lesion.label,
                    lesion.site,
                    lesion.laterality,
                    lesion.note,
                    lesion.created,
                    patient=prow["code"],
                    outcome=lesion.outcome,
                    edits=edits[lesion.id],
                    visits=visits[lesion.id],
                )
                for lesion in lesions
            ),
        )

    def show(self, code: str) -> dict[str, Any]:
        """:meth:`case` as JSON (``history show --json``, ``case.json``)."""
        return self.case(code).to_json()

    def _placed_visit(self, visit_id: int) -> tuple[Lesion, Visit]:
        row = self.conn.execute(
            """SELECT v.lesion_id FROM visit v WHERE v.id = ?""", (visit_id,)
        ).fetchone()
        if row is None:
            raise HistoryError(f"no visit with id {visit_id}")
        lesion = self.lesion(int(row["lesion_id"]))
        visit = lesion.visit(visit_id)
        assert visit is not None
        return lesion, visit

    def visit(self, visit_id: int) -> Visit:
        """One visit with its photo and results (``lesion_id`` says whose)."""
        return self._placed_visit(visit_id)[1]

    def visit_record(self, visit_id: int) -> dict[str, Any]:
        """One visit as JSON, with its results, number, patient and lesion names (what
        ``history add``, ``reclassify`` and ``recover`` print)."""
        return Lesion.visit_json(*self._placed_visit(visit_id))

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

    # What every write checks or needs first -------------------------------------------
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
            same_site(code, label, row, site, laterality)
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
            same_site(code, label, row, check_site(site) if site is not None else None, side)

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
