"""Does the verdict hold when the same lesion is photographed again?

A GP who re-takes a photo (another JPEG setting, another distance, the camera turned, another
white balance, a slightly soft focus) should get the same answer. Each image is re-captured by
every variant of :data:`VARIANTS` and classified by the app's own ``Classifier`` (the eight
test-time views, the card's thresholds); against the original, per variant, this reports the
share of images whose melanoma alert flips, whose most likely class changes and whose
assessability changes, and the melanoma ROC AUC.

Images: ``isic2020`` (the backbone never trained on it: the shipped run's sources are
isic-9class, HAM10000 and isic2017; the shipped head was refitted with it), a seeded sample with every melanoma in it; and, reported apart, a
seeded sample of the training sources ("seen in training": the shipped run's split is not
here, so most of them were trained on).

    python -m benchmarks.robustness            # writes benchmarks/robustness.json
    python -m benchmarks.robustness --write-card assets/model.json   # and the card's band

With ``--write-card`` the card's ``alert.borderline`` gets, from the isic2020 set, how often a
re-take changed the alert for images inside the borderline band and for the others: the figures
the app quotes beside a result in the band (``desktop.verdict``).

The targets (:data:`TARGETS`) are measured and written down, not enforced by any test.
"""

from __future__ import annotations

import argparse
import json
import math
import random
import re
import sys
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

import numpy as np
from PIL import Image

from benchmarks.robustness_report import markdown
from desktop import verdict
from desktop.adapt.fit import roc_auc
from desktop.prediction import Prediction
from desktop.recapture import VARIANTS, Variant

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT.parent / "shared" / "data"
DEFAULT_OUT = Path(__file__).resolve().parent / "robustness.json"
COMMAND = "python -m benchmarks.robustness"
HELD_OUT = "isic2020"
SEEN = ("isic-9class", "ham10000", "isic2017")
MELANOMA = "melanoma"
SEED = 0
# Shares of images, on every variant; the targets.
TARGETS = {"alert_flips": 0.03, "class_changes": 0.05, "assessability_changes": 0.01}
# A "borderline" band around the alert threshold, in log-odds (0.25: about 0.036..0.057 at the
# shipped 0.045): a flip whose two melanoma probabilities lie on the far sides of it is a hard
# flip, one a third "borderline" answer would not absorb. 0.1 and 0.5 were also looked at.
BAND = 0.25


# ---------------------------------------------------------------- comparing verdicts


@dataclass(frozen=True)
class Outcome:
    """What the app shows for one image, reduced to what a re-take may change."""

    alert: bool
    top: str  # the most likely class
    shown: str  # what the app names: the class, or its group (the benign keratoses)
    said: str  # what the app says: ``shown``, or "uncertain" under the card's confidence limit
    assessable: bool
    melanoma: float  # melanoma probability (the score of the ROC AUC)
    reason: str = ""  # why it cannot be assessed (the first reason)

    @classmethod
    def of(cls, pred: Prediction) -> Outcome:
        group = verdict.top_group(pred)
        shown = group[0] if group else pred.label
        reasons = pred.cannot_assess_reasons
        return cls(
            alert=pred.melanoma_alert,
            top=pred.label,
            shown=shown,
            said="uncertain" if verdict.low_confidence_reason(pred) else shown,
            assessable=pred.assessable,
            melanoma=pred.melanoma_probability,
            reason=reasons[0] if reasons else "",
        )


def _logit(p: float) -> float:
    p = min(max(p, 1e-9), 1 - 1e-9)
    return math.log(p / (1 - p))


def _share(n: int, total: int) -> float | None:
    return round(n / total, 4) if total else None


