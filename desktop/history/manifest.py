"""What an export's ``case.json`` may say, checked field by field before anything is stored.

An export folder is untrusted input (it may come from another clinic, a USB stick or a
text editor), so an import believes none of it: every field is checked for type, length
and range, and the verdict of each result (most likely class, melanoma probability, alert
level, headline) is worked out again from its probabilities and stored alert threshold
with the app's own rules. A result whose stated class, melanoma figure or level differs
from that contradicts itself and is refused; the headline text is always re-derived.
Pure: no files, no database (:mod:`desktop.history.transfer` does those); the readers of
single fields are in :mod:`desktop.history.manifest_fields`.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from desktop.history import manifest_fields as read
from desktop.history.manifest_fields import ImportRefused as ImportRefused  # re-exported
from desktop.history.records import (
    LESION_FIELDS,
    MAX_NOTE,
    VISIT_FIELDS,
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
from desktop.imaging import IMAGE_EXTENSIONS, MAX_FILE_BYTES
from desktop.labelled.labels import CLASSES, MELANOMA
from desktop.prediction import Prediction
from desktop.preprocessing import brief
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
MAX_EDITS = 1_000  # logged edits per visit or lesion
SUM_TOLERANCE = 1e-3  # float32 softmax sums are off by ~1e-7; anything more was edited
MATCH_TOLERANCE = 1e-6
_HEX64 = re.compile(r"[0-9a-f]{64}")


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


# The case, top down ---------------------------------------------------------------------
def check_case(raw: Any, as_patient: str | None = None) -> CaseIn:
    """The manifest's ``case`` as it will be stored, or :class:`ImportRefused` saying why."""
    case = read.obj(raw, "case")
    patient = read.checked(
        check_patient, read.text(read.get(case, "patient", "case"), "patient", 10**4), "case"
    )
    if as_patient is not None:
        patient = check_patient(as_patient)  # the user's own argument: a plain usage error
    created = read.optional_timestamp(case.get("created"), "case: created")
    seen = _Seen()
    lesions = tuple(
        _lesion(item, f"lesion {i}", seen)
        for i, item in enumerate(
            read.listed(read.get(case, "lesions", "case"), "lesions", MAX_LESIONS), 1
        )
    )
    return CaseIn(patient, created, lesions)


def _lesion(raw: Any, at: str, seen: _Seen) -> LesionIn:
    lesion = read.obj(raw, at)
    label = read.checked(check_lesion, read.text(read.get(lesion, "label", at), at, 10**4), at)
    if label in seen.labels:
        read.refuse(at, f"lesion name {brief(label)} appears twice (a patient's lesions differ)")
    seen.labels.add(label)
    at = f"lesion {brief(label)}"
    site = read.checked(check_site, read.optional_text(lesion.get("site"), f"{at}: site"), at)
    note = read.checked(check_note, read.optional_text(lesion.get("note"), f"{at}: note"), at)
    created = read.optional_timestamp(lesion.get("created"), f"{at}: created")
    side = read.checked(
        check_laterality, read.optional_text(lesion.get("laterality"), f"{at}: side"), at
    )
    outcome = _outcome(lesion.get("outcome"), f"{at}: outcome")
    edits = _edits(lesion.get("edits"), f"{at}: edits", LESION_FIELDS)
    raw_visits = read.listed(read.get(lesion, "visits", at), f"{at}: visits", MAX_VISITS)
    visits = tuple(_visit(item, f"{at}, visit {j}", seen) for j, item in enumerate(raw_visits, 1))
    return LesionIn(label, site, note, created, visits, side, outcome, edits)


def _outcome(raw: Any, at: str) -> OutcomeIn | None:
    """A histology outcome: a known diagnosis, a date not in the future, a note."""
    if raw is None:
        return None
    outcome = read.obj(raw, at)
    diagnosis = read.checked(
        check_outcome, read.text(read.get(outcome, "diagnosis", at), at, 80), at
    )
    day = read.checked(check_date, read.text(read.get(outcome, "date", at), f"{at}: date", 40), at)
    note = read.checked(check_note, read.optional_text(outcome.get("note"), f"{at}: note"), at)
    recorded = read.optional_timestamp(outcome.get("recorded"), f"{at}: recorded")
    return OutcomeIn(diagnosis, day, note, recorded)


