"""The rows of the "is this dermoscopy" fit (:class:`Sides`) and its leave-one-origin-out limits.

Rows come from ``benchmarks.origin_features`` (dermoscopy origins and clinical photos) and from
the non-skin pictures of :mod:`benchmarks.pictures`, run through the app's path. The limit is
the lowest over the dermoscopy origins, each left out of the fit in turn, that keeps 99 % of
that origin and of its melanomas, less a margin; the negatives are scored out-of-fold.
:mod:`benchmarks.scope` runs it all.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks.pictures import Named
from benchmarks.scope_fit import Fit
from desktop import quality
from desktop.descriptor import GENERAL_INPUTS
from desktop.imaging import ImageLoadError, open_image, preprocess
from desktop.inference import Classifier, ViewOutputs
from desktop.pixel_cues import pixel_cues
from desktop.scope import DermoscopyScope

CLINICAL = "clinical-photos"
# Square crops of the clinical photos, a negative of their own: the close-up a phone held near
# the skin takes, which the whole photos rarely show. Each crop keeps its photo's group, so
# cross-validation leaves a photo and its crops out together; the photos' own refusal rates
# stay measured on the whole photos. With them, `python -m benchmarks.scope` went from 63.7 % to
# 68.3 % of clinical photos and from 67.8 % to 70.2 % of pictures refused out-of-fold (2026-12-03);
# 4 crops per photo over 25-90 % of the short side refused fewer than 2 over 30-60 % (probe).
CLOSE_UP = "clinical close-ups"
CROPS_PER_PHOTO = 2
CROP_SIDE = (0.3, 0.6)  # a crop's side, as a share of the photo's short side
PICTURE = "picture:"  # origin prefix of the non-skin pictures
# Marked copies (benchmarks.marks): dermoscopy images with a colour patch, ink or a ruler drawn
# on, positives of the fit in their origin's share. Their names start with MARKED; they are
# left out with their origin and never scored for its limit.
MARKED = "marks:"
MARKED_PER_ORIGIN = 150

KEEP_MIN = 0.99  # each held-out dermoscopy origin, and its melanomas, stays assessable
MARGIN = 0.5  # log-odds below the lowest held-out limit
CAUTION_QUANTILE = 0.05  # the caution band: the lowest 5 % of a held-out origin's scores
FOLDS = 5
SEED = 0
# What the decision reads of each image (desktop.descriptor.INPUTS): the feature map's mean, and its
# spatial maximum, spread and centre. Out-of-fold with `python -m benchmarks.scope` (2026-12-03),
# against `--inputs mean`: clinical photos refused 71.7 % against 68.3 %, non-skin pictures
# 74.6 % against 70.2 %, every left-out origin still >= 99.3 % assessable. The fits take about
# three times as long (768 numbers per image instead of 192).
INPUTS = "mean+spatial"
FEATURES = {  # the card's words for each
    "mean": "global average of the model's feature map, averaged over the test-time views",
    "mean+spatial": "per channel of the model's feature map: its global average, maximum, "
    "standard deviation and central-square average, each averaged over the test-time views",
    "mean+spatial+general": "per channel of the model's feature map: its global average, "
    "maximum, standard deviation and central-square average, and a general-purpose network's "
    "pooled features and the spread of each channel of its style maps (ImageNet's "
    "EfficientNet-Lite0, untouched by dermoscopy; the card's general block), each averaged over "
    "the test-time views",
}


@dataclass
class Sides:
    """Every row of the fit: features, side (1 = dermoscopy), origin, group and figures."""

    x: np.ndarray  # (N, D) view-mean descriptors (desktop.descriptor.describe), or pooled features
    y: np.ndarray  # (N,) 1 dermoscopy, 0 other
    origin: np.ndarray  # dermoscopy origin, 'clinical-photos' or 'picture:<category>'
    group: np.ndarray  # left out together in the negatives' cross-validation
    name: np.ndarray  # file name: the same ISIC image in two origins is left out with both
    melanoma: np.ndarray  # (N,) bool
    alert: np.ndarray  # (N,) bool: the melanoma alert the model would raise without a scope

    def origins(self) -> list[str]:
        return sorted(set(self.origin[self.y == 1].tolist()))


def weights(s: Sides) -> np.ndarray:
    """Each dermoscopy origin weighs the same (a small clinic counts as much as a large one);
    the clinical photos and their close-ups weigh 70 % of the negative side, the pictures 30 %."""
    w = np.zeros(len(s.y))
    pos = s.y == 1
    for o in s.origins():
        m = s.origin == o
        w[m] = 1.0 / m.sum() / len(s.origins())
    clinical = np.isin(s.origin, (CLINICAL, CLOSE_UP))
    pictures = (~pos) & ~clinical
    for m, share in ((clinical, 0.7), (pictures, 0.3)):
        if m.any():
            w[m] = share / m.sum()
    if not (clinical.any() and pictures.any()):
        w[~pos] = 1.0 / max(int((~pos).sum()), 1)
    return w


def fit_on(s: Sides, rows: np.ndarray, fit: Fit) -> DermoscopyScope:
    block = fit(s.x[rows], s.y[rows], weights(_subset(s, rows)))
    return DermoscopyScope.from_dict({**block, "threshold": 0.0})


def _subset(s: Sides, rows: np.ndarray) -> Sides:
    return Sides(*(getattr(s, f)[rows] for f in Sides.__dataclass_fields__))


def _lower(values: np.ndarray, q: float) -> float:
    return float(np.quantile(values, q, method="lower"))


def marked(s: Sides) -> np.ndarray:
    """Which rows are marked copies (:data:`MARKED`)."""
    return np.char.startswith(s.name.astype(str), MARKED)


def plain_names(s: Sides) -> np.ndarray:
    """File names with a marked copy's prefix taken off: a copy is left out with its image."""
    return np.char.replace(s.name.astype(str), MARKED, "")


