"""A case as the store reads it back: a lesion, its visits, each visit's photo and results, the
edit log and the histology outcome, as frozen records the window reads by attribute.

Each record's ``to_json()`` is the JSON the command line prints and ``case.json`` holds (the
same keys, in the same order). Pure: built from database rows by
:mod:`desktop.history.queries`, no database here.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, fields
from typing import Any

from desktop.card import MELANOMA
from desktop.verdict import CANNOT_ASSESS, LEVEL_TEXT, NO_ALERT, stored_percent_text


def _plain(value: Any) -> Any:
    """A field as JSON: a record by its own ``to_json``, a tuple as a list, a dict copied."""
    if isinstance(value, Record):
        return value.to_json()
    if isinstance(value, tuple):
        return [_plain(v) for v in value]
    return dict(value) if isinstance(value, dict) else value


def _json(record: Any, leave_out: str = "") -> dict[str, Any]:
    """A record's fields in their declared order (that is the JSON's order), but ``leave_out``."""
    return {f.name: _plain(getattr(record, f.name)) for f in fields(record) if f.name != leave_out}


class Record:
    """A frozen record whose JSON is its fields in their declared order."""

    def to_json(self) -> dict[str, Any]:
        return _json(self)


@dataclass(frozen=True)
class Photo(Record):
    """A visit's stored photo, named by its SHA-256."""

    sha256: str
    ext: str
    bytes: int
    original_name: str
    file: str  # where it lies in the image store
    status: str  # ok, missing, damaged (bytes no longer match the hash)


@dataclass(frozen=True)
class StoredResult(Record):
    """One classification of a visit's photo; re-classification adds another beside it."""

    id: int
    created: str
    label: str | None
    probabilities: dict[str, float] | None
    melanoma_probability: float | None
    alert_level: str
    verdict: str | None
    headline: str | None
    threshold: float
    uncertain: bool
    uncertain_reasons: tuple[str, ...]
    model_version: str
    model_sha256: str

    @classmethod
    def from_row(cls, row: Any) -> StoredResult:
        """A stored result; one that could not be assessed reads back with no class, no
        probabilities and no melanoma figure, whatever an older store kept for it."""
        unassessed = CANNOT_ASSESS in (row["alert_level"], row["verdict"])
        probabilities = json.loads(row["probabilities"]) if row["probabilities"] else None
        return cls(
            id=row["id"],
            created=row["created"],
            label=None if unassessed else row["label"],
            probabilities=None if unassessed else probabilities,
            melanoma_probability=None if unassessed else row["melanoma_probability"],
            alert_level=row["alert_level"],
            verdict=row["verdict"],
            headline=row["headline"],
            threshold=row["threshold"],
            uncertain=bool(row["uncertain"]),
            uncertain_reasons=tuple(json.loads(row["uncertain_reasons"])),
            model_version=row["model_version"],
            model_sha256=row["model_sha256"],
        )

    @property
    def assessed(self) -> bool:
        """False for a result whose image could not be assessed: it has no class at all."""
        return CANNOT_ASSESS not in (self.alert_level, self.verdict)

    @property
    def melanoma_text(self) -> str | None:
        """The melanoma figure as the result's bars showed it; None where it was not assessed."""
        if self.melanoma_probability is None:
            return None
        return stored_percent_text(self.probabilities, MELANOMA, self.melanoma_probability)

    def describe(self) -> tuple[str, str]:
        """(level, headline) in the words the window used when it was stored."""
        level = self.verdict or self.alert_level or NO_ALERT
        return level, self.headline or LEVEL_TEXT.get(level, level)


@dataclass(frozen=True)
class Edit(Record):
    """One logged change of a visit or lesion field, with the value it replaced."""

    field: str
    old: str | None
    new: str | None
    edited: str

    @classmethod
    def from_row(cls, row: Any) -> Edit:
        return cls(row["field"], row["old_value"], row["new_value"], row["edited"])


