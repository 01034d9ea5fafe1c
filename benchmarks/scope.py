"""Is this a dermoscopy image? The two-sided decision: fitted, thresholded, measured.

Positives: every dermoscopy origin of the data sources (the four HAM10000 clinics, ISIC
9-class, ISIC 2017, ISIC 2020). Negatives: the 2,000 clinical photos of skin disease and
the non-skin pictures of :mod:`benchmarks.pictures`. The features are the model's pooled
features averaged over the test-time views (``benchmarks.origin_features`` extracts them).

* The limit comes from leave-one-origin-out: each dermoscopy origin in turn is left out of
  the fit (with any image of the same name elsewhere), and the limit must keep at least
  99 % of that origin's images and of its melanomas assessable; the lowest such limit over
  the seven origins, less a margin, is the card's threshold. The final decision is fitted
  on everything.
* The refusal rates of the negatives are out-of-fold: clinical topics and picture
  categories are split into groups that are left out together, and each group is scored by
  a decision (and a limit, chosen the same way) fitted without it.
* The one-sided distance of the old scope is kept as a caution ("unlike the images the
  model learnt from"), together with a caution band just above the refusal.
* Image quality: a sample of real images per origin is loaded and measured against the
  limits of :mod:`desktop.quality` (target: at least 99.5 % pass).

    python -m benchmarks.origin_features --model assets/model.tflite --out runs/features/shipped
    python -m benchmarks.scope --rows runs/features/shipped/rows.npz [--write-card assets/model.json]

writes ``benchmarks/scope.json`` (the figures of ``docs/scope.md``) and, with
``--write-card``, the fitted block into that card's ``scope`` key (nothing else changes).
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from benchmarks.pictures import Named, ordinary_pictures
from benchmarks.scope_fit import METHOD, Fit, fitter
from desktop import quality
from desktop.card import load_card
from desktop.imaging import ImageLoadError, open_image, preprocess
from desktop.inference import Classifier
from desktop.scope import (
    TWO_SIDED_METHODS,
    DermoscopyScope,
    ScopeModel,
    pixel_cues,
)

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_OUT = Path(__file__).resolve().parent / "scope.json"
DEFAULT_ROWS = ROOT / "runs" / "features" / "shipped" / "rows.npz"
DATA = ROOT.parent / "shared" / "data"
CLINICAL = "clinical-photos"
PICTURE = "picture:"  # origin prefix of the non-skin pictures

KEEP_MIN = 0.99  # each held-out dermoscopy origin, and its melanomas, stays assessable
MARGIN = 0.5  # log-odds below the lowest held-out limit
CAUTION_QUANTILE = 0.05  # the caution band: the lowest 5 % of a held-out origin's scores
FOLDS = 5
TRANSFORM = "sqrt"
QUALITY_MIN = 0.995
QUALITY_SAMPLE = 300  # real images loaded per origin for the quality limits
REJECT_MIN = 0.95  # non-skin pictures refused
SEED = 0


@dataclass
class Sides:
    """Every row of the fit: features, side (1 = dermoscopy), origin, group and figures."""

    x: np.ndarray  # (N, D) view-mean pooled features
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
    the clinical photos weigh 70 % of the negative side and the pictures 30 %."""
    w = np.zeros(len(s.y))
    pos = s.y == 1
    for o in s.origins():
        m = s.origin == o
        w[m] = 1.0 / m.sum() / len(s.origins())
    clinical = s.origin == CLINICAL
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


def held_out_scores(s: Sides, negatives: np.ndarray, fit: Fit) -> dict[str, np.ndarray]:
    """Each dermoscopy origin's scores under a decision fitted without it (and without any
    image of the same file name in another origin), negatives ``negatives`` (a row mask)."""
    out = {}
    for o in s.origins():
        held = s.origin == o
        same_name = np.isin(s.name, s.name[held])
        train = ((s.y == 1) & ~held & ~same_name) | ((s.y == 0) & negatives)
        out[o] = fit_on(s, train, fit).score(s.x[held])
    return out