def own(s: Sides, origin: str) -> np.ndarray:
    """The rows of ``origin``'s own images, not its marked copies: what its figures are of."""
    return (s.origin == origin) & ~marked(s)


def held_out_scores(s: Sides, negatives: np.ndarray, fit: Fit) -> dict[str, np.ndarray]:
    """Each dermoscopy origin's scores under a decision fitted without it (and without any
    image of the same file name in another origin, or a marked copy of one), negatives
    ``negatives`` (a row mask); the origin's own images only, never its marked copies."""
    out = {}
    copy, plain = marked(s), plain_names(s)
    for o in s.origins():
        held = s.origin == o
        same_name = np.isin(plain, plain[held])
        train = ((s.y == 1) & ~held & ~same_name) | ((s.y == 0) & negatives)
        out[o] = fit_on(s, train, fit).score(s.x[held & ~copy])
    return out


def limits(s: Sides, scores: dict[str, np.ndarray]) -> tuple[float, float, dict[str, float]]:
    """(threshold, caution, per-origin limit): the lowest limit over the held-out origins that
    keeps 99 % of each origin and of its melanomas, less the margin; the caution band ends at
    the lowest 5 % quantile of an origin's held-out scores."""
    per = {}
    for o, sc in scores.items():
        mel = s.melanoma[own(s, o)]
        lim = _lower(sc, 1 - KEEP_MIN)
        if mel.any():
            lim = min(lim, _lower(sc[mel], 1 - KEEP_MIN))
        per[o] = lim
    threshold = min(per.values()) - MARGIN
    caution = max(
        threshold, min(float(np.quantile(sc, CAUTION_QUANTILE)) for sc in scores.values())
    )
    return threshold, caution, per


def negative_folds(s: Sides, k: int = FOLDS, seed: int = SEED) -> np.ndarray:
    """Fold of each negative row (-1 for dermoscopy): whole groups, shuffled, dealt round."""
    fold = np.full(len(s.y), -1)
    neg = s.y == 0
    groups = np.array(sorted(set(s.group[neg].tolist())))
    order = np.random.default_rng(seed).permutation(len(groups))
    of = {g: i % k for i, g in zip(range(len(groups)), groups[order], strict=True)}
    fold[neg] = [of[g] for g in s.group[neg]]
    return fold


def out_of_fold(s: Sides, fit: Fit) -> dict[str, np.ndarray]:
    """Every negative's score, threshold and caution from a fit (and LOOO limit) without its
    group's fold: the refusal rates of clinical photos and pictures are not fitted-on."""
    fold = negative_folds(s)
    score = np.full(len(s.y), np.nan)
    thr = np.full(len(s.y), np.nan)
    cau = np.full(len(s.y), np.nan)
    for k in range(FOLDS):
        out = fold == k
        keep = (s.y == 0) & ~out
        t, c, _ = limits(s, held_out_scores(s, keep, fit))
        model = fit_on(s, (s.y == 1) | keep, fit)
        score[out], thr[out], cau[out] = model.score(s.x[out]), t, c
    return {"score": score, "threshold": thr, "caution": cau}


