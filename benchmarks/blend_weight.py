"""How much of the blend should be the network's own head? (#22, #26)

The shipped head averages the logits of the network's last layer and of a logistic head refitted
on every source. The refitted half reads held-out origins' melanomas better, the network's half
moves less under a re-take (``docs/experiments.md``, recipe comparisons). This sweeps the
network's share of the logits, from the refit alone (0) to the network alone (1), on every run
trained with an origin held out whose fixed re-captures of that origin are stored
(``runs/<recipe>-holdout-<origin>``, features in ``runs/features/<same>``): each run is scored on
its held-out origin (melanoma AUC and the worst re-capture's alert flips and class changes, each
share at its own sensitivity-0.90 threshold) and on isic2020 (AUC only: no re-captures there).

    python -m benchmarks.blend_weight     # writes benchmarks/blend_weight.json (minutes)
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks.common import write_result
from benchmarks.recapture_features import NAME
from benchmarks.run_heads import NETWORK_SHARE, UNSEEN, head_figures, head_parts, held_out_runs
from benchmarks.yardstick import ROOT

SHARES = (0.0, 0.25, 0.5, 0.75, 1.0)  # the network's share of the blended logits
SHIPPED = NETWORK_SHARE["blend"]


def measure(found: list[tuple[str, str]], root: Path = ROOT) -> dict[str, Any]:
    """Per run and scored set, each share's figures (:func:`benchmarks.run_heads.head_figures`)."""
    out: dict[str, Any] = {}
    shares = {f"{s:.2f}": s for s in SHARES}
    for name, origin in found:
        for scored in dict.fromkeys((origin, UNSEEN)):
            parts = head_parts(
                root / "runs" / name / "model.tflite", root / "runs" / "features" / name, scored
            )
            out[f"{name}: {scored}"] = head_figures(parts.heads(shares))
            print(name, scored, file=sys.stderr, flush=True)
    return out


def summary(sets: dict[str, Any]) -> dict[str, Any]:
    """Per share: mean and worst melanoma AUC over every scored set, and the mean and worst of
    the worst re-capture's alert flips and class changes over the sets that have re-captures."""
    out: dict[str, Any] = {}
    for share in (f"{s:.2f}" for s in SHARES):
        aucs = [e[share]["melanoma_roc_auc"] for e in sets.values()]
        moved = [
            e[share]["worst_recapture"] for e in sets.values() if "worst_recapture" in e[share]
        ]
        flips = [w["alert_flips"] for w in moved]
        changes = [w["class_changes"] for w in moved]
        out[share] = {
            "mean_auc": round(float(np.mean(aucs)), 4),
            "worst_auc": round(float(np.min(aucs)), 4),
            "mean_alert_flips": round(float(np.mean(flips)), 4),
            "worst_alert_flips": round(float(np.max(flips)), 4),
            "mean_class_changes": round(float(np.mean(changes)), 4),
            "worst_class_changes": round(float(np.max(changes)), 4),
            "sets": len(aucs),
            "sets_with_recaptures": len(moved),
        }
    return out


def markdown(result: dict[str, Any]) -> str:
    """One row per share of the network in the blend; the shipped share in bold."""
    lines = [
        "| network's share | mean / worst melanoma AUC | worst re-capture's alert flips: "
        "mean / worst | its class changes: mean / worst |",
        "|---|---|---|---|",
    ]
    for share, s in result["summary"].items():
        label = f"**{share} (shipped)**" if float(share) == SHIPPED else share
        lines.append(
            f"| {label} | {s['mean_auc']:.3f} / {s['worst_auc']:.3f} | "
            f"{100 * s['mean_alert_flips']:.1f} % / {100 * s['worst_alert_flips']:.1f} % | "
            f"{100 * s['mean_class_changes']:.1f} % / {100 * s['worst_class_changes']:.1f} % |"
        )
    first = next(iter(result["summary"].values()))
    lines += [
        "",
        f"AUC over {first['sets']} scored sets (each run on its held-out origin and on "
        f"isic2020); re-capture figures over the {first['sets_with_recaptures']} runs' held-out "
        "origins (each share at its own sensitivity-0.90 threshold there). Runs: "
        + ", ".join(result["runs"])
        + ".",
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", default=str(ROOT / "benchmarks" / "blend_weight.json"))
    args = ap.parse_args(argv)
    found = held_out_runs(ROOT, NAME)
    if not found:
        raise SystemExit("no held-out run with its origin's fixed re-captures under runs/")
    sets = measure(found)
    body = {"runs": [n for n, _ in found], "sets": sets, "summary": summary(sets)}
    write_result(
        Path(args.out),
        "the network's share of the blended head's logits, on held-out origins",
        "python -m benchmarks.blend_weight",
        body,
        markdown(body),
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
