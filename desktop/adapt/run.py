"""One adaptation from start to finish (read, extract, cross-validate, fit, write), for the
command line and the window alike."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import sys
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from desktop.adapt import fit
from desktop.adapt.clinic import ClinicData, ClinicDataError, read_clinic, shortfall
from desktop.adapt.report import clinic_limit_text, report_md, roc_png, table
from desktop.adapt.scope_limits import (
    ONE_SIDED,
    ClinicLimitOutcome,
    clinic_limit,
    extend_scope,
    with_clinic_limit,
)
from desktop.card import card_path_for, load_card, validate
from desktop.features import ExtractionCancelled, extract
from desktop.front_door import Exit, exit_help, open_model
from desktop.hashing import sha256_file
from desktop.head import METHOD
from desktop.inference import Classifier

DEFAULT_FOLDS = 5
# Each clinic image is also fitted on as this many random re-captures of itself (framing,
# distance, focus, exposure, white balance, JPEG: desktop.recapture), with its label and fold,
# so the adapted alert moves less when a lesion is photographed again. Measured on simulated
# clinics (docs/experiments.md, "Fitted on re-captured copies"); every figure adapt reports is
# still measured on the clinic's own images alone.
RECAPTURED_COPIES = 1
Progress = Callable[[str, int, int], None]  # (stage, done, total)


class AdaptError(Exception):
    """Adaptation cannot go on; ``str(err)`` is one line a user can act on."""


class NotBetter(AdaptError):
    """The adapted model is not better out of fold; nothing was written (see ``--force``)."""


@dataclass
class Outcome:
    """What an adaptation measured, and where the model went (None when not written)."""

    before: fit.Figures
    after: fit.Figures
    table: str
    better: bool
    left_out: dict[str, dict[str, Any]]
    model: Path | None
    block: dict[str, Any]
    clinic_limit: ClinicLimitOutcome | None = None  # asked for: set, or why not


def _fingerprint(hashes: list[str], labels: list[str]) -> str:
    """Which images with which labels: no paths, no file names."""
    h = hashlib.sha256()
    for sha, label in sorted(zip(hashes, labels, strict=True)):
        h.update(f"{sha}:{label}\n".encode())
    return h.hexdigest()


def _groups(data: ClinicData, rows: np.ndarray, hashes: list[str]) -> np.ndarray:
    """A lesion or patient group when given; identical files always share one."""
    return np.array([data.groups[i] or f"file:{sha}" for i, sha in zip(rows, hashes, strict=True)])


def _base(classifier: Classifier) -> fit.Base:
    card = classifier.card
    if card.head is not None:  # a head refitted on pooled features: that is the base
        return fit.Base(card.head.weights, card.head.bias, card.head.temperature)
    return fit.Base(
        weights=np.asarray(card.cam_weights, dtype=np.float64),
        bias=np.asarray(card.cam_bias, dtype=np.float64),
        temperature=float(card.temperature),
    )


def adapt(
    folders: list[str],
    out: Path,
    model: Path,
    folds: int = DEFAULT_FOLDS,
    force: bool = False,
    progress: Progress | None = None,
    cancelled: Callable[[], bool] | None = None,
    limit_scope: bool = False,
    processes: bool = False,
) -> Outcome:
    """Read, extract (cached in ``out``), cross-validate, fit and write ``out/model.*``.

    ``processes``: extract on forked processes (the command line; the window reads on threads).

    ``limit_scope``: also set the clinic's own "unlike this clinic's dermoscopy" limit, when
    cross-validation on its images allows (:func:`desktop.adapt.scope_limits.clinic_limit`).
    """
    out = Path(out)
    data = read_clinic(folders, out)
    classifier, reason = open_model(model, Classifier)  # one-thread lanes, one per core
    if classifier is None:
        raise AdaptError(reason)
    if classifier.card.adaptation is not None:
        raise AdaptError(
            "this model is already adapted to a clinic: adapt from the shipped (base) model"
        )
    out.mkdir(parents=True, exist_ok=True)
    feats = extract(
        classifier,
        data.paths,
        cache_dir=out,
        progress=(lambda d, t: progress("features", d, t)) if progress else None,
        cancelled=cancelled,
        recaptures=RECAPTURED_COPIES,
        processes=processes,
    )
    for i, reason in feats.errors:
        data.leave_out(f"unreadable image ({reason.split(': ', 1)[-1]})", data.paths[i].name)
    problem = shortfall(data, feats.index)
    if problem:
        raise ClinicDataError(problem)
    classes = classifier.card.classes
    mel = classifier.card.melanoma_index
    allowed = data.allowed_matrix(classes)[feats.index]
    groups = _groups(data, feats.index, feats.hashes)
    rows = fit.Data(feats.pooled, allowed, groups, feats.copies)
    k = fit.fold_count(rows, mel, folds)
    if progress:
        progress("cross-validation", 0, 2)
    before = fit.figures(feats.probabilities, allowed, mel, classifier.card.melanoma_threshold)
    oof, thresholds = fit.nested_oof(rows, _base(classifier), mel, k)
    after = fit.figures(oof, allowed, mel, thresholds)
    if progress:
        progress("cross-validation", 1, 2)
    head, choice = fit.fit_final(rows, _base(classifier), mel, k)
    if progress:
        progress("cross-validation", 2, 2)
    labels = [data.labels[i] for i in feats.index]
    block = _block(classifier, labels, feats.hashes, before, after, choice, rows, k)
    melanomas = allowed[:, mel] & rows.single
    scope, limit = _scope(classifier, feats.descriptors, melanomas, groups, limit_scope)
    if limit is not None:
        block["clinic_limit"] = limit.record()
    text = table(before, after, k)
    better = fit.adapted_is_better(before, after)
    written = None
    if better or force:
        written = _write(out, classifier, head, choice, block, after, scope)
        roc_png(
            out / "roc.png",
            feats.probabilities[:, mel],
            oof[:, mel],
            allowed[:, mel] & rows.single,
            before.roc_auc,
            after.roc_auc,
        )
        (out / "report.md").write_text(report_md(block, text, limit), encoding="utf-8")
    return Outcome(before, after, text, better, data.left_out, written, block, limit)


def _scope(
    classifier: Classifier,
    descriptors: np.ndarray,
    melanomas: np.ndarray,
    groups: np.ndarray,
    limit_scope: bool,
) -> tuple[dict[str, Any] | None, ClinicLimitOutcome | None]:
    """The adapted card's scope block: extended to take in the clinic's images, and with the
    clinic's own limit when asked for and cross-validation allows it."""
    scope = classifier.card.raw.get("scope")
    if scope is not None:  # the clinic's images are dermoscopy by definition
        scope = extend_scope(scope, descriptors)
    if not limit_scope:
        return scope, None
    if scope is None:
        return None, ClinicLimitOutcome(len(groups), int(melanomas.sum()), why=ONE_SIDED)
    limit = clinic_limit(scope, descriptors, melanomas, groups)
    return with_clinic_limit(scope, limit), limit