def fit_two_sided(
    s: Sides,
    familiar: dict[str, Any] | None,
    fit: Fit,
    settings: dict[str, Any],
    inputs: str = INPUTS,
    general: int = 0,
) -> tuple[dict[str, Any], dict[str, np.ndarray], dict[str, float]]:
    """The card's block (fitted on all rows, limits from leave-one-origin-out), the held-out
    scores per origin, and each origin's own limit; ``general``: the general network's features
    at the end of each row (for ``inputs`` that read them)."""
    scores = held_out_scores(s, s.y == 0, fit)
    threshold, caution, per = limits(s, scores)
    block = fit(s.x, s.y, weights(s))
    kept = min(float(np.mean(sc >= threshold)) for sc in scores.values())
    block.update(
        inputs=inputs,
        features=FEATURES[inputs],
        threshold=threshold,
        caution=caution,
        held_out_assessable_rate=kept,
        fit={
            **settings,
            "margin": MARGIN,
            "keep_per_held_out_origin": KEEP_MIN,
            "caution_quantile": CAUTION_QUANTILE,
            "dermoscopy_images": {o: int(own(s, o).sum()) for o in s.origins()},
            "marked_copies": int(marked(s).sum()),
            "clinical_photos": int((s.origin == CLINICAL).sum()),
            "clinical_close_ups": int((s.origin == CLOSE_UP).sum()),
            "pictures": int(np.char.startswith(s.origin.astype(str), PICTURE).sum()),
            "held_out_limits": per,
        },
    )
    if inputs in GENERAL_INPUTS:
        block["general_features"] = general
    if familiar is not None:
        block["familiar"] = familiar
    DermoscopyScope.from_dict(block)
    return block, scores, per


# Rows ---------------------------------------------------------------------------------------------
def alerts(probabilities: np.ndarray, card: Any) -> np.ndarray:
    """The melanoma alert each row would raise if nothing set it aside (the app's rule)."""
    p = np.asarray(probabilities)
    mel = card.melanoma_index
    return (p[:, mel] >= card.melanoma_threshold) | (np.argmax(p, axis=1) == mel)


def load_rows(
    path: Path, card: Any, inputs: str = INPUTS, general: np.ndarray | None = None
) -> Sides:
    """Dermoscopy and clinical rows of ``benchmarks.origin_features``, with the parts of each
    image's descriptor the decision reads (``inputs``, a key of ``desktop.descriptor.INPUTS``).
    Rows extracted without the card's general network get its features from ``general`` (row
    for row, ``benchmarks.scope_general.extract``)."""
    with np.load(path, allow_pickle=False) as z:
        labels, origins = z["labels"].astype(str), z["origins"].astype(str)
        groups, names = z["groups"].astype(str), z["names"].astype(str)
        probs = z["probabilities"]
        if inputs == "mean":
            x = z["pooled"].astype(np.float64)
        elif "descriptors" in z.files:
            x = z["descriptors"].astype(np.float64)
        else:
            raise ValueError(
                f"{path} has no descriptors: extract again with python -m benchmarks.origin_features"
            )
        if general is None and "general" in z.files:
            general = z["general"].astype(np.float64)
    x = cut(x, inputs, card)
    if inputs in GENERAL_INPUTS and x.shape[1] == card.descriptor_width:
        if general is None or len(general) != len(x):
            raise ValueError(f"{path} has no general network's features: give them row for row")
        x = np.hstack([x, general])
    return Sides(
        x=x,
        y=(origins != CLINICAL).astype(int),
        origin=origins,
        group=groups,
        name=names,
        melanoma=labels == "melanoma",
        alert=alerts(probs, card),
    )


def cut(x: np.ndarray, inputs: str, card: Any) -> np.ndarray:
    """The numbers of each row the decision reads: the pooled features, the lesion model's
    whole descriptor, or that and the general network's features (when the rows hold them)."""
    if inputs == "mean":
        return x[:, : len(card.cam_weights)]
    return x if inputs in GENERAL_INPUTS else x[:, : card.descriptor_width]


def _read(out: ViewOutputs, inputs: str, card: Any) -> np.ndarray:
    """The numbers of one image's views the decision reads."""
    return cut(out.descriptor[None], inputs, card)[0]


