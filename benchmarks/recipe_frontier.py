"""Every training recipe measured on held-out origins, one line each: the measured frontier of
issue #26's backbone candidates, read from the comparisons ``benchmarks.recipe_compare`` wrote
(``benchmarks/recipe_<name>.json``) and the flags ``benchmarks/experiments.mk`` trains each with.

Nothing is measured here. Each comparison pairs a candidate with the recipe shipped when it
ran, on the origins both held out (and isic2020), so the "shipped" figures differ between lines:
the recipe and its runs changed (docs/experiments.md says when). A line is a candidate against
its own pair, not against the other lines.

    python -m docs.generate   # renders the table into docs/experiments.md
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
MAKEFILE = "benchmarks/experiments.mk"
BASE = "shipped recipe"  # recipe_compare's name for the pair it compares with
_CALL = re.compile(r"\$\(call recipe_runs,([\w-]+),(.*)\)")


def recipe_flags(text: str) -> dict[str, str]:
    """Each recipe's trainer flags as ``experiments.mk`` trains it (``$(RECIPE)``: the shipped
    recipe's own flags), by the name its runs and comparison file carry."""
    return {m.group(1): m.group(2).strip() for m in _CALL.finditer(text)}


def comparisons(root: Path = ROOT) -> dict[str, dict[str, Any]]:
    """The stored comparisons by recipe name, oldest first (seed-paired files are not lines:
    ``benchmarks.recipe_seeds`` reads them)."""
    found = {}
    for path in sorted((root / "benchmarks").glob("recipe_*.json")):
        name = path.stem.removeprefix("recipe_")
        if name.startswith("seeds_"):
            continue
        found[name] = json.loads(path.read_text(encoding="utf-8"))
    return dict(sorted(found.items(), key=lambda kv: kv[1]["created"]))


def _auc(summary: dict[str, Any], who: str, head: str) -> tuple[float, float] | None:
    s = summary.get(f"{who}: {head}")
    return (s["mean_melanoma_roc_auc"], s["worst_melanoma_roc_auc"]) if s else None


def _pair(base: float | None, cand: float | None) -> str:
    if base is None or cand is None:
        return "n/a"
    return f"{base:.3f} → {cand:.3f} ({cand - base:+.3f})"


def _inside(result: dict[str, Any], name: str) -> tuple[float | None, float | None]:
    """Balanced accuracy inside the sources (the candidate's internal test split), the mean over
    the runs that have it for both recipes."""
    pairs = [
        (v.get(BASE), v.get(name))
        for v in result.get("inside_sources", {}).values()
        if v.get(BASE) is not None and v.get(name) is not None
    ]
    if not pairs:
        return None, None
    return sum(p[0] for p in pairs) / len(pairs), sum(p[1] for p in pairs) / len(pairs)


def line(name: str, result: dict[str, Any], flags: str | None) -> dict[str, Any]:
    """One recipe's figures: melanoma ROC AUC, mean and worst over the sets both recipes were
    scored on, for the network's own head and the blend, shipped → candidate."""
    who = name.removesuffix("_full")
    full = "full_pass" in result
    sets = sorted({k.split(": ")[-1] for k in result["sets"]})
    net = (_auc(result["summary"], BASE, "network"), _auc(result["summary"], who, "network"))
    blend = (_auc(result["summary"], BASE, "blend"), _auc(result["summary"], who, "blend"))
    return {
        "recipe": name,
        "flags": flags,
        "pass": "full (7 origins)" if full else "proxy",
        "scored_on": sets,
        "created": result["created"][:10],
        "network": net,
        "blend": blend,
        "inside": _inside(result, who),
    }


def lines(root: Path = ROOT) -> list[dict[str, Any]]:
    flags = recipe_flags((root / MAKEFILE).read_text(encoding="utf-8"))
    out = []
    for name, result in comparisons(root).items():
        out.append(line(name, result, flags.get(name.removesuffix("_full"))))
    return out


def markdown(rows: list[dict[str, Any]]) -> str:
    head = (
        "| recipe (trainer flags) | pass: scored on | measured | network head: mean AUC, "
        "shipped → candidate | worst | blend: mean AUC | worst | in-source balanced accuracy |\n"
        "|---|---|---|---|---|---|---|---|"
    )
    body = []
    for r in rows:
        flags = f" (`{r['flags']}`)" if r["flags"] else ""
        (nb, nc), (bb, bc) = r["network"], r["blend"]
        ib, ic = r["inside"]
        body.append(
            f"| {r['recipe']}{flags} | {r['pass']}: {', '.join(r['scored_on'])} | {r['created']} "
            f"| {_pair(nb and nb[0], nc and nc[0])} | {_pair(nb and nb[1], nc and nc[1])} "
            f"| {_pair(bb and bb[0], bc and bc[0])} | {_pair(bb and bb[1], bc and bc[1])} "
            f"| {_pair(ib, ic)} |"
        )
    better = [r["recipe"] for r in rows if _gains(r)]
    note = (
        f"\n\n{len(rows)} comparisons. Raising both the network head's and the blend's mean "
        f"held-out melanoma AUC without lowering either's worst: "
        f"{', '.join(better) if better else 'none'}. `$(RECIPE)` is the shipped recipe's own "
        "flags (the Makefile's `RECIPE`). `seed2` is the recipe then shipped with another seed, "
        "against its own default-seed runs: its line is how far a recipe moves by chance alone. "
        "Another `-seed2` line is likewise against the default seed's runs, so it holds the "
        "seed's change with the recipe's (docs/experiments.md pairs those seed by seed)."
    )
    return head + "\n" + "\n".join(body) + note


# Issue #26's alert targets out of the box; its AUC targets are the yardstick's own.
ALERT_TARGETS = {"melanoma_sensitivity": 0.85, "melanoma_specificity": 0.50}


def targets_markdown(card: dict[str, Any], yardstick: dict[str, Any]) -> str:
    """The shipped model against #26's yardstick targets: the card's out-of-source figures (each
    origin held out of the backbone's training and of the head's fit in turn)."""
    oos = card["metrics"]["out_of_source"]
    t = yardstick["targets"]
    cells = [
        ("mean held-out melanoma ROC AUC", t["mean_melanoma_roc_auc"], oos["melanoma_roc_auc"]),
        (
            "worst held-out melanoma ROC AUC",
            t["worst_melanoma_roc_auc"],
            oos["worst_melanoma_roc_auc"],
        ),
        (
            "the alert's sensitivity, mean",
            ALERT_TARGETS["melanoma_sensitivity"],
            oos["melanoma_sensitivity"],
        ),
        (
            "the alert's specificity, mean",
            ALERT_TARGETS["melanoma_specificity"],
            oos["melanoma_specificity"],
        ),
    ]
    rows = "\n".join(
        f"| {what} | >= {target:.2f} | {value:.3f} | {'met' if value >= target else 'missed'} |"
        for what, target, value in cells
    )
    return (
        f"| #26's yardstick | target | shipped model ({len(oos['origins'])} origins held out in "
        "turn) | |\n|---|---|---|---|\n" + rows
    )


def _gains(r: dict[str, Any]) -> bool:
    (nb, nc), (bb, bc) = r["network"], r["blend"]
    if not (nb and nc and bb and bc):
        return False
    return nc[0] > nb[0] and bc[0] > bb[0] and nc[1] >= nb[1] and bc[1] >= bb[1]
