"""Would a general-purpose network's view help the "is this dermoscopy" decision? Measured, not
shipped.

The shipped decision reads the lesion model's own feature maps (``desktop.descriptor``). That
backbone was tuned to tell lesions apart, and what sets a clinical photo apart (a face, a fold
of skin, clothing, a room behind) is what such tuning learns to ignore. ImageNet's whole
EfficientNet-Lite0, untouched by dermoscopy (``trainer.pretrained.imagenet_features``: the 1,280
numbers its classifier reads), still sees those things. This scores the decision with and
without those numbers, under the protocol of ``benchmarks.scope``:

- the limit from leave-one-origin-out (each dermoscopy origin left out of the fit must stay
  99 % assessable, melanomas too; the lowest such limit less the margin);
- the clinical photos' refusal out-of-fold (their topics left out together).

Only the dermoscopy origins and the whole clinical photos take part: the close-up crops and the
non-skin pictures of the shipped fit would need the second network run on them too, so the
figures here are for comparing inputs with each other, not with docs/scope.md's table.

Each image is read as the app reads it: the card's preprocessing, then the mean over the
card's test-time views (so a flip or quarter turn cannot change it).

    python -m benchmarks.scope_general [--rows runs/features/shipped/rows.npz]
    # writes runs/features/general/general.npz (20-30 min once), benchmarks/scope_general.json
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks.common import write_result
from benchmarks.origin_features import DATA, rows_for
from benchmarks.scope_fit import METHOD, fitter
from benchmarks.scope_sides import CLINICAL, KEEP_MIN, Sides, limits, load_rows, out_of_fold
from benchmarks.scope_sides import held_out_scores as scores_left_out
from desktop.card import card_path_for, load_card
from desktop.imaging import VIEW_SETS, open_image, preprocess, view_stack

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "benchmarks" / "scope_general.json"
GENERAL = ROOT / "runs" / "features" / "general" / "general.npz"
BATCH = 8  # images per forward pass (times the card's views)


def extract(rows: list[tuple[Path, str, str, str]], card: Any, out: Path = GENERAL) -> np.ndarray:
    """The general network's view-mean features of every row (``benchmarks.origin_features``
    order), saved with the file names to check the order against; read back when present."""
    names = np.array([r[0].name for r in rows])
    if out.is_file():
        with np.load(out, allow_pickle=False) as z:
            if np.array_equal(z["names"], names):
                return z["general"].astype(np.float64)
    from trainer.pretrained import imagenet_features

    model = imagenet_features(card.input_size)
    feats = np.zeros((len(rows), model.output_shape[-1]), dtype=np.float32)
    views = len(VIEW_SETS[card.test_time_views])
    for start in range(0, len(rows), BATCH):
        chunk = rows[start : start + BATCH]
        arrs = [preprocess(open_image(r[0]).convert("RGB"), card.preprocessing) for r in chunk]
        stack = np.concatenate([view_stack(a, card.test_time_views) for a in arrs])
        got = model.predict(stack.astype(np.float32), verbose=0, batch_size=len(stack))
        feats[start : start + len(chunk)] = got.reshape(len(chunk), views, -1).mean(axis=1)
        if start % 2000 < BATCH:
            print(f"{start}/{len(rows)}", file=sys.stderr, flush=True)
    out.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(out, names=names, general=feats)
    return feats.astype(np.float64)


def measure(s: Sides, method: str = METHOD) -> dict[str, Any]:
    """One input's figures: the LOOO threshold, each left-out origin's share kept (and its
    melanomas'), and the clinical photos refused out-of-fold, and with a melanoma alert left."""
    fit, _ = fitter(method)
    oof = out_of_fold(s, fit)
    clinical = s.origin == CLINICAL
    assessed = oof["score"][clinical] >= oof["threshold"][clinical]
    left_out = scores_left_out(s, s.y == 0, fit)
    threshold, _, per = limits(s, left_out)
    kept = {o: float(np.mean(sc >= threshold)) for o, sc in left_out.items()}
    mel = {
        o: float(np.mean(sc[s.melanoma[s.origin == o]] >= threshold))
        for o, sc in left_out.items()
        if s.melanoma[s.origin == o].any()
    }
    return {
        "threshold": threshold,
        "origin_limits": per,
        "kept": kept,
        "melanomas_kept": mel,
        "clinical_photos": int(clinical.sum()),
        "clinical_refused": float(np.mean(~assessed)),
        "clinical_assessed_with_alert": float(np.mean(assessed & s.alert[clinical])),
    }


def variants(s: Sides, general: np.ndarray) -> dict[str, Sides]:
    """The inputs compared: the shipped descriptor, the general features, and both."""
    return {
        "lesion model's descriptor (shipped)": s,
        "general network's features": dataclasses.replace(s, x=general),
        "both": dataclasses.replace(s, x=np.hstack([s.x, general])),
    }


def _pc(v: float) -> str:
    return f"{100 * v:.1f} %"


def markdown(r: dict[str, Any]) -> str:
    """One row per input: the clinical photos' figures and the least kept left-out origin."""
    lines = [
        "| the decision reads | clinical photos refused (out-of-fold) | assessed with a melanoma "
        "alert | least kept left-out origin | least kept melanomas |",
        "|---|---|---|---|---|",
    ]
    for name, e in r["inputs"].items():
        worst = min(e["kept"], key=e["kept"].get)
        mel = min(e["melanomas_kept"].values())
        lines.append(
            f"| {name} | {_pc(e['clinical_refused'])} | {_pc(e['clinical_assessed_with_alert'])} "
            f"| {worst}: {_pc(e['kept'][worst])} | {_pc(mel)} |"
        )
    first = next(iter(r["inputs"].values()))
    lines += [
        "",
        f"{first['clinical_photos']:,} clinical photos; each left-out dermoscopy origin kept at "
        f"{_pc(KEEP_MIN)} or more sets the limit. Method `{r['method']}`; no close-up crops and "
        "no non-skin pictures among the negatives (see the module), so these figures compare "
        "inputs with each other only.",
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", default="runs/features/shipped/rows.npz")
    ap.add_argument("--model", default="assets/model.tflite", help="the model of the rows")
    ap.add_argument("--method", default=METHOD)
    args = ap.parse_args(argv)
    card = load_card(card_path_for(args.model))
    s = load_rows(Path(args.rows), card)
    rows = rows_for(DATA)
    if len(rows) != len(s.y):
        raise SystemExit("rows.npz does not match the data folders (re-run origin_features)")
    general = extract(rows, card)
    inputs = {}
    for name, side in variants(s, general).items():
        inputs[name] = measure(side, args.method)
        print(name, f"{inputs[name]['clinical_refused']:.3f}", file=sys.stderr, flush=True)
    body = {"method": args.method, "rows": args.rows, "inputs": inputs}
    write_result(
        OUT,
        "the 'is this dermoscopy' decision with a general-purpose network's features beside "
        "the lesion model's",
        "python -m benchmarks.scope_general " + " ".join(argv or sys.argv[1:]),
        body,
        markdown(body),
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