def picture_rows(
    clf: Classifier, pictures: Sequence[Named], inputs: str = INPUTS
) -> tuple[Sides, np.ndarray]:
    """Non-skin pictures through the app's path; also whether pixels or quality refuse them."""
    feats, probs, refused = [], [], []
    for _cat, _name, img in pictures:
        arr = preprocess(img.convert("RGB"), clf.card.preprocessing)
        out = clf.views(arr, full=True)
        feats.append(_read(out, inputs, clf.card))
        probs.append(out.probabilities)
        refused.append(bool(quality.assess_quality(img, arr) or pixel_cues(arr)))
    cats = np.array([PICTURE + c for c, _, _ in pictures])
    s = Sides(
        x=np.array(feats, dtype=np.float64),
        y=np.zeros(len(pictures), dtype=int),
        origin=cats,
        group=cats,
        name=np.array([n for _, n, _ in pictures]),
        melanoma=np.zeros(len(pictures), dtype=bool),
        alert=alerts(np.array(probs), clf.card),
    )
    return s, np.array(refused)


def close_up_rows(
    clf: Classifier,
    photos: Sequence[tuple[Path, str]],
    per_photo: int = CROPS_PER_PHOTO,
    seed: int = SEED,
    inputs: str = INPUTS,
) -> Sides:
    """``per_photo`` seeded square crops of every readable clinical photo ((path, group) pairs),
    through the app's path; each crop keeps its photo's group. Unreadable photos are skipped
    (their whole photo is not in the rows either)."""
    rng = np.random.default_rng(seed)
    feats, probs, groups, names = [], [], [], []
    for path, group in photos:
        try:
            img = open_image(path).convert("RGB")
        except ImageLoadError:
            continue
        for k in range(per_photo):
            side = max(int(min(img.size) * rng.uniform(*CROP_SIDE)), 1)
            x0 = int(rng.integers(0, img.width - side + 1))
            y0 = int(rng.integers(0, img.height - side + 1))
            crop = img.crop((x0, y0, x0 + side, y0 + side))
            out = clf.views(preprocess(crop, clf.card.preprocessing), full=True)
            feats.append(_read(out, inputs, clf.card))
            probs.append(out.probabilities)
            groups.append(group)
            names.append(f"crop{k}:{Path(path).name}")
    n = len(names)
    return Sides(
        x=np.array(feats, dtype=np.float64).reshape(n, -1) if n else np.zeros((0, 0)),
        y=np.zeros(n, dtype=int),
        origin=np.full(n, CLOSE_UP),
        group=np.array(groups, dtype=str),
        name=np.array(names, dtype=str),
        melanoma=np.zeros(n, dtype=bool),
        alert=alerts(np.array(probs), clf.card) if n else np.zeros(0, dtype=bool),
    )


def marked_rows(
    clf: Classifier,
    paths: Sequence[tuple[Path, str]],
    per_origin: int = MARKED_PER_ORIGIN,
    seed: int = SEED,
    inputs: str = INPUTS,
) -> Sides:
    """``per_origin`` seeded images of each dermoscopy origin ((path, origin) pairs) with marks
    drawn on (:func:`benchmarks.marks.marked`), through the app's path: positives of their
    origin, named :data:`MARKED` + the image's file name. Unreadable images are skipped."""
    from benchmarks.marks import marked as draw_marks

    rng = np.random.default_rng(seed)
    named: list[Named] = []
    for o in sorted({origin for _, origin in paths}):
        mine = [path for path, origin in paths if origin == o]
        for i in sorted(rng.choice(len(mine), min(per_origin, len(mine)), replace=False)):
            try:
                img, _kinds = draw_marks(open_image(mine[i]), rng)
            except ImageLoadError:
                continue
            named.append((o, MARKED + Path(mine[i]).name, img))
    if not named:
        empty = np.zeros(0, dtype=str)
        return Sides(
            np.zeros((0, 0)), np.zeros(0, int), empty, empty, empty, *[np.zeros(0, bool)] * 2
        )
    s, _ = picture_rows(clf, named, inputs)
    s.y[:] = 1
    s.origin = np.array([o for o, _, _ in named], dtype=str)
    s.group = np.char.add(MARKED, s.origin)
    return s


def join(a: Sides, b: Sides) -> Sides:
    return Sides(
        *(np.concatenate([getattr(a, f), getattr(b, f)]) for f in Sides.__dataclass_fields__)
    )
