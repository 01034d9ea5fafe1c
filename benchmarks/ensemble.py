"""Is an ensemble of backbones better on a held-out origin than each of its members? (#26)

Distillation from an ensemble trains one network to copy several; it can only pay if the
ensemble itself reads a dermatoscope it never saw better than a single network does. This
measures the teacher before anyone trains a student: every run given was trained with the
same origin held out (``runs/<name>``, its feature rows in ``runs/features/<name>``), each is
scored by both heads as the recipe comparison scores a candidate (:mod:`benchmarks.run_heads`),
and the ensemble is the mean of the members' probabilities, head by head. Scored on the
held-out origin and on isic2020 (in no backbone's training); the worst re-capture's alert
flips and class changes where every member has the fixed re-captures.

    python -m benchmarks.ensemble vidir_modern colour-holdout-vidir_modern \\
        copies-holdout-vidir_modern size160-holdout-vidir_modern consistency-holdout-vidir_modern
    # writes benchmarks/ensemble.json
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks.common import write_result
from benchmarks.run_heads import HEADS, UNSEEN, Heads, cell, head_figures, head_probs
from benchmarks.yardstick import ROOT

ENSEMBLE = "ensemble (mean of the members' probabilities)"


def average(members: list[Heads]) -> Heads:
    """The members' probabilities averaged, head by head and re-capture by re-capture (only
    the re-captures every member has). The members must score the same images in one order."""
    first = members[0]
    for m in members[1:]:
        if not np.array_equal(m.names, first.names):
            raise SystemExit("the runs' feature rows hold other images, or another order")
    shared = set.intersection(*(set(m.moved[HEADS[0]]) for m in members))
    return Heads(
        probs={h: np.mean([m.probs[h] for m in members], axis=0) for h in HEADS},
        moved={
            h: {v: np.mean([m.moved[h][v] for m in members], axis=0) for v in sorted(shared)}
            for h in HEADS
        },
        names=first.names,
        is_mel=first.is_mel,
        allowed=first.allowed,
        mel=first.mel,
    )


def measure(origin: str, runs: list[str], root: Path = ROOT) -> dict[str, Any]:
    """Each member's figures and the ensemble's, on ``origin`` and on isic2020."""
    sets: dict[str, Any] = {}
    for scored in dict.fromkeys((origin, UNSEEN)):
        members = []
        for name in runs:
            model = root / "runs" / name / "model.tflite"
            features = root / "runs" / "features" / name
            if not (model.is_file() and (features / "rows.npz").is_file()):
                raise SystemExit(f"{name}: no model or feature rows")
            members.append(head_probs(model, features, scored))
            print(scored, name, file=sys.stderr, flush=True)
        key = f"{origin} held out: {scored}"
        sets[key] = {name: head_figures(m) for name, m in zip(runs, members, strict=True)}
        sets[key][ENSEMBLE] = head_figures(average(members))
    return sets


def gains(sets: dict[str, Any]) -> dict[str, Any]:
    """Per set and head: the ensemble's melanoma AUC less its best and its mean member's."""
    out: dict[str, Any] = {}
    for key, by in sets.items():
        members = [e for name, e in by.items() if name != ENSEMBLE]
        for head in HEADS:
            aucs = [e[head]["melanoma_roc_auc"] for e in members]
            ens = by[ENSEMBLE][head]["melanoma_roc_auc"]
            out.setdefault(key, {})[head] = {
                "over_best_member": round(ens - max(aucs), 4),
                "over_mean_member": round(ens - float(np.mean(aucs)), 4),
            }
    return out


def markdown(result: dict[str, Any]) -> str:
    """One row per set and member (and the ensemble): each head's AUC / specificity at
    sensitivity 0.90 / balanced accuracy / worst re-capture's alert flips / class changes."""
    lines = [
        "| scored on | run | network head | blend (as shipped) |",
        "|---|---|---|---|",
    ]
    for key, by in result["sets"].items():
        for name, e in by.items():
            label = f"**{name}**" if name == ENSEMBLE else name
            lines.append(f"| {key} | {label} | {cell(e['network'])} | {cell(e['blend'])} |")
    lines += ["", "| scored on: head | ensemble less best member | ensemble less mean member |"]
    lines.append("|---|---|---|")
    for key, by in result["gains"].items():
        for head, g in by.items():
            lines.append(
                f"| {key}: {head} | {g['over_best_member']:+.3f} | {g['over_mean_member']:+.3f} |"
            )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("origin", help="the origin every run held out")
    ap.add_argument("runs", nargs="+", help="run folders under runs/ (at least two)")
    ap.add_argument("--out", default=str(ROOT / "benchmarks" / "ensemble.json"))
    args = ap.parse_args(argv)
    if len(args.runs) < 2:
        ap.error("an ensemble needs at least two runs")
    sets = measure(args.origin, args.runs)
    body = {"origin": args.origin, "runs": args.runs, "sets": sets, "gains": gains(sets)}
    write_result(
        Path(args.out),
        "an ensemble of backbones trained with one origin held out, against each member",
        "python -m benchmarks.ensemble " + " ".join([args.origin, *args.runs]),
        body,
        markdown(body),
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
