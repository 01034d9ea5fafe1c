"""Clinic adaptation on origins the base model never saw: the learning curve.

For each origin with a model trained without it (``runs/holdout-<origin>``; isic2020 was
never in the shipped model's training, so the shipped backbone with its network head,
``runs/network``, is its held-out model; the shipped head was refitted on it), draw
N of that origin's labelled images as "the clinic's" (whole lesions or patients, melanomas
enriched to a quarter as an excision archive would be, never more than half of the origin's
melanomas), adapt on them exactly as ``python -m desktop adapt`` does, and score base and
adapted on the origin's *other* images: melanoma ROC AUC, and sensitivity and specificity
at each model's own alert. ``adapt`` writes the adapted model only when its nested
cross-validated melanoma AUC on the clinic's images beats the base model's there; "kept" is
what the clinic then uses (adapted when written, else the base), scored the same way.
Repeated over draws; medians reported.

    python -m benchmarks.adaptation            # writes benchmarks/adaptation.json

Nothing is written into a data folder; features are cached under runs/features/.
"""

from __future__ import annotations

import argparse
import json
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks.origin_features import DATA, rows_for
from benchmarks.refit_head import network_model, recipe_of
from desktop.adapt import fit
from desktop.adapt.clinic import ClinicData
from desktop.adapt.run import DEFAULT_FOLDS, RECAPTURED_COPIES
from desktop.card import ModelCard
from desktop.features import extract
from desktop.inference import Classifier
from desktop.labelled.labels import MELANOMA
from trainer.run_folder import RunFolder

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "benchmarks" / "adaptation.json"
SIZES = (50, 100, 200, 400)
REPEATS = 3
MEL_SHARE = 0.25
HELD_OUT = ("rosendahl", "vienna_dias", "vidir_modern", "vidir_molemax", "isic2017", "isic-9class")
MODELS: dict[str, Path] = {  # origin -> a model trained without it (ROOT-relative)
    "isic2020": Path("runs/network/model.tflite"),  # shipped backbone + network head
    **{o: RunFolder(Path("runs") / f"holdout-{o}").model for o in HELD_OUT},
}


