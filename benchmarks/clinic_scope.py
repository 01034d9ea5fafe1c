"""Could a clinic's own refusal limit refuse more clinical photos? ``adapt --clinic-limit``.

After ``adapt`` a clinic's dermatoscope is known: a few hundred of its images. The shipped limit
must keep dermoscopy from every dermatoscope the decision never saw; a clinic with one
dermatoscope could raise it to just below its own images. Simulated here for each dermoscopy
origin as the clinic, nested so that nothing measured was fitted on:

* for each negative fold k (``scope_sides.negative_folds``), the decision is fitted without the
  clinic's origin (and any image of the same name) and without fold k;
* the clinic's limit is set on a seeded sample of ``--sample`` of its images (what ``adapt``
  would see) by each rule in ``RULES``, and measured on the rest of its images (kept, and its
  melanomas kept) and on fold k's clinical photos and pictures (refused, by the decision or by
  pixels and image quality).

Two rules are what ``adapt`` does: ``extended`` (without ``--clinic-limit``: the limit just
under the sample's lowest image) and ``adapt --clinic-limit``
(:func:`desktop.adapt.scope_limits.limit_from_scores`: over that, the clinic's limit where
cross-validation on the sample allows it). Both take the sample's lowest image as the floor
that ``adapt`` extends the card's limit to; that is what ``adapt`` does whenever one of the
sample's images lies under the shipped limit (1 - 0.992 ** 300: about 9 in 10 samples of 300 at
the least kept origin, which keeps 99.2 % over it; fewer elsewhere); otherwise the shipped limit,
lower, is the floor.

    python -m benchmarks.clinic_scope [--sample 300] [--inputs mean+spatial+general]

writes ``benchmarks/clinic_scope.json``. Runs 35 fits of the decision on ``--inputs`` (by default
what the shipped decision reads: 38 minutes on 2 cores; the lesion model's descriptor alone,
``mean+spatial``, 22-25); their scores are kept (``--cache``), so a re-run on the same rows,
model and inputs, to compare another rule, takes a second.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

from benchmarks.report import share_down
from benchmarks.scope import DEFAULT_ROWS, ROOT, SHIPPED_INPUTS, every_side
from benchmarks.scope_fit import METHOD, fitter
from benchmarks.scope_sides import (
    CLINICAL,
    FOLDS,
    MARKED_PER_ORIGIN,
    PICTURE,
    fit_on,
    negative_folds,
    own,
    plain_names,
)
from desktop import pixel_cues, quality
from desktop.adapt.scope_limits import MELANOMA_MARGIN, limit_from_scores
from desktop.card import card_path_for, load_card
from desktop.descriptor import INPUTS as INPUTS_READ
from desktop.hashing import sha256_file
from desktop.inference import Classifier

OUT = ROOT / "benchmarks" / "clinic_scope.json"
SEED = 0
# name: (quantile of the clinic's sample, and of its melanomas, whichever is lower; log-odds
# below it), or (None, margin): the sample's lowest score less the margin.
RULES = {
    "q01-0.5": (0.01, 0.5),
    "min-0.5": (None, 0.5),
    "q01-1.0": (0.01, 1.0),
    "q02-0.5": (0.02, 0.5),
    "extended": (None, 1e-6),
    "adapt --clinic-limit": ("adapt", MELANOMA_MARGIN),
    # the same with another margin under the clinic's melanomas (the melanoma guard's choice)
    "adapt, melanomas 1.0": ("adapt", 1.0),
    "adapt, melanomas 2.0": ("adapt", 2.0),
}

# What the pixel cue refuses by (desktop.pixel_cues): the cache is of one setting of them.
PIXEL_CUE_LIMITS = (
    "MAX_FLAT_SHARE",
    "DARK_LEVEL",
    "BURNT_MARGIN",
    "BURNT_TOP",
    "MIN_WHITE",
    "MIN_SOFT_EDGE",
    "SOFT_GAP",
)


def limit(scores: np.ndarray, melanoma: np.ndarray, rule: str, groups: np.ndarray) -> float:
    """The clinic's refusal limit from its sample's scores under ``rule``."""
    q, margin = RULES[rule]
    if q == "adapt":
        floor = float(scores.min()) - RULES["extended"][1]
        found = limit_from_scores(scores, melanoma, groups, floor, melanoma_margin=margin)
        return floor if found.block is None else float(found.block["threshold"])
    if q is None:
        return float(scores.min()) - margin
    lim = float(np.quantile(scores, q, method="lower"))
    if melanoma.any():
        lim = min(lim, float(np.quantile(scores[melanoma], q, method="lower")))
    return lim - margin


def fold_scores(rows: Path, model: Path, sample_size: int, inputs: str) -> dict[str, np.ndarray]:
    """The 35 nested fits' scores: for each origin as the clinic and each negative fold k, its
    sample's and the rest's scores, fold k's clinical photos' and pictures' (with what pixels
    refuse), keyed ``origin/k/name``. The slow part (about 40 minutes on 2 cores)."""
    clf = Classifier(model)
    s, pixels, _ = every_side(clf, rows, per_origin=10, inputs=inputs)
    fit, _ = fitter(METHOD, "sqrt")
    fold = negative_folds(s)
    clin = s.origin == CLINICAL
    pics = np.char.startswith(s.origin.astype(str), PICTURE)
    rng = np.random.default_rng(SEED)
    out: dict[str, np.ndarray] = {}
    plain = plain_names(s)
    for o in s.origins():
        mine, held = s.origin == o, own(s, o)  # the clinic's images and their marked copies
        same = np.isin(plain, plain[held])
        idx = np.flatnonzero(held)
        sample = np.sort(rng.choice(idx, min(sample_size, len(idx) // 2), replace=False))
        rest = np.setdiff1d(idx, sample)
        out[f"{o}/sample_melanoma"] = s.melanoma[sample]
        out[f"{o}/sample_group"] = s.group[sample].astype(str)
        out[f"{o}/rest_melanoma"] = s.melanoma[rest]
        for k in range(FOLDS):
            train = ((s.y == 1) & ~mine & ~same) | ((s.y == 0) & (fold != k))
            m = fit_on(s, train, fit)
            ck, pk = clin & (fold == k), pics & (fold == k)
            out[f"{o}/{k}/sample"] = m.score(s.x[sample])
            out[f"{o}/{k}/rest"] = m.score(s.x[rest])
            out[f"{o}/{k}/clinical"], out[f"{o}/{k}/clinical_pixels"] = m.score(s.x[ck]), pixels[ck]
            out[f"{o}/{k}/pictures"], out[f"{o}/{k}/pictures_pixels"] = m.score(s.x[pk]), pixels[pk]
            print(o, k, file=sys.stderr, flush=True)
    return out


def cached_scores(
    rows: Path, model: Path, sample_size: int, cache: Path, inputs: str
) -> dict[str, np.ndarray]:
    """:func:`fold_scores`, kept in ``cache`` (under runs/) for the same rows, model, sample,
    inputs and refusal limits (what pixels and image quality refuse is kept with the scores):
    rules are cheap to compare once the fits are done."""
    key = (
        f"{sha256_file(rows)}:{sha256_file(model)}:{sample_size}:{SEED}:{inputs}"
        f":marks{MARKED_PER_ORIGIN}:quality{sorted(quality.limits().items())}"
        f":cues{[getattr(pixel_cues, n) for n in PIXEL_CUE_LIMITS]}"
    )
    if cache.is_file():
        with np.load(cache, allow_pickle=False) as z:
            if str(z["key"]) == key:
                return {k: z[k] for k in z.files if k != "key"}
    scores = fold_scores(rows, model, sample_size, inputs)
    cache.parent.mkdir(parents=True, exist_ok=True)
    np.savez(cache, key=np.array(key), **scores)
    return scores


def measure(scores: dict[str, np.ndarray]) -> dict:
    """Each rule's figures per origin as the clinic, from :func:`fold_scores`."""
    origins = sorted({k.split("/")[0] for k in scores})
    res: dict = {}
    for o in origins:
        mel, groups = scores[f"{o}/sample_melanoma"], scores[f"{o}/sample_group"]
        mr = scores[f"{o}/rest_melanoma"]
        res[o] = {}
        for r in RULES:
            kept, mel_kept, raised = [], [], 0
            refused = {"clinical": [0, 0], "pictures": [0, 0]}
            for k in range(FOLDS):
                scs, scr = scores[f"{o}/{k}/sample"], scores[f"{o}/{k}/rest"]
                lim = limit(scs, mel, r, groups)
                raised += lim > float(scs.min()) - RULES["extended"][1]
                kept.append(float(np.mean(scr >= lim)))
                if mr.any():
                    mel_kept.append(float(np.mean(scr[mr] >= lim)))
                for side, count in refused.items():
                    sc, px = scores[f"{o}/{k}/{side}"], scores[f"{o}/{k}/{side}_pixels"]
                    count[0] += int(np.sum((sc < lim) | px))
                    count[1] += len(sc)
            res[o][r] = {
                "kept": round(float(np.mean(kept)), 4),
                "kept_worst_fold": round(float(np.min(kept)), 4),
                "mel_kept": round(float(np.mean(mel_kept)), 4) if mel_kept else None,
                "clinical_refused": round(refused["clinical"][0] / refused["clinical"][1], 4),
                "pictures_refused": round(refused["pictures"][0] / refused["pictures"][1], 4),
                "raised_in_folds": int(raised),
            }
    return res


