"""The case store's vocabulary: field rules, the errors a request can hit, the model of a result.

Shared by the service (:mod:`desktop.history.service`) and its parts (queries, follow-up,
photos), by the import's checks (:mod:`desktop.history.manifest`) and by the window, so a
site, a date or a decision means the same wherever it is typed or read. Pure: no database.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

from desktop.card import ModelCard
from desktop.history.images import DAMAGED, MISSING, OK, sha256_file
from desktop.labelled.labels import CLASSES

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


# Records ----------------------------------------------------------------------------------
@dataclass(frozen=True)
class PatientSummary:
    """One row of the case browser."""

    code: str
    lesions: int
    visits: int
    last_visit: str | None
    alerts: int  # visits whose current result is a melanoma alert


def same_site(code: str, label: str, row: Any, site: str | None, laterality: str | None) -> None:
    """Refuse a site or side that contradicts the lesion's stored one (None: not given)."""
    if site is not None and site != row["site"]:
        raise HistoryError(
            f"lesion {label!r} of patient {code!r} is recorded at {row['site']!r}, "
            f"not {site!r}: give the same body site, or none (editing a visit changes it)"
        )
    if laterality and row["laterality"] and laterality != row["laterality"]:
        raise HistoryError(
            f"lesion {label!r} of patient {code!r} is recorded on the {row['laterality']} "
            f"side, not {laterality}; give the same --side or none (history edit changes it)"
        )