def _block(classifier, labels, hashes, before, after, choice, rows, k) -> dict[str, Any]:  # noqa: ANN001
    card = classifier.card
    kept = ~fit.trainable_classes(rows)
    return {
        "base_model_version": card.model_version,
        "base_model_sha256": sha256_file(classifier.model_path),
        "date": datetime.now(UTC).strftime("%Y-%m-%d"),
        "images": len(labels),
        "images_per_class": dict(sorted(Counter(labels).items())),
        "data_fingerprint": _fingerprint(hashes, labels),
        "method": f"{METHOD}, each also as {RECAPTURED_COPIES} random re-capture of itself",
        "recaptured_copies": RECAPTURED_COPIES,
        "penalty": choice.penalty,
        "temperature": choice.temperature,
        "melanoma_threshold": choice.threshold,
        "target_sensitivity": fit.TARGET_SENSITIVITY,
        "min_class_images": fit.MIN_CLASS_IMAGES,
        "classes_kept_from_base": [c for c, keep in zip(card.classes, kept, strict=True) if keep],
        "cross_validation": {
            "folds": k,
            "nested": True,
            "grouped": "by lesion or patient where the data gives one, and identical files",
            "base": before.to_dict(),
            "adapted": after.to_dict(),
        },
    }


def _write(out: Path, classifier, head, choice, block, after, scope) -> Path:  # noqa: ANN001
    """A complete card beside a copy of the same backbone, sealed; written atomically."""
    from desktop.general import copy_beside
    from desktop.seal import seal_card

    base = json.loads(card_path_for(classifier.model_path).read_text(encoding="utf-8-sig"))
    base.pop("integrity", None)
    stamp = block["date"].replace("-", ".")
    card = {
        **base,
        "model_version": f"{base['model_version']}+clinic.{stamp}.{block['data_fingerprint'][:8]}",
        "head": head.to_dict(),
        "cam": {"weights": head.weights.tolist(), "bias": head.bias.tolist()},
        "calibration": {
            "method": "temperature on the adapted head, fitted on out-of-fold logits",
            "temperature": choice.temperature,
        },
        "alert": {
            "melanoma_threshold": choice.threshold,
            "target_sensitivity": fit.TARGET_SENSITIVITY,
            "validation_sensitivity": after.sensitivity,
            "validation_specificity": after.specificity,
        },
        "metrics": {
            "measured_on": "this clinic's images, cross-validated",
            "model": "adapted head on the int8 backbone",
            "images": after.images,
            "balanced_accuracy": after.balanced_accuracy,
            "melanoma_sensitivity": after.sensitivity,
            "melanoma_specificity": after.specificity,
            "melanoma_roc_auc": after.roc_auc,
        },
        "adaptation": block,
    }
    if scope is not None:
        card["scope"] = scope
    model = out / "model.tflite"
    tmp_model = out / "model.tflite.part"
    shutil.copyfile(classifier.model_path, tmp_model)
    os.replace(tmp_model, model)
    copy_beside(card, classifier.model_path.parent, out)  # the scope reads it: it goes along
    sealed = seal_card(card, model)
    validate(sealed)
    tmp = out / "model.json.part"
    tmp.write_text(json.dumps(sealed, indent=2) + "\n", encoding="utf-8")
    os.replace(tmp, out / "model.json")
    load_card(out / "model.json")  # what the app will read
    return model