def limits(s: Sides, scores: dict[str, np.ndarray]) -> tuple[float, float, dict[str, float]]:
    """(threshold, caution, per-origin limit): the lowest limit over the held-out origins that
    keeps 99 % of each origin and of its melanomas, less the margin; the caution band ends at
    the lowest 5 % quantile of an origin's held-out scores."""
    per = {}
    for o, sc in scores.items():
        mel = s.melanoma[s.origin == o]
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
    s: Sides, familiar: dict[str, Any] | None, fit: Fit, settings: dict[str, Any]
) -> tuple[dict[str, Any], dict[str, np.ndarray], dict[str, float]]:
    """The card's block (fitted on all rows, limits from leave-one-origin-out), the held-out
    scores per origin, and each origin's own limit."""
    scores = held_out_scores(s, s.y == 0, fit)
    threshold, caution, per = limits(s, scores)
    block = fit(s.x, s.y, weights(s))
    kept = min(float(np.mean(sc >= threshold)) for sc in scores.values())
    block.update(
        features="global average of the model's feature map, averaged over the test-time views",
        threshold=threshold,
        caution=caution,
        held_out_assessable_rate=kept,
        fit={
            **settings,
            "margin": MARGIN,
            "keep_per_held_out_origin": KEEP_MIN,
            "caution_quantile": CAUTION_QUANTILE,
            "dermoscopy_images": {o: int((s.origin == o).sum()) for o in s.origins()},
            "clinical_photos": int((s.origin == CLINICAL).sum()),
            "pictures": int(np.char.startswith(s.origin.astype(str), PICTURE).sum()),
            "held_out_limits": per,
        },
    )
    if familiar is not None:
        block["familiar"] = familiar
    DermoscopyScope.from_dict(block)
    return block, scores, per


# Rows --------------------------------------------------------------------------------------------
def alerts(probabilities: np.ndarray, card: Any) -> np.ndarray:
    """The melanoma alert each row would raise if nothing set it aside (the app's rule)."""
    p = np.asarray(probabilities)
    mel = card.melanoma_index
    return (p[:, mel] >= card.melanoma_threshold) | (np.argmax(p, axis=1) == mel)


def load_rows(path: Path, card: Any) -> Sides:
    """Dermoscopy and clinical rows of ``benchmarks.origin_features``."""
    with np.load(path, allow_pickle=False) as z:
        labels, origins = z["labels"].astype(str), z["origins"].astype(str)
        groups, names = z["groups"].astype(str), z["names"].astype(str)
        probs, pooled = z["probabilities"], z["pooled"].astype(np.float64)
    return Sides(
        x=pooled,
        y=(origins != CLINICAL).astype(int),
        origin=origins,
        group=groups,
        name=names,
        melanoma=labels == "melanoma",
        alert=alerts(probs, card),
    )


def picture_rows(clf: Classifier, pictures: Sequence[Named]) -> tuple[Sides, np.ndarray]:
    """Non-skin pictures through the app's path; also whether pixels or quality refuse them."""
    feats, probs, refused = [], [], []
    for _cat, _name, img in pictures:
        arr = preprocess(img.convert("RGB"), clf.card.preprocessing)
        out = clf.views(arr)
        feats.append(out.pooled)
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


def join(a: Sides, b: Sides) -> Sides:
    return Sides(
        *(np.concatenate([getattr(a, f), getattr(b, f)]) for f in Sides.__dataclass_fields__)
    )


# Image quality on real images ------------------------------------------------------------------------
QUALITY_CHECKS = ("too_small", "blank", "under_exposed", "over_exposed", "blurred")


def quality_flags(img: Image.Image, arr: np.ndarray) -> dict[str, bool]:
    """Which limit of :mod:`desktop.quality` each picture fails (the app reports the first)."""
    m = quality.measure(img, arr)
    return {
        "too_small": min(m.width, m.height) < quality.MIN_SIDE_PX,
        "blank": m.pixel_std < quality.MIN_PIXEL_STD,
        "under_exposed": m.bright_level < quality.MIN_BRIGHT_LEVEL,
        "over_exposed": m.burnt_share > quality.MAX_BURNT_SHARE,
        "blurred": m.sharpness < quality.MIN_SHARPNESS,
    }


