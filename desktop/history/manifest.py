"""What an export's ``case.json`` may say, checked field by field before anything is stored.

An export folder is untrusted input (it may come from another clinic, a USB stick or a
text editor), so an import believes none of it: every field is checked for type, length
and range, and the verdict of each result (most likely class, melanoma probability, alert
level, headline) is worked out again from its probabilities and stored alert threshold
with the app's own rules. A result whose stated class, melanoma figure or level differs
from that contradicts itself and is refused; the headline text is always re-derived.
Pure: no files, no database (:mod:`desktop.history.transfer` does those).
"""

from __future__ import annotations

import math
import re
import unicodedata
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any, NoReturn

import numpy as np

from desktop.history.service import (
    LESION_FIELDS,
    MAX_NOTE,
    VISIT_FIELDS,
    HistoryError,
    check_date,
    check_decision,
    check_laterality,
    check_lesion,
    check_note,
    check_outcome,
    check_patient,
    check_review_date,
    check_site,
)
from desktop.imaging import IMAGE_EXTENSIONS, MAX_FILE_BYTES, brief
from desktop.inference import Prediction
from desktop.labelled.labels import CLASSES, MELANOMA
from desktop.verdict import (
    ALERT,
    CANNOT_ASSESS,
    CANNOT_ASSESS_HEADLINE,
    LEVEL_TEXT,
    NO_ALERT,
    REFERRAL_LEVELS,
    verdict_for,
)

# Levels a stored result can have ("error" is never stored: an unreadable file has no result).
STORED_LEVELS = (ALERT, *REFERRAL_LEVELS, NO_ALERT, CANNOT_ASSESS)
STORED_EXTS = IMAGE_EXTENSIONS | {".img"}  # what images.normal_ext can give
MAX_LESIONS = 1_000
MAX_VISITS = 10_000  # in the whole case
MAX_RESULTS = 200  # per visit (re-classifications)
MAX_NAME = 255  # an original file name
MAX_MODEL_VERSION = 128
MAX_HEADLINE = 300
MAX_REASON = 500
MAX_REASONS = 10
MAX_TIMESTAMP = 40
MAX_EDITS = 1_000  # logged edits per visit or lesion
SUM_TOLERANCE = 1e-3  # float32 softmax sums are off by ~1e-7; anything more was edited
MATCH_TOLERANCE = 1e-6
CLOCK_SKEW = timedelta(days=1)  # another machine's clock may run a little ahead
_HEX64 = re.compile(r"[0-9a-f]{64}")
# Control, format (bidi overrides), line/paragraph separators, surrogates: never in a field.
# The app's own words use a non-breaking space before "%", which is allowed.
_CONTROL = frozenset({"Cc", "Cf", "Zl", "Zp", "Cs"})


class ImportRefused(HistoryError):
    """An export folder that is not a faithful case export; nothing was imported.

    A :class:`HistoryError`, so the command line exits 2 with this one line.
    """


@dataclass(frozen=True)
class ImageIn:
    sha256: str
    ext: str
    size: int
    original_name: str

    @property
    def name(self) -> str:
        """The file name inside the export's ``images/`` folder."""
        return f"{self.sha256}{self.ext}"


@dataclass(frozen=True)
class ResultIn:
    """One result as it will be stored: the verdict fields are the recomputed ones.

    A result that could not be assessed has no probabilities, class or melanoma figure.
    """

    probabilities: dict[str, float] | None
    label: str | None
    melanoma_probability: float | None
    alert_level: str
    headline: str
    threshold: float
    uncertain: bool
    uncertain_reasons: tuple[str, ...]
    model_version: str
    model_sha256: str
    created: str


@dataclass(frozen=True)
class EditIn:
    """One logged edit: which field, its old and new value, when."""

    field: str
    old: str | None
    new: str | None
    edited: str


@dataclass(frozen=True)
class OutcomeIn:
    diagnosis: str
    date: str
    note: str
    recorded: str | None


@dataclass(frozen=True)
class VisitIn:
    date: str
    note: str
    created: str | None
    image: ImageIn
    results: tuple[ResultIn, ...]
    decision: str | None = None
    next_review: str | None = None
    edits: tuple[EditIn, ...] = ()


@dataclass(frozen=True)
class LesionIn:
    label: str
    site: str
    note: str
    created: str | None
    visits: tuple[VisitIn, ...]
    laterality: str = ""
    outcome: OutcomeIn | None = None
    edits: tuple[EditIn, ...] = ()


