"""The "is this dermoscopy" limits a clinic adaptation moves (``desktop.scope`` decides).

Always, down: the clinic's own dermoscopy is in scope by definition (:func:`extend_scope`).

When the clinic asks (``adapt --clinic-limit``), up: a clinic with one dermatoscope knows what
its dermoscopy looks like, so its adapted card may refuse what lies well below its own images
(:func:`clinic_limit`). Measured with each of the seven origins as the clinic
(``make clinic-scope``, the table in ``docs/scope.md``), it refuses more clinical photos than
the extended limit, for a small loss of the clinic's own images and, at the smallest clinic,
of its melanomas. So it is opt-in, and it is only set when cross-validation on the clinic's own
images keeps 99 % of them and every melanoma.

numpy only: no TensorFlow, no Qt.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, replace
from typing import Any

import numpy as np

from desktop.adapt import fit
from desktop.descriptor import INPUTS, read_parts
from desktop.scope import DermoscopyScope, ScopeModel, load_scope

# The clinic's limit: this far (log-odds) under the 1 % quantile of its images' dermoscopy
# scores, or MELANOMA_MARGIN under that of its melanomas if lower. benchmarks.clinic_scope
# compares others (0.5 instead of 1.0 refuses more photos but keeps fewer of a clinic's images).
QUANTILE = 0.01
MARGIN = 1.0
# Under the 1 % quantile of its melanomas, if that is lower (benchmarks.clinic_scope, on the
# shipped decision of 2026-12-05): 1.0, 2.0 and 3.0 keep the same least share of a clinic's
# melanomas (99.0 %); only at 3.0 does every clinic keep 99 % of its other images (least 99.1 %,
# against 98.9 % at 2.0, 2.0 the choice on the lesion-only decision), for 0.4 points fewer
# clinical photos refused on average.
MELANOMA_MARGIN = 3.0
# Set only when, out of fold on the clinic's own images, it keeps at least this share of them
# and every melanoma (a limit learnt without an image must not refuse it).
MIN_KEPT = 0.99
FOLDS = 5


def extend_scope(scope: Mapping[str, Any], descriptors: np.ndarray) -> dict[str, Any]:
    """A copy of a card's ``scope`` block under which every given image is in scope, unflagged.

    For the clinic adaptation: the clinic's own dermoscopy is in scope by definition, even
    when its dermatoscope is unlike any the model learnt from. Only the limits move, each
    just far enough to take in the least typical of the images (no refit, no other image
    gets worse), and the change is recorded under ``extended``. ``descriptors`` is ``(n, D)``
    of the images' :func:`describe` (:meth:`desktop.inference.Classifier.views`); view-mean
    pooled features do for a scope that reads only the mean.
    """
    x = np.atleast_2d(np.asarray(descriptors, dtype=np.float64))
    block = {k: v for k, v in dict(scope).items()}
    model = load_scope(block)
    if len(x) == 0 or x.ndim != 2 or not np.all(np.isfinite(x)):
        raise ValueError(f"expected finite (n, {model.dim}) image descriptors")
    two_sided = isinstance(model, DermoscopyScope)
    parts, general = (INPUTS[model.inputs], model.general) if two_sided else (1, 0)
    read_parts(x, model.dim, parts, general)  # the width check, before anything moves
    record: dict[str, Any] = {"images": int(len(x))}
    familiar_block = block if isinstance(model, ScopeModel) else block.get("familiar")
    if isinstance(model, DermoscopyScope):
        low = float(np.min(model.score(x)))
        for key in ("threshold", "caution"):
            if low < float(block[key]):
                record[f"previous_{key}"] = float(block[key])
                block[key] = _below(low)
        if "previous_threshold" in record:  # a lower limit refuses fewer: the figure is stale
            block.pop("clinical_photos_refused", None)
    if familiar_block is not None:
        fam = ScopeModel.from_dict(familiar_block)
        far = float(np.max(fam.distance(x)))
        if far > fam.threshold:
            familiar_block = {**familiar_block, "threshold": _above(far)}
            record["previous_distance_threshold"] = fam.threshold
            if isinstance(model, ScopeModel):
                block = familiar_block
            else:
                block["familiar"] = familiar_block
    previous = scope.get("extended") if isinstance(scope.get("extended"), Mapping) else None
    record["images"] += int(previous.get("images", 0)) if previous else 0
    block["extended"] = record
    load_scope(block)  # what is returned must load
    return block


def limit_for(
    scores: np.ndarray, melanoma: np.ndarray, melanoma_margin: float = MELANOMA_MARGIN
) -> float:
    """The clinic's limit (log-odds) from its images' dermoscopy scores: ``MARGIN`` under the
    ``QUANTILE`` of them, or ``melanoma_margin`` under that of its melanomas if lower."""
    limit = float(np.quantile(scores, QUANTILE, method="lower")) - MARGIN
    if melanoma.any():
        mel = float(np.quantile(scores[melanoma], QUANTILE, method="lower"))
        limit = min(limit, mel - melanoma_margin)
    return limit


# Why no clinic limit was set (desktop.adapt.report words them).
ONE_SIDED = "one-sided"  # an older card: its check has no dermoscopy score to limit
NOTHING_MORE = "nothing-more"  # the clinic's images reach down to the card's own limit
REFUSES_OWN = "refuses-own"  # out of fold it refused too many of the clinic's own images


@dataclass(frozen=True)
class ClinicLimitOutcome:
    """What :func:`clinic_limit` measured, and the scope block's ``clinic`` entry if set."""

    images: int
    melanomas: int
    kept: float | None = None  # out of fold: share of the clinic's images the limit kept
    melanomas_kept: float | None = None
    block: dict[str, Any] | None = None  # None: not set, for ``why``
    why: str | None = None

    def record(self) -> dict[str, Any]:
        """What the adaptation block records: the figures and why, not the scope entry."""
        return {k: v for k, v in asdict(self).items() if k != "block"}