def _edits(raw: Any, at: str, fields: tuple[str, ...]) -> tuple[EditIn, ...]:
    """The edit log: known fields, bounded text, a time for each."""
    if raw is None:
        return ()
    out = []
    for k, item in enumerate(read.listed(raw, at, MAX_EDITS), 1):
        edit = read.obj(item, f"{at} {k}")
        what = read.text(read.get(edit, "field", f"{at} {k}"), f"{at} {k}: field", 40)
        if what not in fields:
            read.refuse(f"{at} {k}", f"unknown field {brief(what)} (known: {', '.join(fields)})")
        old, new = (
            None
            if edit.get(key) is None
            else read.text(edit[key], f"{at} {k}: {key}", MAX_NOTE, empty=True)
            for key in ("old", "new")
        )
        edited = read.timestamp(read.get(edit, "edited", f"{at} {k}"), f"{at} {k}: edited")
        out.append(EditIn(what, old, new, edited))
    return tuple(out)


def _visit(raw: Any, at: str, seen: _Seen) -> VisitIn:
    visit = read.obj(raw, at)
    seen.visits += 1
    if seen.visits > MAX_VISITS:
        read.refuse(at, f"the case has more than {MAX_VISITS} visits")
    visit_id = read.ident(visit.get("id"), f"{at}: id")
    taken = read.checked(check_date, read.text(read.get(visit, "date", at), f"{at}: date", 40), at)
    at = f"{at} ({taken})"
    note = read.checked(check_note, read.optional_text(visit.get("note"), f"{at}: note"), at)
    created = read.optional_timestamp(visit.get("created"), f"{at}: created")
    image = _image(read.get(visit, "image", at), f"{at}: image")
    key = (image.sha256, taken, created)
    if (visit_id is not None and visit_id in seen.visit_ids) or key in seen.visit_keys:
        read.refuse(at, "the same visit is listed twice")
    seen.visit_keys.add(key)
    if visit_id is not None:
        seen.visit_ids.add(visit_id)
    raw_results = read.listed(read.get(visit, "results", at), f"{at}: results", MAX_RESULTS)
    if not raw_results:
        read.refuse(at, "has no result (every stored visit has at least one)")
    results = tuple(_result(r, f"{at}, result {k}", seen) for k, r in enumerate(raw_results, 1))
    decision = (
        read.checked(check_decision, read.optional_text(visit.get("decision"), at), at) or None
    )
    review = read.checked(check_review_date, read.optional_text(visit.get("next_review"), at), at)
    if review is not None and review < taken:
        read.refuse(at, f"next review {review} is before the visit")
    edits = _edits(visit.get("edits"), f"{at}: edits", VISIT_FIELDS)
    return VisitIn(taken, note, created, image, results, decision, review, edits)


def _image(raw: Any, at: str) -> ImageIn:
    image = read.obj(raw, at)
    sha = read.text(read.get(image, "sha256", at), f"{at}: sha256", 64)
    if not _HEX64.fullmatch(sha):
        read.refuse(at, f"sha256 {brief(sha)} is not 64 lower-case hex digits")
    ext = read.text(read.get(image, "ext", at), f"{at}: ext", 8)
    if ext not in STORED_EXTS:
        read.refuse(at, f"extension {brief(ext)} is not one the image store uses")
    size = read.get(image, "bytes", at)
    if isinstance(size, bool) or not isinstance(size, int) or not 0 < size <= MAX_FILE_BYTES:
        read.refuse(at, f"bytes must be a file size up to {MAX_FILE_BYTES}, not {brief(size)}")
    rel = read.text(read.get(image, "file", at), f"{at}: file", 100)
    if rel != f"images/{sha}{ext}":
        read.refuse(at, f"file {brief(rel)} is not images/<sha256><ext> inside the export")
    name = image.get("original_name")
    original = "" if name is None else read.text(name, f"{at}: original_name", MAX_NAME, empty=True)
    return ImageIn(sha, ext, size, original)


