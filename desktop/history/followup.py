"""Follow-up of a lesion after its photo: decisions and review dates, edits with their log,
the histology outcome, and the list of reviews due.

Every edit is logged with its old value in the same transaction as the change, so a
record can be corrected without losing what it said before. A mixin of
:class:`desktop.history.service.History`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from desktop.history.queries import CaseQueries
from desktop.history.records import (
    DUE_SOON_DAYS,
    HistoryError,
    check_date,
    check_decision,
    check_laterality,
    check_note,
    check_outcome,
    check_review_date,
    check_site,
    site_text,
)
from desktop.history.store import now_utc
from desktop.history.stored import Outcome


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


def check_review_after(review: str | None, taken: str) -> str | None:
    """A next-review date, which must not come before the visit that set it."""
    value = check_review_date(review)
    if value is not None and value < taken:
        raise HistoryError(f"next review date {value} is before the visit's date ({taken})")
    return value


class FollowUp(CaseQueries):
    """Decisions, review dates, edits (logged), histology outcomes and the due list."""

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
            new["next_review"] = check_review_after(review, new["taken"])
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
    ) -> Outcome:
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
            old, now = Outcome.from_row(row), now_utc()
            if old is not None:
                words = Outcome(diagnosis, day, note, now).words()
                self._log(lesion_id, None, "outcome", old.words(), words, now)
            self.conn.execute(
                """UPDATE lesion SET outcome = ?, outcome_date = ?, outcome_note = ?,
                       outcome_recorded = ? WHERE id = ?""",
                (diagnosis, day, note, now, lesion_id),
            )
        outcome = self.lesion(lesion_id).outcome
        assert outcome is not None
        return outcome

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