def sample_paths(data: Path, per_origin: int, seed: int = SEED) -> dict[str, list[Path]]:
    """A fixed random sample of image files per dermoscopy origin, and every clinical photo."""
    from benchmarks.origin_features import rows_for

    by: dict[str, list[Path]] = {}
    for path, _label, origin, _group in rows_for(data):
        by.setdefault(origin, []).append(Path(path))
    rng = np.random.default_rng(seed)
    out = {}
    for origin, paths in sorted(by.items()):
        if origin != CLINICAL and len(paths) > per_origin:
            paths = [paths[i] for i in sorted(rng.choice(len(paths), per_origin, replace=False))]
        out[origin] = paths
    return out


def measure_quality(
    paths: dict[str, list[Path]], pre: Any
) -> tuple[dict[str, Any], dict[str, bool]]:
    """Per origin: share of loaded images passing every quality limit, and per check; the
    measures' low quantiles (where the limits sit); and per clinical file name whether
    pixels or quality alone refuse it."""
    by_origin: dict[str, Any] = {}
    clinical: dict[str, bool] = {}
    measures: dict[str, list[float]] = {"sharpness": [], "bright_level": [], "burnt_share": []}
    for origin, files in paths.items():
        fails = {c: 0 for c in QUALITY_CHECKS}
        n = ok = 0
        for path in files:
            try:
                img = open_image(path)
            except ImageLoadError:
                continue
            arr = preprocess(img, pre)
            flags = quality_flags(img, arr)
            n += 1
            ok += not any(flags.values())
            for c, bad in flags.items():
                fails[c] += bad
            if origin == CLINICAL:
                clinical[path.name] = any(flags.values()) or bool(pixel_cues(arr))
            else:
                m = quality.measure(img, arr)
                for key in measures:
                    measures[key].append(getattr(m, key))
        by_origin[origin] = {"images": n, "pass_rate": ok / n if n else None, "failed": fails}
    derm = [o for o in by_origin if o != CLINICAL]
    passed = sum(by_origin[o]["pass_rate"] * by_origin[o]["images"] for o in derm)
    total = sum(by_origin[o]["images"] for o in derm)
    qs = (0.001, 0.005, 0.01, 0.05)
    return {
        "limits": {
            "min_side_px": quality.MIN_SIDE_PX,
            "min_pixel_std": quality.MIN_PIXEL_STD,
            "min_sharpness": quality.MIN_SHARPNESS,
            "min_bright_level": quality.MIN_BRIGHT_LEVEL,
            "max_burnt_share": quality.MAX_BURNT_SHARE,
        },
        "dermoscopy_pass_rate": passed / total if total else None,
        "dermoscopy_images": total,
        "by_origin": by_origin,
        "dermoscopy_quantiles": {
            k: {str(q): float(np.quantile(v, q if k != "burnt_share" else 1 - q)) for q in qs}
            for k, v in measures.items()
            if v
        },
    }, clinical


# Measuring ---------------------------------------------------------------------------------------
def _rate(mask: np.ndarray) -> float | None:
    return float(np.mean(mask)) if len(mask) else None


def dermoscopy_table(
    s: Sides, block: dict[str, Any], scores: dict[str, np.ndarray], per: dict[str, float]
) -> dict[str, Any]:
    """Per origin: held-out and in-sample assessable shares (all, melanomas), cautions."""
    final = DermoscopyScope.from_dict(block)
    t, c = final.threshold, final.caution
    fam = final.familiar
    out = {}
    for o in s.origins():
        m = s.origin == o
        sc, mel = scores[o], s.melanoma[m]
        far = fam.distance(s.x[m]) > fam.threshold if fam is not None else np.zeros(m.sum(), bool)
        ins = final.score(s.x[m])
        out[o] = {
            "images": int(m.sum()),
            "melanomas": int(mel.sum()),
            "held_out_limit": per[o],
            "held_out_assessable": _rate(sc >= t),
            "held_out_melanoma_assessable": _rate(sc[mel] >= t),
            "held_out_caution": _rate((sc >= t) & ((sc < c) | far)),
            "in_sample_assessable": _rate(ins >= t),
            "unlike_training_distance": _rate(far),
        }
    return out