def compare(
    original: Sequence[Outcome],
    variant: Sequence[Outcome],
    melanoma: Sequence[bool],
    threshold: float,
) -> dict[str, Any]:
    """Per-variant figures against the original, image by image (shares of all images)."""
    n = len(original)
    if len(variant) != n or len(melanoma) != n:
        raise ValueError("original, variant and labels must have one entry per image")
    pairs = list(zip(original, variant, melanoma, strict=True))
    flips = [(a, b, m) for a, b, m in pairs if a.alert != b.alert]
    lo, hi = band_ends(threshold)
    hard = [(a, b) for a, b, _ in flips if {_side(a, lo, hi), _side(b, lo, hi)} == {-1, 1}]
    lost = Counter(_gist(b.reason) for a, b, _ in pairs if a.assessable and not b.assessable)
    mel = np.asarray(melanoma, dtype=bool)
    return {
        "alert_flips": _share(len(flips), n),
        "alert_on_to_off": sum(a.alert for a, _, _ in flips),
        "alert_off_to_on": sum(b.alert for _, b, _ in flips),
        "melanoma_alerts_lost": sum(a.alert and m for a, _, m in flips),
        "hard_alert_flips": _share(len(hard), n),
        "class_changes": _share(sum(a.top != b.top for a, b, _ in pairs), n),
        "shown_class_changes": _share(sum(a.shown != b.shown for a, b, _ in pairs), n),
        "said_class_changes": _share(sum(a.said != b.said for a, b, _ in pairs), n),
        "assessability_changes": _share(sum(a.assessable != b.assessable for a, b, _ in pairs), n),
        "became_unassessable": dict(lost.most_common(3)),
        "melanoma_roc_auc": _auc([b.melanoma for b in variant], mel),
    }


def _gist(reason: str) -> str:
    """A reason's first words, without its figures, so that like reasons count together."""
    return re.split(r"\s*[(:,]", reason)[0]


def band_ends(threshold: float, band: float = BAND) -> tuple[float, float]:
    """The borderline band's ends in log-odds."""
    return _logit(threshold) - band, _logit(threshold) + band


def _side(o: Outcome, lo: float, hi: float) -> int:
    """-1 below the borderline band, 1 above it, 0 inside."""
    x = _logit(o.melanoma)
    return -1 if x < lo else (1 if x > hi else 0)


def _auc(scores: Sequence[float], positive: np.ndarray) -> float | None:
    auc = roc_auc(np.asarray(scores, dtype=np.float64), positive)
    return None if math.isnan(auc) else round(auc, 4)


def meets(figures: dict[str, Any]) -> dict[str, bool]:
    """Which targets a variant's figures meet (a missing figure does not)."""
    return {k: figures.get(k) is not None and figures[k] <= t for k, t in TARGETS.items()}


# ---------------------------------------------------------------- measuring


class Predicts(Protocol):
    """The app's ``Classifier`` or a test's stand-in: only ``predict_image`` is used."""

    def predict_image(self, img: Image.Image, with_cam: bool = True) -> Prediction: ...


@dataclass(frozen=True)
class Item:
    """One sampled image: its file and whether it is a melanoma (the ROC AUC's label)."""

    path: Path
    melanoma: bool


def classify_set(
    clf: Predicts,
    images: Sequence[Image.Image],
    variants: dict[str, Variant] = VARIANTS,
    progress: Callable[[int], None] | None = None,
) -> dict[str, list[Outcome]]:
    """Every image and its re-captures through ``clf``: outcomes per variant, "original" first."""
    out: dict[str, list[Outcome]] = {"original": [], **{name: [] for name in variants}}
    for i, img in enumerate(images):
        out["original"].append(Outcome.of(clf.predict_image(img, with_cam=False)))
        for name, v in variants.items():
            out[name].append(Outcome.of(clf.predict_image(v.make(img), with_cam=False)))
        if progress:
            progress(i + 1)
    return out


def summarise(
    outcomes: dict[str, list[Outcome]], melanoma: Sequence[bool], threshold: float
) -> dict[str, Any]:
    """The original's figures, and each variant's against it (:func:`compare`)."""
    original = outcomes["original"]
    n, mel = len(original), np.asarray(melanoma, dtype=bool)
    lo, hi = band_ends(threshold)
    result: dict[str, Any] = {
        "images": n,
        "melanomas": int(mel.sum()),
        "original": {
            "alerts": _share(sum(o.alert for o in original), n),
            "assessable": _share(sum(o.assessable for o in original), n),
            "uncertain": _share(sum(o.said == "uncertain" for o in original), n),
            "borderline": _share(sum(_side(o, lo, hi) == 0 for o in original), n),
            "melanoma_roc_auc": _auc([o.melanoma for o in original], mel),
        },
        "variants": {},
    }
    for name, outs in outcomes.items():
        if name != "original":
            figures = compare(original, outs, melanoma, threshold)
            result["variants"][name] = {**figures, "meets": meets(figures)}
    result["borderline"] = band_flips(outcomes, lo, hi)
    return result