@dataclass(frozen=True)
class CaseIn:
    patient: str
    created: str | None
    lesions: tuple[LesionIn, ...]

    def images(self) -> dict[str, ImageIn]:
        """Each distinct image once (an export stores a photo used twice once)."""
        return {v.image.sha256: v.image for lesion in self.lesions for v in lesion.visits}


@dataclass
class _Seen:
    """What the case has listed so far: lesion names, visits, result ids must not repeat."""

    labels: set[str] = field(default_factory=set)
    visit_ids: set[int] = field(default_factory=set)
    visit_keys: set[tuple[str, str, str | None]] = field(default_factory=set)
    result_ids: set[int] = field(default_factory=set)
    visits: int = 0


# Field readers: each refuses with "<where>: <what is wrong>" ------------------------------
def _refuse(at: str, what: str) -> NoReturn:
    raise ImportRefused(f"{at}: {what}")


def _obj(value: Any, at: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        _refuse(at, f"must be a JSON object, not {type(value).__name__}")
    return value


def _get(obj: Mapping[str, Any], key: str, at: str) -> Any:
    if key not in obj:
        _refuse(at, f"'{key}' is missing")
    return obj[key]


def _list(value: Any, at: str, limit: int) -> list[Any]:
    if not isinstance(value, list):
        _refuse(at, f"must be a JSON list, not {type(value).__name__}")
    if len(value) > limit:
        _refuse(at, f"has {len(value)} entries, more than {limit}")
    return value


def _text(value: Any, at: str, limit: int, *, empty: bool = False) -> str:
    if not isinstance(value, str):
        _refuse(at, f"must be text, not {type(value).__name__}")
    if len(value) > limit:
        _refuse(at, f"is {len(value)} characters long, more than {limit}")
    if not value and not empty:
        _refuse(at, "must not be empty")
    if any(unicodedata.category(ch) in _CONTROL for ch in value):
        _refuse(at, "contains control characters")
    return value


def _optional_text(value: Any, at: str) -> str | None:
    """Free text checked by a service ``check_*`` function (it applies the length limit)."""
    if value is not None and not isinstance(value, str):
        _refuse(at, f"must be text, not {type(value).__name__}")
    return value


def _checked(check: Callable[[Any], str], value: Any, at: str) -> str:
    """A service validator's verdict on a manifest value, located for the message."""
    try:
        return check(value)
    except HistoryError as exc:
        _refuse(at, str(exc))


def _number(value: Any, at: str) -> float:
    """A finite probability-like number in [0, 1] (JSON has no NaN; Python's json does)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        _refuse(at, f"must be a number, not {brief(value)}")
    number = float(value)
    if not math.isfinite(number) or not 0.0 <= number <= 1.0:
        _refuse(at, f"must be a number from 0 to 1, not {brief(value)}")
    return number


def _flag(value: Any, at: str) -> bool:
    if not isinstance(value, bool):
        _refuse(at, f"must be true or false, not {brief(value)}")
    return value


def _ident(value: Any, at: str) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        _refuse(at, f"must be a positive whole number, not {brief(value)}")
    return value


def _optional_timestamp(value: Any, at: str) -> str | None:
    return None if value is None else _timestamp(value, at)


def _timestamp(value: Any, at: str) -> str:
    """An ISO 8601 time (``now_utc`` writes ``…Z``), not later than now plus clock skew."""
    text = _text(value, at, MAX_TIMESTAMP)
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        _refuse(at, f"{brief(text)} is not an ISO date and time")
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    if moment > datetime.now(UTC) + CLOCK_SKEW:
        _refuse(at, f"{text} is in the future")
    return text


# The case, top down ---------------------------------------------------------------------
def check_case(raw: Any, as_patient: str | None = None) -> CaseIn:
    """The manifest's ``case`` as it will be stored, or :class:`ImportRefused` saying why."""
    case = _obj(raw, "case")
    patient = _checked(
        check_patient, _text(_get(case, "patient", "case"), "patient", 10**4), "case"
    )
    if as_patient is not None:
        patient = check_patient(as_patient)  # the user's own argument: a plain usage error
    created = _optional_timestamp(case.get("created"), "case: created")
    seen = _Seen()
    lesions = tuple(
        _lesion(item, f"lesion {i}", seen)
        for i, item in enumerate(_list(_get(case, "lesions", "case"), "lesions", MAX_LESIONS), 1)
    )
    return CaseIn(patient, created, lesions)


def _lesion(raw: Any, at: str, seen: _Seen) -> LesionIn:
    lesion = _obj(raw, at)
    label = _checked(check_lesion, _text(_get(lesion, "label", at), at, 10**4), at)
    if label in seen.labels:
        _refuse(at, f"lesion name {brief(label)} appears twice (a patient's lesions differ)")
    seen.labels.add(label)
    at = f"lesion {brief(label)}"
    site = _checked(check_site, _optional_text(lesion.get("site"), f"{at}: site"), at)
    note = _checked(check_note, _optional_text(lesion.get("note"), f"{at}: note"), at)
    created = _optional_timestamp(lesion.get("created"), f"{at}: created")
    side = _checked(check_laterality, _optional_text(lesion.get("laterality"), f"{at}: side"), at)
    outcome = _outcome(lesion.get("outcome"), f"{at}: outcome")
    edits = _edits(lesion.get("edits"), f"{at}: edits", LESION_FIELDS)
    raw_visits = _list(_get(lesion, "visits", at), f"{at}: visits", MAX_VISITS)
    visits = tuple(_visit(item, f"{at}, visit {j}", seen) for j, item in enumerate(raw_visits, 1))
    return LesionIn(label, site, note, created, visits, side, outcome, edits)


def _outcome(raw: Any, at: str) -> OutcomeIn | None:
    """A histology outcome: a known diagnosis, a date not in the future, a note."""
    if raw is None:
        return None
    outcome = _obj(raw, at)
    diagnosis = _checked(check_outcome, _text(_get(outcome, "diagnosis", at), at, 80), at)
    day = _checked(check_date, _text(_get(outcome, "date", at), f"{at}: date", 40), at)
    note = _checked(check_note, _optional_text(outcome.get("note"), f"{at}: note"), at)
    recorded = _optional_timestamp(outcome.get("recorded"), f"{at}: recorded")
    return OutcomeIn(diagnosis, day, note, recorded)


def _edits(raw: Any, at: str, fields: tuple[str, ...]) -> tuple[EditIn, ...]:
    """The edit log: known fields, bounded text, a time for each."""
    if raw is None:
        return ()
    out = []
    for k, item in enumerate(_list(raw, at, MAX_EDITS), 1):
        edit = _obj(item, f"{at} {k}")
        what = _text(_get(edit, "field", f"{at} {k}"), f"{at} {k}: field", 40)
        if what not in fields:
            _refuse(f"{at} {k}", f"unknown field {brief(what)} (known: {', '.join(fields)})")
        old, new = (
            None
            if edit.get(key) is None
            else _text(edit[key], f"{at} {k}: {key}", MAX_NOTE, empty=True)
            for key in ("old", "new")
        )
        edited = _timestamp(_get(edit, "edited", f"{at} {k}"), f"{at} {k}: edited")
        out.append(EditIn(what, old, new, edited))
    return tuple(out)


def _visit(raw: Any, at: str, seen: _Seen) -> VisitIn:
    visit = _obj(raw, at)
    seen.visits += 1
    if seen.visits > MAX_VISITS:
        _refuse(at, f"the case has more than {MAX_VISITS} visits")
    visit_id = _ident(visit.get("id"), f"{at}: id")
    taken = _checked(check_date, _text(_get(visit, "date", at), f"{at}: date", 40), at)
    at = f"{at} ({taken})"
    note = _checked(check_note, _optional_text(visit.get("note"), f"{at}: note"), at)
    created = _optional_timestamp(visit.get("created"), f"{at}: created")
    image = _image(_get(visit, "image", at), f"{at}: image")
    key = (image.sha256, taken, created)
    if (visit_id is not None and visit_id in seen.visit_ids) or key in seen.visit_keys:
        _refuse(at, "the same visit is listed twice")
    seen.visit_keys.add(key)
    if visit_id is not None:
        seen.visit_ids.add(visit_id)
    raw_results = _list(_get(visit, "results", at), f"{at}: results", MAX_RESULTS)
    if not raw_results:
        _refuse(at, "has no result (every stored visit has at least one)")
    results = tuple(_result(r, f"{at}, result {k}", seen) for k, r in enumerate(raw_results, 1))
    decision = _checked(check_decision, _optional_text(visit.get("decision"), at), at) or None
    review = _checked(check_review_date, _optional_text(visit.get("next_review"), at), at)
    if review is not None and review < taken:
        _refuse(at, f"next review {review} is before the visit")
    edits = _edits(visit.get("edits"), f"{at}: edits", VISIT_FIELDS)
    return VisitIn(taken, note, created, image, results, decision, review, edits)


def _image(raw: Any, at: str) -> ImageIn:
    image = _obj(raw, at)
    sha = _text(_get(image, "sha256", at), f"{at}: sha256", 64)
    if not _HEX64.fullmatch(sha):
        _refuse(at, f"sha256 {brief(sha)} is not 64 lower-case hex digits")
    ext = _text(_get(image, "ext", at), f"{at}: ext", 8)
    if ext not in STORED_EXTS:
        _refuse(at, f"extension {brief(ext)} is not one the image store uses")
    size = _get(image, "bytes", at)
    if isinstance(size, bool) or not isinstance(size, int) or not 0 < size <= MAX_FILE_BYTES:
        _refuse(at, f"bytes must be a file size up to {MAX_FILE_BYTES}, not {brief(size)}")
    rel = _text(_get(image, "file", at), f"{at}: file", 100)
    if rel != f"images/{sha}{ext}":
        _refuse(at, f"file {brief(rel)} is not images/<sha256><ext> inside the export")
    name = image.get("original_name")
    original = "" if name is None else _text(name, f"{at}: original_name", MAX_NAME, empty=True)
    return ImageIn(sha, ext, size, original)


def _result(raw: Any, at: str, seen: _Seen) -> ResultIn:
    r = _obj(raw, at)
    result_id = _ident(r.get("id"), f"{at}: id")
    if result_id is not None:
        if result_id in seen.result_ids:
            _refuse(at, "the same result is listed twice")
        seen.result_ids.add(result_id)
    threshold = _number(_get(r, "threshold", at), f"{at}: threshold")
    uncertain = _flag(_get(r, "uncertain", at), f"{at}: uncertain")
    reasons = tuple(
        _text(x, f"{at}: uncertain_reasons", MAX_REASON)
        for x in _list(r.get("uncertain_reasons", []), f"{at}: uncertain_reasons", MAX_REASONS)
    )
    if uncertain != bool(reasons):
        _refuse(at, "'uncertain' disagrees with its list of reasons")
    level = _level(_get(r, "alert_level", at), f"{at}: alert_level")
    stated = r.get("verdict")
    verdict = None if stated is None else _level(stated, f"{at}: verdict")
    headline = r.get("headline")
    if headline is not None:
        _text(headline, f"{at}: headline", MAX_HEADLINE)
    model_version = _text(_get(r, "model_version", at), f"{at}: model_version", MAX_MODEL_VERSION)
    model_sha = _text(_get(r, "model_sha256", at), f"{at}: model_sha256", 64)
    if model_sha != "unknown" and not _HEX64.fullmatch(model_sha):
        _refuse(at, f"model_sha256 {brief(model_sha)} is not 64 hex digits or 'unknown'")
    created = _timestamp(_get(r, "created", at), f"{at}: created")
    if CANNOT_ASSESS in (level, verdict):
        derived = _unassessed(r, at, reasons, level, verdict, headline)
    else:
        derived = _assessed(r, at, threshold, reasons, level, verdict)
    return ResultIn(
        derived.probabilities,
        derived.label,
        derived.melanoma_probability,
        derived.level,
        derived.headline,
        threshold,
        uncertain,
        reasons,
        model_version,
        model_sha,
        created,
    )


def _assessed(
    r: dict[str, Any],
    at: str,
    threshold: float,
    reasons: tuple[str, ...],
    level: str,
    verdict: str | None,
) -> Derived:
    """A result with a class: every verdict field must follow from its probabilities."""
    probabilities = _probabilities(_get(r, "probabilities", at), f"{at}: probabilities")
    label = _text(_get(r, "label", at), f"{at}: label", 80)
    if label not in probabilities:
        _refuse(at, f"label {brief(label)} is not one of its classes")
    melanoma = _number(_get(r, "melanoma_probability", at), f"{at}: melanoma_probability")
    derived = recompute(probabilities, threshold, False, reasons)
    if level in REFERRAL_LEVELS and derived.level == NO_ALERT and verdict in (None, level):
        # A referral prompt's threshold is the card's, not kept in a result row: it is taken
        # as stated, but only where the melanoma rule gives no alert (melanoma leads).
        derived = replace(derived, level=level, headline=LEVEL_TEXT[level])
    _agrees(at, derived, label, melanoma, level, verdict)
    return derived


def _unassessed(
    r: dict[str, Any],
    at: str,
    reasons: tuple[str, ...],
    level: str,
    verdict: str | None,
    headline: Any,
) -> Derived:
    """A result whose image could not be assessed: it must say why, and it is stored with no
    class, probabilities or melanoma figure (an older export's numbers are checked, dropped)."""
    if not reasons:
        _refuse(at, "says 'cannot assess' but gives no reason")
    for what, value in (("alert level", level), ("verdict", verdict)):
        if value is not None and value != CANNOT_ASSESS:
            _refuse(at, f"{what} {value!r} contradicts 'cannot assess'")
    if r.get("probabilities") is not None:
        _probabilities(r["probabilities"], f"{at}: probabilities")
    if r.get("melanoma_probability") is not None:
        _number(r["melanoma_probability"], f"{at}: melanoma_probability")
    if r.get("label") is not None:
        _text(r["label"], f"{at}: label", 80)
    del headline  # checked for length above; re-derived like every headline
    return Derived(None, None, CANNOT_ASSESS, CANNOT_ASSESS_HEADLINE, None)


def _level(value: Any, at: str) -> str:
    level = _text(value, at, 40)
    if level not in STORED_LEVELS:
        _refuse(at, f"unknown alert level {brief(level)} (known: {', '.join(STORED_LEVELS)})")
    return level


def _probabilities(raw: Any, at: str) -> dict[str, float]:
    """Known classes only, melanoma among them, each in [0, 1], adding up to 1."""
    probs = _obj(raw, at)
    if len(probs) < 2:
        _refuse(at, "needs at least two classes")
    out = {}
    for cls, value in probs.items():
        if cls not in CLASSES:
            _refuse(at, f"unknown class {brief(cls)}")
        out[cls] = _number(value, f"{at}: {cls}")
    if MELANOMA not in out:
        _refuse(at, "has no melanoma probability")
    total = math.fsum(out.values())
    if abs(total - 1.0) > SUM_TOLERANCE:
        _refuse(at, f"add up to {total:.4f}, not 1")
    return out


@dataclass(frozen=True)
class Derived:
    """A result's verdict fields as the app's own rules give them (None: not assessed)."""

    label: str | None
    melanoma_probability: float | None
    level: str
    headline: str
    probabilities: dict[str, float] | None = None


def recompute(
    probabilities: Mapping[str, float],
    threshold: float,
    cannot_assess: bool,
    reasons: tuple[str, ...],
) -> Derived:
    """Label (argmax), melanoma figure, level and headline from the stored numbers.

    Whether an image could be assessed and whether the class was uncertain depend on the
    image and the card, which a result row does not keep, so they are taken as stated
    (a "cannot assess" must give its reasons); the melanoma alert is not: it follows from
    the probabilities and the threshold by :attr:`Prediction.melanoma_alert`.
    """
    classes = tuple(probabilities)
    values = np.asarray([probabilities[c] for c in classes], dtype=np.float64)
    top = float(values.max())
    low = bool(reasons) and not cannot_assess
    pred = Prediction(
        classes=classes,
        probabilities=values,
        melanoma_index=classes.index(MELANOMA),
        melanoma_threshold=threshold,
        min_top_probability=math.nextafter(top, math.inf) if low else 0.0,
        quality_issues=reasons if cannot_assess else (),
    )
    verdict = verdict_for(pred, None)
    return Derived(
        pred.label, pred.melanoma_probability, verdict.level, verdict.headline, dict(probabilities)
    )


def _agrees(
    at: str, derived: Derived, label: str, melanoma: float, level: str, verdict: str | None
) -> None:
    """Refuse a result whose stated verdict fields contradict its own probabilities."""
    if level == CANNOT_ASSESS and derived.level != CANNOT_ASSESS:
        _refuse(at, "says 'cannot assess' but gives no reason")
    if label != derived.label:
        said = f"says the most likely class is {brief(label)}"
        _refuse(at, f"{said}; its probabilities say {brief(derived.label)}")
    if abs(melanoma - derived.melanoma_probability) > MATCH_TOLERANCE:
        figures = f"{melanoma:.4f}, its probabilities give {derived.melanoma_probability:.4f}"
        _refuse(at, f"melanoma probability contradicts its probabilities ({figures})")
    for what, stated in (("alert level", level), ("verdict", verdict)):
        if stated is not None and stated != derived.level:
            gives = f"they give {derived.level!r}"
            _refuse(at, f"{what} {stated!r} contradicts its probabilities and threshold ({gives})")