def negatives_table(
    s: Sides, oof: dict[str, np.ndarray], pixels: np.ndarray, fam: ScopeModel | None
) -> dict[str, Any]:
    """Clinical photos and pictures, out-of-fold: refused (by the decision, or by pixels and
    quality), cautioned among the assessed, no alert; and the old one-sided refusal."""
    out: dict[str, Any] = {}
    keys = sorted(set(s.origin[s.y == 0].tolist()))
    for key in [CLINICAL, "pictures", *[k for k in keys if k != CLINICAL]]:
        if key == "pictures":
            m = np.char.startswith(s.origin.astype(str), PICTURE)
        else:
            m = s.origin == key
        if not m.any():
            continue
        model = oof["score"][m] < oof["threshold"][m]
        refused = model | pixels[m]
        caution = ~refused & (oof["score"][m] < oof["caution"][m])
        if fam is not None:
            caution |= ~refused & (fam.distance(s.x[m]) > fam.threshold)
        one_sided = fam.distance(s.x[m]) > fam.threshold if fam is not None else None
        out[key] = {
            "images": int(m.sum()),
            "refused": _rate(refused),
            "refused_by_decision": _rate(model),
            "refused_by_pixels_or_quality": _rate(pixels[m]),
            "assessed_with_caution": _rate(caution),
            "alert_without_scope": _rate(s.alert[m]),
            "no_alert": _rate(refused | ~s.alert[m]),
            "refused_by_old_distance": _rate(one_sided) if one_sided is not None else None,
        }
    return out


def _familiar(card_raw: dict[str, Any]) -> dict[str, Any] | None:
    """The one-sided distance block: the card's old scope, or its two-sided scope's own."""
    block = card_raw.get("scope")
    if not isinstance(block, dict):
        return None
    return block.get("familiar") if block.get("method") in TWO_SIDED_METHODS else block


def _shown(path: Path) -> str:
    try:
        return str(Path(path).resolve().relative_to(ROOT))
    except ValueError:
        return Path(path).name


def targets(res: dict[str, Any]) -> list[dict[str, Any]]:
    out = []
    for o, e in res["dermoscopy"].items():
        for key, what in (
            ("held_out_assessable", "images"),
            ("held_out_melanoma_assessable", "melanomas"),
        ):
            if e[key] is not None:
                out.append(
                    {
                        "what": f"{o} {what} assessable, origin left out of the fit, >= {KEEP_MIN:.0%}",
                        "value": e[key],
                        "pass": e[key] >= KEEP_MIN,
                    }
                )
    pics = res["negatives"].get("pictures")
    if pics:
        out.append(
            {
                "what": f"non-skin pictures refused (out-of-fold) >= {REJECT_MIN:.0%}",
                "value": pics["refused"],
                "pass": pics["refused"] >= REJECT_MIN,
            }
        )
    q = res.get("quality")
    if q and q["dermoscopy_pass_rate"] is not None:
        out.append(
            {
                "what": f"real dermoscopy passing every quality limit >= {QUALITY_MIN:.1%}",
                "value": q["dermoscopy_pass_rate"],
                "pass": q["dermoscopy_pass_rate"] >= QUALITY_MIN,
            }
        )
    return out


def benchmark(
    rows: Path,
    model: Path,
    *,
    data: Path | None = DATA,
    pictures: Sequence[Named] | None = None,
    per_origin: int = QUALITY_SAMPLE,
    method: str = METHOD,
) -> tuple[dict[str, Any], dict[str, Any]]:
    """(result, fitted block). ``data=None`` skips loading real images (no quality figures;
    clinical photos then count as refused by the decision alone)."""
    clf = Classifier(model)
    card = clf.card
    derm_clin = load_rows(rows, card)
    pics, pic_refused = picture_rows(clf, ordinary_pictures() if pictures is None else pictures)
    s = join(derm_clin, pics)
    pixels = np.concatenate([np.zeros(len(derm_clin.y), bool), pic_refused])
    q = None
    if data is not None and Path(data).is_dir():
        q, clinical = measure_quality(sample_paths(Path(data), per_origin), card.preprocessing)
        clin = s.origin == CLINICAL
        pixels[clin] = [clinical.get(n, False) for n in s.name[clin]]
    familiar = _familiar(card.raw)
    fit, settings = fitter(method, TRANSFORM)
    block, scores, per = fit_two_sided(s, familiar, fit, settings)
    fam = ScopeModel.from_dict(familiar) if familiar is not None else None
    res: dict[str, Any] = {
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": platform.machine(),
        "model": clf.model_name,
        "rows": _shown(rows),
        "decision": {
            k: block[k]
            for k in ("method", "transform", "threshold", "caution", "held_out_assessable_rate")
        }
        | settings
        | {"margin": MARGIN, "folds": FOLDS},
        "dermoscopy": dermoscopy_table(s, block, scores, per),
        "negatives": negatives_table(s, out_of_fold(s, fit), pixels, fam),
        "quality": q,
    }
    res["targets"] = targets(res)
    return res, block