# Re-takes among the test-time views (the probabilities already average them): left out of the
# borderline figures, which say what a re-take that changes the pixels does.
STILL = ("mirror", "rotate_90")


def band_flips(outcomes: dict[str, list[Outcome]], lo: float, hi: float) -> dict[str, Any]:
    """How often a re-take (every variant but :data:`STILL`) changed the alert, for assessable
    images whose original lies inside the borderline band and for the others: the figures the
    app's "borderline" line quotes (``alert.borderline`` in the card)."""
    original = outcomes["original"]
    inside = [o.assessable and _side(o, lo, hi) == 0 for o in original]
    flips = {True: 0, False: 0}
    pairs = {True: 0, False: 0}
    for name, outs in outcomes.items():
        if name == "original" or name in STILL:
            continue
        for a, b, ins in zip(original, outs, inside, strict=True):
            if a.assessable:
                pairs[ins] += 1
                flips[ins] += a.alert != b.alert
    return {
        "images_in_band": sum(inside),
        "images": sum(o.assessable for o in original),
        "flips_in_band": _share(flips[True], pairs[True]),
        "flips_outside": _share(flips[False], pairs[False]),
    }


def card_block(result: dict[str, Any], threshold: float) -> dict[str, Any]:
    """``alert.borderline`` for the card from the held-out set's :func:`band_flips`."""
    b = result["sets"][HELD_OUT]["borderline"]
    if b["flips_in_band"] is None or b["flips_outside"] is None:
        raise SystemExit(f"{HELD_OUT}: no image inside or outside the band; nothing to write")
    return {
        "band_log_odds": BAND,
        "threshold": threshold,
        "flips_in_band": b["flips_in_band"],
        "flips_outside": b["flips_outside"],
        "images": b["images"],
        "measured_on": f"{HELD_OUT} (no backbone trained on it), {COMMAND}",
    }


def write_card(card_path: Path, block: dict[str, Any]) -> None:
    """Replace only the card's ``alert.borderline``; refused where the card's alert threshold
    is not the one measured (the card would ignore the band)."""
    from benchmarks.common import write_card_block

    def takes_it(card: Any) -> str | None:
        return None if card.borderline else "its alert threshold is not the one measured here"

    write_card_block(card_path, ("alert", "borderline"), block, takes_it)


def measure_set(
    clf: Predicts,
    images: Sequence[Image.Image],
    melanoma: Sequence[bool],
    threshold: float,
    variants: dict[str, Variant] = VARIANTS,
) -> dict[str, Any]:
    """:func:`classify_set` then :func:`summarise`."""
    return summarise(classify_set(clf, images, variants), melanoma, threshold)


def sample(data: Path, held_out: int, seen: int, seed: int = SEED) -> dict[str, list[Item]]:
    """The seeded image sets: isic2020 with every melanoma, and the training sources.

    An isic2020 image whose file name is also in a training source is left out (the same
    ISIC image re-encoded would not be held out)."""
    from desktop.labelled.labels import LabelMap
    from desktop.labelled.sources import read_sources

    sources = {s.name: s for s in read_sources([str(data / n) for n in SEEN], LabelMap())}
    seen_records = [r for name in SEEN if name in sources for r in sources[name].records]
    seen_names = {r.path.stem for r in seen_records}
    (s2020,) = read_sources([str(data / HELD_OUT)], LabelMap())
    fresh = [r for r in s2020.records if r.path.stem not in seen_names]
    rng = random.Random(seed)
    mels = [r for r in fresh if r.label == MELANOMA]
    others = [r for r in fresh if r.label != MELANOMA]
    picked = mels + rng.sample(others, max(0, min(len(others), held_out - len(mels))))
    unique = list({r.path.stem: r for r in seen_records}.values())
    seen_picked = rng.sample(unique, min(seen, len(unique)))
    return {
        HELD_OUT: [Item(r.path, r.label == MELANOMA) for r in picked],
        "training sources": [Item(r.path, r.label == MELANOMA) for r in seen_picked],
    }