@dataclass(frozen=True)
class Outcome(Record):
    """A lesion's histology: one of the classes or 'other', dated."""

    diagnosis: str
    date: str
    note: str
    recorded: str

    @classmethod
    def from_row(cls, row: Any) -> Outcome | None:
        """The outcome columns of a lesion row; None when none is recorded."""
        if not row["outcome"]:
            return None
        return cls(
            row["outcome"], row["outcome_date"], row["outcome_note"], row["outcome_recorded"]
        )

    def words(self) -> str:
        """'melanoma (2024-03-05)', as the edit log keeps it."""
        return f"{self.diagnosis} ({self.date})"


@dataclass(frozen=True)
class Visit(Record):
    """A photo of a lesion on a day, with every result it got; ``number`` is 1, 2, 3… by date."""

    id: int
    lesion_id: int
    date: str
    note: str
    created: str
    decision: str | None
    next_review: str | None
    image: Photo
    results: tuple[StoredResult, ...]  # oldest first
    number: int
    edits: tuple[Edit, ...]

    @property
    def current(self) -> StoredResult | None:
        """The newest result (re-classification adds results; none is overwritten)."""
        return self.results[-1] if self.results else None

    def to_json(self) -> dict[str, Any]:
        """The visit as a lesion's JSON lists it (its lesion is the one around it)."""
        return _json(self, leave_out="lesion_id")


@dataclass(frozen=True)
class LesionNames(Record):
    """What names a lesion of a patient, read alone or with its visits."""

    id: int
    label: str
    site: str
    laterality: str  # "" when not given
    note: str
    created: str


@dataclass(frozen=True)
class LesionSummary(LesionNames):
    """A lesion without its visits, for the case browser and the Save to case picker."""

    visits: int
    first_visit: str | None
    last_visit: str | None
    outcome: Outcome | None


@dataclass(frozen=True)
class Lesion(LesionNames):
    """A lesion of a patient with its edit log and every visit in date order."""

    patient: str
    outcome: Outcome | None
    edits: tuple[Edit, ...]
    visits: tuple[Visit, ...]

    def visit(self, visit_id: int | None) -> Visit | None:
        return next((v for v in self.visits if v.id == visit_id), None)

    def visit_json(self, visit: Visit) -> dict[str, Any]:
        """One visit on its own: its JSON plus the patient and lesion it belongs to."""
        return {
            **visit.to_json(),
            "patient": self.patient,
            "lesion": self.label,
            "site": self.site,
            "laterality": self.laterality,
            "lesion_id": self.id,
        }


@dataclass(frozen=True)
class Case(Record):
    """Everything stored for a patient: lesions, visits, results, in date order."""

    patient: str
    created: str
    lesions: tuple[Lesion, ...]

    def to_json(self) -> dict[str, Any]:
        """``history show --json`` and the ``case`` of ``case.json`` (its lesions without
        the patient, said once above them)."""
        lesions = [_json(lesion, leave_out="patient") for lesion in self.lesions]
        return {"patient": self.patient, "created": self.created, "lesions": lesions}


@dataclass(frozen=True)
class SeriesPoint:
    """A visit on the melanoma chart: its current result's level and figure."""

    visit_id: int
    date: str
    level: str
    value: float | None  # None where the image could not be assessed: no number is drawn
    threshold: float
    earlier: tuple[float, ...]  # melanoma figures of its earlier (assessed) results
    # The figure as the result's bars showed it (StoredResult.melanoma_text); "" where the
    # caller gave none, and the value is then rounded alone.
    text: str = ""


def melanoma_series(visits: Iterable[Visit]) -> list[SeriesPoint]:
    """Per visit with a result, in date order: date, level and melanoma probability of the
    current result, plus those of earlier results so a chart can show what re-classification
    changed."""
    series = []
    for visit in visits:
        current = visit.current
        if current is None:
            continue
        level, _ = current.describe()
        series.append(
            SeriesPoint(
                visit_id=visit.id,
                date=visit.date,
                level=level,
                value=None if level == CANNOT_ASSESS else current.melanoma_probability,
                threshold=current.threshold,
                earlier=tuple(
                    r.melanoma_probability  # type: ignore[misc]
                    for r in visit.results[:-1]
                    if r.describe()[0] != CANNOT_ASSESS
                ),
                text=current.melanoma_text or "",  # read only where value is drawn
            )
        )
    return series