def _p(v: float | None) -> str:
    return "n/a" if v is None else f"{v:6.1%}"


def format_table(res: dict[str, Any]) -> str:
    d = res["decision"]
    lines = [
        f"Is this dermoscopy: {res['model']}, rows {res['rows']}",
        f"threshold {d['threshold']:.2f}, caution below {d['caution']:.2f} (log-odds)",
        "",
        f"{'origin (left out of the fit)':<24} {'images':>6} {'mel':>4} {'assessable':>10} "
        f"{'melanomas':>9} {'caution':>8} {'in-sample':>9}",
    ]
    for o, e in res["dermoscopy"].items():
        lines.append(
            f"{o:<24} {e['images']:>6} {e['melanomas']:>4} {_p(e['held_out_assessable']):>10} "
            f"{_p(e['held_out_melanoma_assessable']):>9} {_p(e['held_out_caution']):>8} "
            f"{_p(e['in_sample_assessable']):>9}"
        )
    lines += [
        "",
        f"{'not dermoscopy (out-of-fold)':<30} {'images':>6} {'refused':>8} "
        f"{'caution':>8} {'no alert':>8} {'old dist.':>9}",
    ]
    for k, e in res["negatives"].items():
        lines.append(
            f"{k:<30} {e['images']:>6} {_p(e['refused']):>8} {_p(e['assessed_with_caution']):>8} "
            f"{_p(e['no_alert']):>8} {_p(e['refused_by_old_distance']):>9}"
        )
    q = res.get("quality")
    if q:
        lines += [
            "",
            f"quality: {_p(q['dermoscopy_pass_rate'])} of {q['dermoscopy_images']} "
            "real dermoscopy images pass every limit",
        ]
        for o, e in q["by_origin"].items():
            failed = ", ".join(f"{c} {n}" for c, n in e["failed"].items() if n)
            lines.append(f"  {o:<22} {e['images']:>5} {_p(e['pass_rate'])}  {failed}")
    lines.append("")
    for t in res["targets"]:
        lines.append(f"{'PASS' if t['pass'] else 'FAIL'}  {t['what']}: {t['value']:.1%}")
    return "\n".join(lines)


def write_card(card_path: Path, block: dict[str, Any]) -> None:
    """Replace only the card's ``scope`` key, in the card's own format (indent 2, newline)."""
    data = json.loads(card_path.read_text(encoding="utf-8"))
    data["scope"] = block
    tmp = card_path.with_name(card_path.name + ".tmp")
    tmp.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
    load_card(tmp)  # the whole card must still load before it replaces the old one
    tmp.replace(card_path)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=Path, default=DEFAULT_ROWS, help="origin_features rows.npz")
    parser.add_argument("--model", type=Path, default=ROOT / "assets" / "model.tflite")
    parser.add_argument("--data", type=Path, default=DATA, help="data root (quality sample)")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="JSON result file")
    parser.add_argument("--per-origin", type=int, default=QUALITY_SAMPLE)
    parser.add_argument("--write-card", type=Path, help="write the fitted block into this card")
    parser.add_argument("--method", choices=TWO_SIDED_METHODS, default=METHOD)
    args = parser.parse_args(argv)
    res, block = benchmark(
        args.rows, args.model, data=args.data, per_origin=args.per_origin, method=args.method
    )
    args.out.write_text(json.dumps(res, indent=2) + "\n", encoding="utf-8")
    if args.write_card:
        write_card(args.write_card, block)
    print(format_table(res))
    return 0 if all(t["pass"] for t in res["targets"]) else 1


if __name__ == "__main__":
    sys.exit(main())