LABELS = {
    "q01-0.5": "0.5 under the sample's 1 % quantile (or its melanomas', if lower)",
    "q01-1.0": "1.0 under the sample's 1 % quantile (or its melanomas', if lower)",
    "q02-0.5": "0.5 under the sample's 2 % quantile",
    "min-0.5": "0.5 under the sample's lowest score",
    "extended": "`adapt` without `--clinic-limit`: just under the sample's lowest score",
    "adapt --clinic-limit": "`adapt --clinic-limit`: 1.0 under the 1 % quantile "
    f"({MELANOMA_MARGIN:.1f} under its melanomas'), where cross-validation on the sample keeps "
    "99 % and every melanoma; else as above",
    "adapt, melanomas 1.0": "the same, but 1.0 under the 1 % quantile of its melanomas",
    "adapt, melanomas 2.0": "the same, but 2.0 under the 1 % quantile of its melanomas",
}


def _on_model(version: str | None) -> str:
    """' on model X', or nothing for a file written before it named its model."""
    return f" on model `{version}`" if version else ""


def markdown(result: dict) -> str:
    """docs/scope.md's table: each rule over the origins as clinics."""
    res = result["origins"]
    folds = len(res) * FOLDS
    lines = [
        f"Sample of {result['sample']} images per clinic; {len(res)} origins as clinics, "
        f"{FOLDS} folds each; the decision reads `{result.get('inputs', 'mean+spatial')}`"
        f" (measured {result.get('created', 'before 2026-12-05')}"
        f"{_on_model(result.get('model_version'))}).",
        "",
        "| the clinic's limit, log-odds | clinical photos refused: mean (least) | pictures "
        "refused: mean | its other images kept: least | its melanomas kept: least | raised "
        "over the sample's lowest score |",
        "|---|---|---|---|---|---|",
    ]
    for rule in RULES:
        e = {o: res[o][rule] for o in res if rule in res[o]}
        if len(e) != len(res):
            continue
        clin = min(e, key=lambda o: e[o]["clinical_refused"])
        kept = min(e, key=lambda o: e[o]["kept"])
        mels = {o: v for o, v in e.items() if v["mel_kept"] is not None}
        mel = min(mels, key=lambda o: mels[o]["mel_kept"])
        raised = sum(v.get("raised_in_folds", 0) for v in e.values())
        lines.append(
            f"| {LABELS.get(rule, rule)} | "
            f"{share_down(np.mean([v['clinical_refused'] for v in e.values()]))} "
            f"({clin}: {share_down(e[clin]['clinical_refused'])}) | "
            f"{share_down(np.mean([v['pictures_refused'] for v in e.values()]))} | "
            f"{kept}: {share_down(e[kept]['kept'])} | {mel}: {share_down(mels[mel]['mel_kept'])} | "
            f"{raised} of {folds} |"
        )
    lines += [
        "",
        "Per clinic, `adapt` without and with `--clinic-limit` (without \u2192 with):",
        "",
        "| clinic | clinical photos refused | its other images kept | its melanomas kept |",
        "|---|---|---|---|",
    ]
    for o, e in res.items():
        a, b = e.get("extended"), e.get("adapt --clinic-limit")
        if a is None or b is None:
            continue
        mel = (
            f"{share_down(a['mel_kept'])} \u2192 {share_down(b['mel_kept'])}"
            if a["mel_kept"] is not None
            else "n/a"
        )
        lines.append(
            f"| {o} | {share_down(a['clinical_refused'])} \u2192 {share_down(b['clinical_refused'])} | "
            f"{share_down(a['kept'])} \u2192 {share_down(b['kept'])} | {mel} |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=Path, default=DEFAULT_ROWS)
    ap.add_argument("--model", type=Path, default=ROOT / "assets" / "model.tflite")
    ap.add_argument("--sample", type=int, default=300, help="the clinic's images adapt sees")
    ap.add_argument("--out", type=Path, default=OUT)
    ap.add_argument(
        "--cache",
        type=Path,
        default=ROOT / "runs" / "clinic-scope" / "scores.npz",
        help="the fits' scores, reused for the same rows, model, sample and inputs",
    )
    ap.add_argument(
        "--inputs",
        choices=tuple(INPUTS_READ),
        default=SHIPPED_INPUTS,
        help=f"what the decision reads (default: the shipped decision's, {SHIPPED_INPUTS})",
    )
    args = ap.parse_args(argv)
    start = time.time()
    res = measure(cached_scores(args.rows, args.model, args.sample, args.cache, args.inputs))
    out = {
        "command": "python -m benchmarks.clinic_scope",
        "created": time.strftime("%Y-%m-%d", time.gmtime()),
        "inputs": args.inputs,
        "sample": args.sample,
        # which model's features (one file at a time holds one model's measurement)
        "model_version": load_card(card_path_for(args.model)).model_version,
        "origins": res,
    }
    args.out.write_text(json.dumps(out, indent=1) + "\n", encoding="utf-8")
    for r in RULES:
        e = [res[o][r] for o in res]
        print(
            f"{r}: other images kept worst {min(x['kept'] for x in e):.1%}, melanomas worst "
            f"{min(x['mel_kept'] for x in e if x['mel_kept'] is not None):.1%}; clinical photos "
            f"refused mean {np.mean([x['clinical_refused'] for x in e]):.1%}, worst "
            f"{min(x['clinical_refused'] for x in e):.1%}; pictures mean "
            f"{np.mean([x['pictures_refused'] for x in e]):.1%}"
        )
    print(f"{time.time() - start:.0f} s", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
