"""The scope's gate: dermoscopy on the lesion model alone, so the general network runs only where
it can change the answer.

The shipped "is this dermoscopy" decision reads the lesion model's descriptor and a general-purpose
network's features (``benchmarks.scope``). That second network costs as much again per image. Most
dermoscopy already lies far inside dermoscopy on the lesion model's descriptor, so a decision on
that alone (the same hidden-layer fit, ``inputs`` "mean+spatial") with a high limit can say
"dermoscopy" first; the general network then runs only on the images below it
(``desktop.scope.DermoscopyScope.gated``, ``desktop.inference.Classifier.views``).

The gate only ever keeps an image, so it cannot refuse dermoscopy the full decision keeps. What it
can cost is a negative it keeps that the full decision would refuse, so its limit is set on the
negatives, out of fold:

* every negative (clinical photos, their close-up crops, non-skin pictures) is scored by a gate
  fitted without its fold (the folds of ``benchmarks.scope``);
* the limit lies a margin above nearly all such scores (their 99.95 % quantile) among the
  negatives the pixel cues do not already refuse;
* how many negatives it would let through is measured with each fold's limit set on the other
  folds alone: the refusal rates of ``benchmarks.scope`` hold, less at most that share;
* the share of dermoscopy it passes (how often the general network is skipped) is measured per
  origin with that origin left out of the gate's fit.

    python -m benchmarks.scope_gate --rows runs/features/shipped/rows.npz [--write-card assets/model.json]

writes ``benchmarks/scope_gate.json`` and, with ``--write-card``, the gate into that card's scope
(``scope.gate``; nothing else changes). Run it after ``benchmarks.scope``, which replaces the scope.
"""

from __future__ import annotations

import argparse
import platform
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks.common import write_card_block, write_result
from benchmarks.scope import DATA, TRANSFORM, _shown, every_side, rows_arguments
from benchmarks.scope_fit import METHOD, fitter
from benchmarks.scope_sides import (
    CLINICAL,
    CLOSE_UP,
    FEATURES,
    FOLDS,
    PICTURE,
    Sides,
    fit_on,
    held_out_scores,
    negative_folds,
    own,
    weights,
)
from desktop.inference import Classifier

DEFAULT_OUT = Path(__file__).resolve().parent / "scope_gate.json"
INPUTS = "mean+spatial"  # the lesion model's whole descriptor, no general features
MARGIN = 1.0  # log-odds above the negatives' out-of-fold gate scores (their QUANTILE)
# Which of those scores the limit lies above (the frontier in the result; 2026-12-05, 6,205
# negatives): the highest (1.0) let 1 clinical photo through out of fold and skipped the general
# network on 30.2 % of held-out dermoscopy (9.8 % at the lowest origin); 0.9995 let the same one
# through and skipped it on 45.9 % (21.8 %); 0.999 let 6 through for 55.4 % (32.1 %).
QUANTILE = 0.9995
FRONTIER = (1.0, 0.9995, 0.999, 0.998, 0.995)
WHAT = "the scope's gate: negatives it lets through out of fold, dermoscopy it passes held out"
COMMAND = (
    "python -m benchmarks.scope_gate --rows runs/features/shipped/rows.npz "
    "--write-card assets/model.json"
)


def negative_scores(s: Sides, fit: Any) -> np.ndarray:
    """Each negative's gate score from a gate fitted without its fold (NaN for dermoscopy)."""
    fold = negative_folds(s)
    score = np.full(len(s.y), np.nan)
    for k in range(FOLDS):
        out = fold == k
        score[out] = fit_on(s, (s.y == 1) | ((s.y == 0) & ~out), fit).score(s.x[out])
    return score


def limit_over(scores: np.ndarray, quantile: float = QUANTILE) -> float:
    """The gate's limit: ``MARGIN`` above the ``quantile`` of these negatives' scores."""
    return float(np.quantile(scores, quantile, method="higher")) + MARGIN


def passed_out_of_fold(
    s: Sides, scores: np.ndarray, open_to: np.ndarray, quantile: float = QUANTILE
) -> np.ndarray:
    """Which negatives (``open_to``: not refused by pixels) a limit set on the other folds'
    negatives alone would let through."""
    fold = negative_folds(s)
    passed = np.zeros(len(s.y), dtype=bool)
    for k in range(FOLDS):
        out = (fold == k) & open_to
        others = open_to & (fold != k) & (fold >= 0)
        if out.any() and others.any():
            passed[out] = scores[out] >= limit_over(scores[others], quantile)
    return passed


def _kind(origin: str) -> str:
    return "non-skin pictures" if origin.startswith(PICTURE) else origin


def measure(
    s: Sides,
    held: dict[str, np.ndarray],
    neg: np.ndarray,
    pixels: np.ndarray,
    quantile: float = QUANTILE,
) -> tuple[float, dict[str, Any], dict[str, Any]]:
    """(limit, negatives table, dermoscopy table) from the out-of-fold and held-out scores."""
    open_to = (s.y == 0) & ~pixels
    limit = limit_over(neg[open_to], quantile)
    passed = passed_out_of_fold(s, neg, open_to, quantile)
    kinds = np.array([_kind(o) for o in s.origin.tolist()])
    negatives = {}
    for kind in (CLINICAL, CLOSE_UP, "non-skin pictures"):
        m = (kinds == kind) & (s.y == 0)
        if m.any():
            negatives[kind] = {"images": int(m.sum()), "passed": int(passed[m].sum())}
    dermoscopy = {}
    for o, sc in held.items():
        mel = s.melanoma[own(s, o)]
        dermoscopy[o] = {
            "images": len(sc),
            "passed": float(np.mean(sc >= limit)),
            "melanomas_passed": float(np.mean(sc[mel] >= limit)) if mel.any() else None,
        }
    return limit, negatives, dermoscopy


