"""A candidate recipe against the shipped one at every seed both were trained with, on the
proxy origins both held out.

Why: the shipped recipe trained again with another seed moved the proxy's melanoma AUC by
0.03-0.04 (``benchmarks/recipe_seed2.json``), as much as any candidate differed from it. One
run per recipe cannot tell a recipe from a lucky seed, so a candidate is read here as its
*paired* differences (the candidate less the shipped recipe trained with the same seed),
averaged over the seeds, with the seeds' own disagreement beside them.

Where each seed's figures come from (results of ``benchmarks.recipe_compare``, scored from the
runs by the same code; nothing is scored again here):

- the trainer's default seed: ``recipe_<candidate>.json``, its ``<candidate>`` column against
  its ``shipped recipe`` column;
- seed ``N``: ``recipe_<candidate>-seed<N>.json``, its ``<candidate>-seed<N>`` column, against
  the shipped recipe trained with seed ``N``: ``recipe_seed<N>.json``, its ``seed<N>`` column.

Only the sets every seed scored both recipes on are read. One seed is still a paired
comparison (the same split, balancing and start), but says nothing of the seeds' spread.

    python -m benchmarks.recipe_seeds consistency4
    # writes benchmarks/recipe_seeds_consistency4.json and prints its table
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks.common import write_result
from benchmarks.run_heads import HEADS
from benchmarks.yardstick import ROOT
from trainer.config import TrainConfig

BASE = "shipped recipe"
DEFAULT_SEED = TrainConfig().seed


def _load(path: Path) -> dict[str, Any]:
    return json.loads(path.read_text(encoding="utf-8"))


def seed_pairs(candidate: str, root: Path = ROOT) -> dict[int, dict[str, Any]]:
    """Per seed: the candidate's and the shipped recipe's entries per scored set, and each
    run's balanced accuracy on its own internal test split, from the stored results."""
    bench = root / "benchmarks"
    pairs: dict[int, dict[str, Any]] = {}
    first = bench / f"recipe_{candidate}.json"
    if first.is_file():
        body = _load(first)
        pairs[DEFAULT_SEED] = _pair(body, candidate, body, BASE)
    for path in sorted(bench.glob(f"recipe_{candidate}-seed*.json")):
        m = re.fullmatch(rf"recipe_{re.escape(candidate)}-seed(\d+)\.json", path.name)
        if not m:
            continue
        seed = int(m.group(1))
        base = bench / f"recipe_seed{seed}.json"
        if not base.is_file():
            raise SystemExit(
                f"{path.name}: no {base.name}, the shipped recipe with seed {seed} to set it "
                f"against (make recipe-seed{seed})"
            )
        pairs[seed] = _pair(_load(path), f"{candidate}-seed{seed}", _load(base), f"seed{seed}")
    return pairs


def _pair(cand: dict[str, Any], cand_col: str, base: dict[str, Any], base_col: str) -> dict:
    sets = {
        key: {"candidate": by[cand_col], "shipped": base["sets"][key][base_col]}
        for key, by in cand["sets"].items()
        if cand_col in by and base_col in base["sets"].get(key, {})
    }
    inside = {}
    for origin, by in (cand.get("inside_sources") or {}).items():
        b = (base.get("inside_sources") or {}).get(origin, {}).get(base_col)
        if by.get(cand_col) is not None and b is not None:
            inside[origin] = {"candidate": by[cand_col], "shipped": b}
    return {"sets": sets, "inside": inside}


def _fig(entry: dict[str, Any], head: str, name: str) -> float | None:
    """A figure of one head: its AUC, its worst re-capture's ``alert_flips`` or
    ``class_changes``, or one re-capture's (``alert_flips: <re-capture>``)."""
    e = entry.get(head, {})
    if name == "melanoma_roc_auc":
        return e.get(name)
    if ": " in name:
        kind, variant = name.split(": ")
        return (e.get("recaptures") or {}).get(variant, {}).get(kind)
    return (e.get("worst_recapture") or {}).get(name)


FIGS = ("melanoma_roc_auc", "alert_flips", "class_changes")


def _figs(pairs: dict[int, dict[str, Any]], key: str) -> list[str]:
    """:data:`FIGS`, then each re-capture's own flips and changes where at least one seed's
    runs of both recipes were scored under it (results written before they were kept have
    only the worst): those are paired over the seeds that hold them."""
    variants: set[str] = set()
    for p in pairs.values():
        held = [
            set(e.get(head, {}).get("recaptures") or {})
            for e in p["sets"][key].values()
            for head in HEADS
        ]
        variants |= set.intersection(*held) if held else set()
    per = [f"{k}: {v}" for v in sorted(variants) for k in ("alert_flips", "class_changes")]
    return [*FIGS, *per]