def _draw(groups: np.ndarray, is_mel: np.ndarray, n: int, rng: np.random.Generator):
    """Indices of about ``n`` images in whole groups, melanoma groups first up to the share."""
    uniq = np.unique(groups)
    rng.shuffle(uniq)
    mel_groups = [g for g in uniq if is_mel[groups == g].any()]
    other = [g for g in uniq if not is_mel[groups == g].any()]
    want_mel = min(int(round(MEL_SHARE * n)), int(is_mel.sum()) // 2)
    chosen: list[int] = []
    for pool, limit in ((mel_groups, want_mel), (other, n)):
        taken = 0
        for g in pool:
            idx = np.flatnonzero(groups == g)
            if pool is mel_groups and taken + int(is_mel[idx].sum()) > limit:
                continue
            if len(chosen) + len(idx) > n:
                continue
            chosen.extend(idx.tolist())
            taken += int(is_mel[idx].sum())
            if (pool is mel_groups and taken >= limit) or len(chosen) >= n:
                break
    return np.array(sorted(chosen))


def origin_curve(origin: str, model: Path, rows: list, seeds: int) -> dict[str, Any]:
    """Base and adapted figures per clinic size for one held-out origin."""
    clf = Classifier(model, num_threads=2)
    cache = ROOT / "runs" / "features" / f"{model.parent.name}-{origin}"
    mine = [r for r in rows if r[2] == origin]
    feats = extract(clf, [r[0] for r in mine], cache_dir=cache, recaptures=RECAPTURED_COPIES)
    mine = [mine[i] for i in feats.index]
    data = ClinicData([r[0] for r in mine], [r[1] for r in mine], [r[3] for r in mine])
    classes, mel = clf.card.classes, clf.card.melanoma_index
    allowed = data.allowed_matrix(classes)
    is_mel = np.array([r[1] == MELANOMA for r in mine])
    groups = np.array([r[3] for r in mine])
    base = fit.Base(
        np.asarray(clf.card.cam_weights), np.asarray(clf.card.cam_bias), clf.card.temperature
    )
    out: dict[str, Any] = {
        "model": str(model.relative_to(ROOT)),
        # Which model and recipe these figures are (one file holds origins measured apart).
        "model_version": clf.card.model_version,
        "recipe": recipe_of(model),
        "measured": datetime.now(UTC).date().isoformat(),
        "images": len(mine),
        "melanomas": int(is_mel.sum()),
        "sizes": {},
    }
    for n in SIZES:
        if n > len(mine) // 2:
            continue
        runs = []
        for seed in range(seeds):
            rng = np.random.default_rng(1000 * n + seed)
            tr = _draw(groups, is_mel, n, rng)
            te = np.setdiff1d(np.arange(len(mine)), tr)
            copies = None if feats.copies is None else feats.copies[:, tr]
            train = fit.Data(feats.pooled[tr], allowed[tr], groups[tr], copies)
            if is_mel[tr].sum() < 5 or (~is_mel[tr]).sum() < 5:
                continue
            k = fit.fold_count(train, mel, DEFAULT_FOLDS)
            head, choice = fit.fit_final(train, base, mel, k)
            before = fit.figures(
                feats.probabilities[te], allowed[te], mel, clf.card.melanoma_threshold
            )
            after = fit.figures(
                head.probabilities(feats.pooled[te]), allowed[te], mel, choice.threshold
            )
            clinic = _on_the_clinic(train, base, mel, k, feats.probabilities[tr], clf.card)
            written = fit.adapted_is_better(*clinic)
            runs.append(
                {
                    "train_images": len(tr),
                    "train_melanomas": int(is_mel[tr].sum()),
                    "base": before.to_dict(),
                    "adapted": after.to_dict(),
                    # adapt's own rule, on the clinic's images alone: base against nested
                    # out-of-fold adapted, as the command's before/after table shows them
                    "clinic": {"base": clinic[0].to_dict(), "adapted": clinic[1].to_dict()},
                    "written": written,
                    "kept": (after if written else before).to_dict(),
                }
            )
        if runs:
            out["sizes"][str(n)] = {"runs": runs, "median": _median(runs)}
        print(f"{origin} n={n}: {out['sizes'].get(str(n), {}).get('median')}", file=sys.stderr)
    return out


def _on_the_clinic(
    train: fit.Data, base: fit.Base, mel: int, k: int, base_probs: np.ndarray, card: ModelCard
) -> tuple[fit.Figures, fit.Figures]:
    """What ``adapt`` sees on the clinic's images: the base model's figures and the adapted
    one's nested out-of-fold figures. It writes the adapted model only when the second ranks
    melanomas better (:func:`desktop.adapt.fit.adapted_is_better`); else the clinic keeps
    the base."""
    before = fit.figures(base_probs, train.allowed, mel, card.melanoma_threshold)
    oof, thresholds = fit.nested_oof(train, base, mel, k)
    return before, fit.figures(oof, train.allowed, mel, thresholds)


def _median(runs: list[dict[str, Any]]) -> dict[str, Any]:
    keys = ("roc_auc", "sensitivity", "specificity")
    sides = ("base", "adapted", "kept") if all("kept" in r for r in runs) else ("base", "adapted")
    out = {
        side: {k: round(float(np.median([r[side][k] for r in runs])), 3) for k in keys}
        for side in sides
    } | {"train_melanomas": int(np.median([r["train_melanomas"] for r in runs]))}
    if "kept" in sides:
        out["written"] = sum(bool(r["written"]) for r in runs)
        # the rule chose right: it wrote the model that ranks the other images better
        gained = [r["adapted"]["roc_auc"] > r["base"]["roc_auc"] for r in runs]
        out["chose_right"] = sum(bool(r["written"]) == g for r, g in zip(runs, gained, strict=True))
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", default=str(DATA))
    ap.add_argument("--repeats", type=int, default=REPEATS)
    ap.add_argument("--origin", action="append", help="only these origins")
    args = ap.parse_args(argv)
    rows = rows_for(Path(args.data))
    network_model()  # runs/network: the model that never saw isic2020
    result: dict[str, Any] = json.loads(OUT.read_text()) if OUT.is_file() else {}
    result.setdefault("origins", {})
    for origin, model in MODELS.items():
        path = ROOT / model
        if (args.origin and origin not in args.origin) or not path.is_file():
            continue
        result["origins"][origin] = origin_curve(origin, path, rows, args.repeats)
    result.update(
        date=datetime.now(UTC).isoformat(timespec="seconds"),
        method=__doc__.split("\n\n")[1].replace("\n", " "),
        sizes=list(SIZES),
    )
    OUT.write_text(json.dumps(result, indent=1) + "\n")
    print(f"wrote {OUT.relative_to(ROOT)}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