def _result(raw: Any, at: str, seen: _Seen) -> ResultIn:
    r = read.obj(raw, at)
    result_id = read.ident(r.get("id"), f"{at}: id")
    if result_id is not None:
        if result_id in seen.result_ids:
            read.refuse(at, "the same result is listed twice")
        seen.result_ids.add(result_id)
    threshold = read.number(read.get(r, "threshold", at), f"{at}: threshold")
    uncertain = read.flag(read.get(r, "uncertain", at), f"{at}: uncertain")
    reasons = tuple(
        read.text(x, f"{at}: uncertain_reasons", MAX_REASON)
        for x in read.listed(
            r.get("uncertain_reasons", []), f"{at}: uncertain_reasons", MAX_REASONS
        )
    )
    if uncertain != bool(reasons):
        read.refuse(at, "'uncertain' disagrees with its list of reasons")
    level = _level(read.get(r, "alert_level", at), f"{at}: alert_level")
    stated = r.get("verdict")
    verdict = None if stated is None else _level(stated, f"{at}: verdict")
    headline = r.get("headline")
    if headline is not None:
        read.text(headline, f"{at}: headline", MAX_HEADLINE)
    model_version = read.text(
        read.get(r, "model_version", at), f"{at}: model_version", MAX_MODEL_VERSION
    )
    model_sha = read.text(read.get(r, "model_sha256", at), f"{at}: model_sha256", 64)
    if model_sha != "unknown" and not _HEX64.fullmatch(model_sha):
        read.refuse(at, f"model_sha256 {brief(model_sha)} is not 64 hex digits or 'unknown'")
    created = read.timestamp(read.get(r, "created", at), f"{at}: created")
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
    probabilities = _probabilities(read.get(r, "probabilities", at), f"{at}: probabilities")
    label = read.text(read.get(r, "label", at), f"{at}: label", 80)
    if label not in probabilities:
        read.refuse(at, f"label {brief(label)} is not one of its classes")
    melanoma = read.number(read.get(r, "melanoma_probability", at), f"{at}: melanoma_probability")
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
        read.refuse(at, "says 'cannot assess' but gives no reason")
    for what, value in (("alert level", level), ("verdict", verdict)):
        if value is not None and value != CANNOT_ASSESS:
            read.refuse(at, f"{what} {value!r} contradicts 'cannot assess'")
    if r.get("probabilities") is not None:
        _probabilities(r["probabilities"], f"{at}: probabilities")
    if r.get("melanoma_probability") is not None:
        read.number(r["melanoma_probability"], f"{at}: melanoma_probability")
    if r.get("label") is not None:
        read.text(r["label"], f"{at}: label", 80)
    del headline  # checked for length above; re-derived like every headline
    return Derived(None, None, CANNOT_ASSESS, CANNOT_ASSESS_HEADLINE, None)


def _level(value: Any, at: str) -> str:
    level = read.text(value, at, 40)
    if level not in STORED_LEVELS:
        read.refuse(at, f"unknown alert level {brief(level)} (known: {', '.join(STORED_LEVELS)})")
    return level


def _probabilities(raw: Any, at: str) -> dict[str, float]:
    """Known classes only, melanoma among them, each in [0, 1], adding up to 1."""
    probs = read.obj(raw, at)
    if len(probs) < 2:
        read.refuse(at, "needs at least two classes")
    out = {}
    for cls, value in probs.items():
        if cls not in CLASSES:
            read.refuse(at, f"unknown class {brief(cls)}")
        out[cls] = read.number(value, f"{at}: {cls}")
    if MELANOMA not in out:
        read.refuse(at, "has no melanoma probability")
    total = math.fsum(out.values())
    if abs(total - 1.0) > SUM_TOLERANCE:
        read.refuse(at, f"add up to {total:.4f}, not 1")
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
        read.refuse(at, "says 'cannot assess' but gives no reason")
    if label != derived.label:
        said = f"says the most likely class is {brief(label)}"
        read.refuse(at, f"{said}; its probabilities say {brief(derived.label)}")
    if abs(melanoma - derived.melanoma_probability) > MATCH_TOLERANCE:
        figures = f"{melanoma:.4f}, its probabilities give {derived.melanoma_probability:.4f}"
        read.refuse(at, f"melanoma probability contradicts its probabilities ({figures})")
    for what, stated in (("alert level", level), ("verdict", verdict)):
        if stated is not None and stated != derived.level:
            gives = f"they give {derived.level!r}"
            read.refuse(
                at, f"{what} {stated!r} contradicts its probabilities and threshold ({gives})"
            )