def compare(pairs: dict[int, dict[str, Any]]) -> dict[str, Any]:
    """Per set, head and figure: each seed's candidate, shipped and paired difference; and per
    head and figure the mean paired difference over sets and seeds, each seed's own mean
    difference (do the seeds agree on the sign?), and how far the shipped recipe itself moved
    between seeds (the largest spread over the sets)."""
    if not pairs:
        raise SystemExit("no seed holds both recipes: nothing to pair")
    common = set.intersection(*(set(p["sets"]) for p in pairs.values()))
    if not common:
        raise SystemExit("no scored set is common to every seed")
    sets: dict[str, Any] = {}
    for key in sorted(common):
        sets[key] = {}
        figs = _figs(pairs, key)
        for head in HEADS:
            row: dict[str, Any] = {}
            for fig in figs:
                per_seed = {}
                for seed, p in pairs.items():
                    c = _fig(p["sets"][key]["candidate"], head, fig)
                    s = _fig(p["sets"][key]["shipped"], head, fig)
                    if c is None or s is None:
                        if ": " not in fig:
                            break  # the headline figures: every seed or none
                        continue
                    per_seed[str(seed)] = {"candidate": c, "shipped": s, "change": round(c - s, 4)}
                else:
                    if per_seed:
                        row[fig] = per_seed
            sets[key][head] = row
    summary: dict[str, Any] = {}
    every = list(dict.fromkeys(f for k in sets for h in sets[k].values() for f in h))
    for head in HEADS:
        for fig in every:
            cells = [sets[k][head][fig] for k in sets if fig in sets[k][head]]
            if not cells:
                continue
            by_seed = {
                seed: round(float(np.mean([c[seed]["change"] for c in cells])), 4)
                for seed in cells[0]
            }
            spread = max(
                max(v["shipped"] for v in c.values()) - min(v["shipped"] for v in c.values())
                for c in cells
            )
            summary[f"{head}: {fig}"] = {
                "sets": len(cells),
                "mean_change": round(float(np.mean(list(by_seed.values()))), 4),
                "change_by_seed": by_seed,
                "seeds_agree": len({np.sign(v) for v in by_seed.values()}) == 1,
                "shipped_seed_spread": round(float(spread), 4),
            }
    inside = {
        str(seed): p["inside"] for seed, p in pairs.items() if p["inside"]
    }  # internal-test balanced accuracy per seed and origin
    return {"seeds": sorted(pairs), "sets": sets, "summary": summary, "inside_sources": inside}


FIG_NAMES = {
    "melanoma_roc_auc": "melanoma AUC",
    "alert_flips": "worst re-capture: alert flips",
    "class_changes": "worst re-capture: class changes",
}


def _name(fig: str) -> str:
    if ": " in fig:
        kind, variant = fig.split(": ")
        return f"{variant}: {FIG_NAMES[kind].split(': ')[1]}"
    return FIG_NAMES[fig]


def _v(fig: str, x: float, signed: bool = False) -> str:
    if fig == "melanoma_roc_auc":
        return f"{x:+.3f}" if signed else f"{x:.3f}"
    return f"{100 * x:+.1f} pts" if signed else f"{100 * x:.1f} %"


def markdown(result: dict[str, Any], candidate: str) -> str:
    """Each set's figures per seed (candidate / shipped), the paired changes, and each
    re-capture's paired change on its own (where the results hold it)."""
    seeds = [str(s) for s in result["seeds"]]
    head_cols = " | ".join(f"seed {s}: {candidate} / shipped" for s in seeds)
    lines = [f"| scored on: head: figure | {head_cols} |", "|---|" + "---|" * len(seeds)]
    for key, by_head in result["sets"].items():
        for head, row in by_head.items():
            for fig, per in row.items():
                if ": " in fig:
                    continue  # each re-capture: the last table
                cells = [
                    f"{_v(fig, per[s]['candidate'])} / {_v(fig, per[s]['shipped'])}" for s in seeds
                ]
                lines.append(f"| {key}: {head}: {_name(fig)} | " + " | ".join(cells) + " |")
    lines += [
        "",
        "| head: figure | mean paired change | by seed | seeds agree | shipped recipe's own "
        "move between seeds (largest) |",
        "|---|---|---|---|---|",
    ]
    one = len(seeds) == 1
    summary = result["summary"]
    for name, s in summary.items():
        head, fig = name.split(": ", 1)
        if ": " in fig:
            continue
        by = ", ".join(f"{_v(fig, v, True)} (seed {k})" for k, v in s["change_by_seed"].items())
        agree = "n/a (one seed)" if one else ("yes" if s["seeds_agree"] else "no")
        spread = "n/a" if one else _v(fig, s["shipped_seed_spread"])
        lines.append(
            f"| {head}: {_name(fig)} | {_v(fig, s['mean_change'], True)} | {by} | "
            f"{agree} | {spread} |"
        )
    variants = list(dict.fromkeys(n.split(": ")[2] for n in summary if n.count(": ") == 2))
    if variants:
        lines += [
            "",
            "| re-capture (held-out origin) | network: alert flips / class changes | "
            "blend: alert flips / class changes | seeds |",
            "|---|---|---|---|",
        ]
        for v in variants:
            cells = [
                " / ".join(
                    _v(k, summary[f"{h}: {k}: {v}"]["mean_change"], True)
                    if f"{h}: {k}: {v}" in summary
                    else "n/a"
                    for k in ("alert_flips", "class_changes")
                )
                for h in HEADS
            ]
            held = summary.get(f"network: alert_flips: {v}", {}).get("change_by_seed", {})
            lines.append(f"| {v} | " + " | ".join(cells) + f" | {', '.join(held)} |")
    inside = result.get("inside_sources") or {}
    if inside:
        lines += [
            "",
            "| seed: origin held out | internal-test balanced accuracy: candidate / shipped |",
        ]
        lines.append("|---|---|")
        for seed, by in inside.items():
            for origin, v in by.items():
                lines.append(f"| {seed}: {origin} | {v['candidate']:.3f} / {v['shipped']:.3f} |")
    lines += [
        "",
        "Paired change: the candidate less the shipped recipe trained with the same seed (split, "
        "balancing and training), averaged over the scored sets and the seeds; re-capture "
        "changes in percentage points (lower is steadier).",
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if len(args) != 1:
        raise SystemExit("usage: python -m benchmarks.recipe_seeds CANDIDATE")
    candidate = args[0]
    result = compare(seed_pairs(candidate))
    write_result(
        ROOT / "benchmarks" / f"recipe_seeds_{candidate}.json",
        f"the {candidate} recipe against the shipped one, paired seed by seed",
        "python -m benchmarks.recipe_seeds " + candidate,
        result,
        markdown(result, candidate),
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