def parse_args(argv: list[str]) -> Any:
    import argparse

    from desktop.inference import DEFAULT_MODEL

    ap = argparse.ArgumentParser(
        prog="lesionlens adapt",
        description="Adapt the model to this clinic's dermatoscope from its labelled images: "
        "refits the model's last layer, its temperature and the melanoma alert on this "
        "clinic's images, and reports base against adapted, cross-validated.",
        epilog="Layouts: class folders named with the nine class names; a CSV image,label"
        "[,group] (group = lesion or patient id); HAM10000, ISIC 2017/2020 and ISIC 2018/2019 "
        "ground-truth CSVs. "
        + exit_help(
            {
                Exit.OK: "written",
                Exit.USAGE: "unusable data or options",
                Exit.NOT_BETTER: "not better (nothing written; --force writes it)",
            },
            lead="Exit",
        ),
    )
    ap.add_argument(
        "--data",
        action="append",
        required=True,
        metavar="DIR",
        help="a folder of the clinic's labelled images (repeatable); read only",
    )
    ap.add_argument(
        "--out",
        required=True,
        metavar="OUT",
        help="folder for model.tflite, model.json, report.md, roc.png and the "
        "feature cache (a re-run only extracts new images)",
    )
    ap.add_argument(
        "--model",
        default=str(DEFAULT_MODEL),
        help="the base model to adapt (default: the shipped model)",
    )
    ap.add_argument(
        "--folds",
        type=int,
        default=DEFAULT_FOLDS,
        help="cross-validation folds (default %(default)s)",
    )
    ap.add_argument(
        "--clinic-limit",
        action="store_true",
        help="also set aside images unlike this clinic's dermoscopy (more clinical photos "
        "refused, but dermoscopy from another dermatoscope too); set only if cross-validation "
        "on the clinic's images keeps 99 %% of them and every melanoma",
    )
    ap.add_argument(
        "--force",
        action="store_true",
        help="write the adapted model even when it is not better out of fold",
    )
    args = ap.parse_args(argv)
    if args.folds < 2:
        ap.error("--folds must be at least 2")
    return args


def main(argv: list[str]) -> int:
    """``adapt``'s command line: the table on stdout, problems on stderr; exit 0, 2 or 3."""
    args = parse_args(argv)

    def progress(stage: str, done: int, total: int) -> None:
        if total and (done == total or done % 100 == 0):
            print(f"{stage}: {done}/{total}", file=sys.stderr, flush=True)

    try:
        outcome = adapt(
            args.data,
            Path(args.out),
            Path(args.model),
            args.folds,
            args.force,
            progress,
            limit_scope=args.clinic_limit,
            processes=True,
        )
    except (AdaptError, ClinicDataError) as exc:
        print(f"adapt: {exc}", file=sys.stderr)
        return Exit.USAGE
    except ExtractionCancelled:
        return Exit.NOT_BETTER  # cancelled (the window's button): nothing written either
    for kind, entry in outcome.left_out.items():
        print(f"left out: {entry['count']} x {kind} (e.g. {entry['example']})", file=sys.stderr)
    print(outcome.table)
    if outcome.clinic_limit is not None:
        print(clinic_limit_text(outcome.clinic_limit))
    if outcome.model is None:
        print(
            "The adapted model is not better than the base model out of fold (melanoma ROC "
            "AUC), so it was not written. Add more labelled images, or use --force to write "
            "it anyway.",
        )
        return Exit.NOT_BETTER
    if not outcome.better:
        print("Written with --force although it is not better out of fold.")
    print(
        f"Adapted model: {outcome.model} (and {outcome.model.with_suffix('.json').name}); "
        f"report: {outcome.model.parent / 'report.md'}"
    )
    return Exit.OK