def frontier(
    s: Sides, held: dict[str, np.ndarray], neg: np.ndarray, pixels: np.ndarray
) -> list[dict[str, Any]]:
    """Per quantile of :data:`FRONTIER`: the limit, the negatives let through out of fold, and
    the dermoscopy that skips the general network (mean and lowest over the held-out origins)."""
    rows = []
    for q in FRONTIER:
        limit, negatives, dermoscopy = measure(s, held, neg, pixels, q)
        skipped = [v["passed"] for v in dermoscopy.values()]
        rows.append(
            {
                "quantile": q,
                "threshold": limit,
                "negatives_passed": sum(v["passed"] for v in negatives.values()),
                "clinical_photos_passed": negatives.get(CLINICAL, {}).get("passed", 0),
                "skipped_mean": float(np.mean(skipped)),
                "skipped_lowest": float(np.min(skipped)),
            }
        )
    return rows


def benchmark(
    rows: Path,
    model: Path,
    data: Path | None = DATA,
    method: str = METHOD,
    scores: Path | None = None,
) -> tuple[dict[str, Any], dict[str, Any]]:
    """(result, the card's ``scope.gate`` block)."""
    clf = Classifier(model)
    # Without the marked copies: fitted with them (2026-12-06) the gate let more negatives
    # through out of fold and skipped the general network less often (docs/scope.md).
    s, pixels, _ = every_side(clf, rows, data, inputs=INPUTS, marks=0)
    fit, settings = fitter(method, TRANSFORM)
    held = held_out_scores(s, s.y == 0, fit)
    neg = negative_scores(s, fit)
    if scores is not None:  # for a look at other limits without fitting again
        held_keys = {f"held:{o}": v for o, v in held.items()}  # as benchmarks.scope --scores
        np.savez_compressed(scores, origin=s.origin, pixels=pixels, score=neg, **held_keys)
    limit, negatives, dermoscopy = measure(s, held, neg, pixels)
    passed = sum(v["passed"] for v in negatives.values())
    total = sum(v["images"] for v in negatives.values())
    block = fit(s.x, s.y, weights(s))
    block.update(
        inputs=INPUTS,
        features=FEATURES[INPUTS],
        threshold=limit,
        fit={
            **settings,
            "margin": MARGIN,
            "quantile": QUANTILE,
            "negatives": total,
            "negatives_passed_out_of_fold": passed,
            "dermoscopy_passed_lowest": min(v["passed"] for v in dermoscopy.values()),
        },
    )
    res = {
        "machine": platform.machine(),
        "model": clf.model_name,
        "rows": _shown(rows),
        "gate": {"method": block["method"], "inputs": INPUTS, "threshold": limit}
        | settings
        | {"margin": MARGIN, "quantile": QUANTILE, "folds": FOLDS},
        "negatives": negatives,
        "dermoscopy": dermoscopy,
        "frontier": frontier(s, held, neg, pixels),
    }
    return res, block


def markdown(res: dict[str, Any]) -> str:
    """The negatives the gate lets through, and how often each origin skips the network."""
    lines = ["| negatives | images | let through by the gate, out of fold |", "|---|---|---|"]
    for kind, v in res["negatives"].items():
        lines.append(f"| {kind} | {v['images']:,} | {v['passed']} |")
    lines += [
        "",
        "| dermoscopy origin, left out of the gate's fit | images | general network skipped "
        "| melanomas: skipped |",
        "|---|---|---|---|",
    ]
    for o, v in res["dermoscopy"].items():
        mel = "–" if v["melanomas_passed"] is None else f"{100 * v['melanomas_passed']:.1f} %"
        lines.append(f"| {o} | {v['images']:,} | {100 * v['passed']:.1f} % | {mel} |")
    lines += [
        "",
        "| limit over this quantile of the negatives | log-odds | negatives let through "
        "(clinical photos) | general network skipped: mean / lowest origin |",
        "|---|---|---|---|",
    ]
    for r in res.get("frontier", []):
        lines.append(
            f"| {r['quantile']:g} | {r['threshold']:.2f} | {r['negatives_passed']} "
            f"({r['clinical_photos_passed']}) | {100 * r['skipped_mean']:.1f} % / "
            f"{100 * r['skipped_lowest']:.1f} % |"
        )
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    rows_arguments(parser, DEFAULT_OUT)
    parser.add_argument("--write-card", type=Path, help="write the gate into this card's scope")
    parser.add_argument("--scores", type=Path, help="also save every score here (.npz)")
    args = parser.parse_args(argv)
    res, block = benchmark(args.rows, args.model, args.data, scores=args.scores)
    if args.write_card:
        write_card_block(args.write_card, ("scope", "gate"), block)
    write_result(args.out, WHAT, COMMAND, res, markdown(res))
    return 0


if __name__ == "__main__":
    sys.exit(main())