SET_TITLES = {
    HELD_OUT: "isic2020: the backbone never trained on it (the shipped head was refitted with it)",
    "training sources": "seen in training: isic-9class, HAM10000, isic2017",
}


def run(
    clf: Any, sets: dict[str, list[Item]], threshold: float, keep: Path | None = None
) -> dict[str, Any]:
    """Each set classified and summarised, with progress on stderr; with ``keep``, every
    image's outcomes go to that JSON file too (to try other levers without re-classifying)."""
    from desktop.imaging import open_image

    out: dict[str, Any] = {}
    kept: dict[str, Any] = {}
    for name, items in sets.items():
        start = time.perf_counter()
        images = [open_image(it.path) for it in items]

        def progress(i: int, name: str = name, total: int = len(items)) -> None:
            if i % 50 == 0 or i == total:
                print(f"  {name}: {i}/{total}", file=sys.stderr, flush=True)

        outcomes = classify_set(clf, images, progress=progress)
        result = summarise(outcomes, [it.melanoma for it in items], threshold)
        result["title"] = SET_TITLES.get(name, name)
        result["seconds"] = round(time.perf_counter() - start, 1)
        out[name] = result
        kept[name] = {
            "images": [it.path.name for it in items],
            "melanoma": [it.melanoma for it in items],
            "outcomes": {k: [asdict(o) for o in v] for k, v in outcomes.items()},
        }
    if keep is not None:
        keep.write_text(json.dumps(kept), encoding="utf-8")
    return out


def resummarise(kept: Path, threshold: float) -> dict[str, Any]:
    """The sets of a ``--keep`` file summarised again (another band, another figure)."""
    out: dict[str, Any] = {}
    for name, k in json.loads(kept.read_text(encoding="utf-8")).items():
        outcomes = {v: [Outcome(**o) for o in outs] for v, outs in k["outcomes"].items()}
        out[name] = {**summarise(outcomes, k["melanoma"], threshold), "title": SET_TITLES[name]}
    return out


# ---------------------------------------------------------------- the report


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default=str(ROOT / "assets" / "model.tflite"))
    ap.add_argument("--data", type=Path, default=DATA)
    ap.add_argument("--held-out", type=int, default=600, help="isic2020 images (all melanomas)")
    ap.add_argument("--seen", type=int, default=300, help="images of the training sources")
    ap.add_argument("--seed", type=int, default=SEED)
    ap.add_argument("--out", type=Path, default=DEFAULT_OUT)
    ap.add_argument("--keep", type=Path, help="also write every image's outcomes here (JSON)")
    ap.add_argument("--reuse", type=Path, help="summarise a --keep file again, classify nothing")
    ap.add_argument(
        "--write-card",
        type=Path,
        help="write the held-out set's borderline figures into this card's alert.borderline",
    )
    given = list(sys.argv[1:] if argv is None else argv)
    args = ap.parse_args(given)
    from benchmarks.common import file_sha256, without_root
    from desktop.inference import Classifier

    clf = Classifier(args.model)
    sets = {} if args.reuse else sample(args.data, args.held_out, args.seen, args.seed)
    res = {
        "what": __doc__.splitlines()[0],
        "command": " ".join([COMMAND, *given]),
        "created": datetime.now(UTC).isoformat(timespec="seconds"),
        "model": {
            "path": args.model,
            "version": clf.card.model_version,
            "sha256": file_sha256(Path(args.model)),
        },
        "alert_threshold": clf.card.melanoma_threshold,
        "seed": args.seed,
        "targets": TARGETS,
        "band_log_odds": BAND,
        "variants": {k: v.description for k, v in VARIANTS.items()},
        "sets": (
            resummarise(args.reuse, clf.card.melanoma_threshold)
            if args.reuse
            else run(clf, sets, clf.card.melanoma_threshold, args.keep)
        ),
    }
    res = without_root(res)
    args.out.write_text(json.dumps(res, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    print(markdown(res))
    print(f"\nwritten: {without_root(str(args.out.resolve()))}")
    if args.write_card:
        write_card(args.write_card, card_block(res, clf.card.melanoma_threshold))
        print(f"written: alert.borderline of {without_root(str(args.write_card.resolve()))}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
