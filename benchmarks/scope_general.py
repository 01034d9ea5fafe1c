"""Does a general-purpose network's view help the "is this dermoscopy" decision? The probe that
compared inputs (and input sizes) before the decision read it; ``benchmarks.scope --inputs
mean+spatial+general`` measures the shipped way, with every negative.

The lesion model's backbone was tuned to tell lesions apart, and what sets a clinical photo apart
(a face, a fold of skin, clothing, a room behind) is what such tuning learns to ignore.
ImageNet's whole EfficientNet-Lite0, untouched by dermoscopy (``trainer.general``: the 1,280
numbers its classifier reads), still sees those things. This scores the decision with and
without those numbers, under the protocol of ``benchmarks.scope``:

- the limit from leave-one-origin-out (each dermoscopy origin left out of the fit must stay
  99 % assessable, melanomas too; the lowest such limit less the margin);
- the clinical photos' refusal out-of-fold (their topics left out together).

Only the dermoscopy origins and the whole clinical photos take part (no close-up crops, no
non-skin pictures), so the figures compare inputs with each other, not with docs/scope.md's
table.

Each image is read as the app reads it: the card's preprocessing, the mean over the card's
test-time views (so a flip or quarter turn cannot change it), through the network exported as
the app runs it (``desktop.general``; here with float16 weights, one file per input size, the
views shrunk to it).

    python -m benchmarks.scope_general [--rows runs/features/shipped/rows.npz] [--sizes 64 128]
    # writes runs/features/general/litert-SIZE.npz (20-30 min once), benchmarks/scope_general.json
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks.common import write_result
from benchmarks.origin_features import DATA, rows_for
from benchmarks.scope_fit import METHOD, fitter
from benchmarks.scope_sides import (
    CLINICAL,
    KEEP_MIN,
    Sides,
    limits,
    load_rows,
    out_of_fold,
    own,
)
from benchmarks.scope_sides import held_out_scores as scores_left_out
from desktop.card import card_path_for, load_card
from desktop.general import GeneralNetwork, GeneralSpec
from desktop.imaging import open_image, preprocess, view_stack

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "benchmarks" / "scope_general.json"
FOLDER = ROOT / "runs" / "features" / "general"  # exported networks and their features
SIZES = (128,)  # the general network's input sides compared (the views shrunk to them)


def networks(sizes: tuple[int, ...], folder: Path = FOLDER) -> dict[int, GeneralNetwork]:
    """The general network exported (``trainer.general``) at each input size, as the app runs
    it; exported once into ``folder`` and read back from there."""
    nets = {}
    for size in sizes:
        path = folder / f"general-{size}.tflite"
        spec_path = path.with_suffix(".json")
        if not spec_path.is_file():
            from trainer.general import export

            spec_path.parent.mkdir(parents=True, exist_ok=True)
            spec_path.write_text(json.dumps(export(path, size)), encoding="utf-8")
        spec = GeneralSpec.from_dict(json.loads(spec_path.read_text(encoding="utf-8")))
        nets[size] = GeneralNetwork(spec, folder)
    return nets


def extract(
    rows: list[tuple[Path, str, str, str]], card: Any, nets: dict[int, GeneralNetwork]
) -> dict[int, np.ndarray]:
    """Each network's view-mean features of every row (``benchmarks.origin_features`` order), as
    the app computes them (card preprocessing, views, ``desktop.general``), saved per size with
    the file names and the network's hash to check against; read back when both match. Each
    image is decoded once for all sizes."""
    names = np.array([r[0].name for r in rows])
    out: dict[int, np.ndarray] = {}
    for size in nets:
        path = FOLDER / f"litert-{size}.npz"
        if path.is_file():
            with np.load(path, allow_pickle=False) as z:
                same_net = "sha256" in z.files and str(z["sha256"]) == nets[size].spec.sha256
                if same_net and np.array_equal(z["names"], names):
                    out[size] = z["general"].astype(np.float64)
    todo = {k: v for k, v in nets.items() if k not in out}
    if not todo:
        return out
    feats = {k: np.zeros((len(rows), v.spec.features), dtype=np.float32) for k, v in todo.items()}
    for i, row in enumerate(rows):
        arr = preprocess(open_image(row[0]).convert("RGB"), card.preprocessing)
        stack = view_stack(arr, card.test_time_views)
        for size, net in todo.items():
            feats[size][i] = net.features(stack)
        if i % 2000 == 0:
            print(f"{i}/{len(rows)}", file=sys.stderr, flush=True)
    for size, f in feats.items():
        np.savez_compressed(
            FOLDER / f"litert-{size}.npz", names=names, general=f, sha256=todo[size].spec.sha256
        )
        out[size] = f.astype(np.float64)
    return out


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
        o: float(np.mean(sc[s.melanoma[own(s, o)]] >= threshold))
        for o, sc in left_out.items()
        if s.melanoma[own(s, o)].any()
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


def variants(s: Sides, general: dict[int, np.ndarray]) -> dict[str, Sides]:
    """The inputs compared: the shipped descriptor, and per size the general features and both."""
    out = {"lesion model's descriptor (shipped)": s}
    for size, g in general.items():
        out[f"general network's features ({size} px)"] = dataclasses.replace(s, x=g)
        out[f"both ({size} px)"] = dataclasses.replace(s, x=np.hstack([s.x, g]))
    return out


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
    ap.add_argument("--sizes", type=int, nargs="+", default=list(SIZES), help="input sides")
    args = ap.parse_args(argv)
    card = load_card(card_path_for(args.model))
    s = load_rows(Path(args.rows), card)
    rows = rows_for(DATA)
    if len(rows) != len(s.y):
        raise SystemExit("rows.npz does not match the data folders (re-run origin_features)")
    general = extract(rows, card, networks(tuple(args.sizes)))
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