def clinic_limit(
    scope: Mapping[str, Any],
    descriptors: np.ndarray,
    melanoma: np.ndarray,
    groups: np.ndarray,
    folds: int = FOLDS,
    seed: int = 0,
) -> ClinicLimitOutcome:
    """The clinic's own limit for an (extended) scope block, cross-validated on its images
    (:func:`limit_from_scores` on their dermoscopy scores)."""
    mel = np.asarray(melanoma, dtype=bool)
    model = load_scope(scope)
    if not isinstance(model, DermoscopyScope):
        return ClinicLimitOutcome(len(mel), int(mel.sum()), why=ONE_SIDED)
    scores = np.asarray(model.score(np.atleast_2d(descriptors)), dtype=np.float64)
    return limit_from_scores(scores, mel, groups, model.threshold, folds, seed)


def limit_from_scores(
    scores: np.ndarray,
    melanoma: np.ndarray,
    groups: np.ndarray,
    threshold: float,
    folds: int = FOLDS,
    seed: int = 0,
    melanoma_margin: float = MELANOMA_MARGIN,
) -> ClinicLimitOutcome:
    """The clinic's limit over ``threshold`` (the card's own, already extended to take in
    every one of its images), or why none.

    Each fold's images are judged by the limit set without them (whole lesion or patient
    groups per fold); the limit is kept only if that refused under ``1 - MIN_KEPT`` of them
    and no melanoma. The limit stored is the one set on every image.
    """
    mel = np.asarray(melanoma, dtype=bool)
    scores = np.asarray(scores, dtype=np.float64)
    if scores.shape != mel.shape or not np.all(np.isfinite(scores)):
        raise ValueError("expected one finite dermoscopy score per image")
    groups = np.asarray(groups).astype(str)
    k = max(2, min(folds, len(np.unique(groups))))
    fold = fit.folds(groups, mel, k, seed)
    kept = np.ones(len(scores), dtype=bool)
    for f in range(k):
        test = fold == f
        own = limit_for(scores[~test], mel[~test], melanoma_margin)
        kept[test] = scores[test] >= max(own, threshold)
    share = float(kept.mean())
    mel_share = float(kept[mel].mean()) if mel.any() else None
    measured = ClinicLimitOutcome(len(mel), int(mel.sum()), share, mel_share)
    limit = limit_for(scores, mel, melanoma_margin)
    if limit <= threshold:
        return replace(measured, why=NOTHING_MORE)
    if share < MIN_KEPT or (mel_share is not None and mel_share < 1.0):
        return replace(measured, why=REFUSES_OWN)
    block = {
        "threshold": limit,
        "images": measured.images,
        "kept": round(share, 4),
        "melanomas": measured.melanomas,
        "melanomas_kept": None if mel_share is None else round(mel_share, 4),
        "rule": f"{MARGIN} log-odds under the {QUANTILE:.0%} quantile of the clinic's images, "
        f"or {melanoma_margin} under that of its melanomas if lower",
        "folds": k,
    }
    return replace(measured, block=block)


def with_clinic_limit(scope: Mapping[str, Any], limit: ClinicLimitOutcome) -> dict[str, Any]:
    """A copy of the scope block with the clinic's limit, if one was set; it must load."""
    block = dict(scope)
    if limit.block is not None:
        block["clinic"] = dict(limit.block)
        load_scope(block)
    return block


def _below(value: float) -> float:
    """A limit just under ``value``: it stays under after the card's JSON round trip."""
    return float(value - 1e-6 * max(1.0, abs(value)))


def _above(value: float) -> float:
    return float(value + 1e-6 * max(1.0, abs(value)))
