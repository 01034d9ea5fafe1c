"""Would a refitted head read more than the pooled features? The descriptor's parts, per origin
held out.

The "is this dermoscopy" decision gained from where and how strongly the features fire
(``desktop.descriptor``: per channel the spatial mean, maximum, spread and centre). Does the
classification head? For every origin held out of its backbone's training
(``benchmarks.yardstick.HELD_OUT``), a class-balanced multinomial logistic head (the refitted
head's fit, ``desktop.adapt.fit``, at the shipped head's penalty) is fitted on every other
origin's rows and scored on the held-out one, reading:

- ``mean``: the pooled features (what the shipped refit reads);
- ``mean+max``, ``mean+spread``, ``mean+centre``, ``all``: with parts of the descriptor, every
  column standardised on the fitting rows and scaled to the pooled features' typical spread;
- ``... + network``: that head's logits averaged with the network's own (the shipped blend).

    python -m benchmarks.head_inputs     # writes benchmarks/head_inputs.json (about 5 minutes)

Needs the rows of ``python -m benchmarks.origin_features`` with descriptors, for each model.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks.common import load_arrays, write_result
from benchmarks.heads import held_out, spec_at_sens
from benchmarks.refit_head import network_head
from benchmarks.yardstick import HELD_OUT, ROOT
from desktop.adapt import fit
from desktop.head import softmax

OUT = ROOT / "benchmarks" / "head_inputs.json"
PENALTY = 1e-3  # the shipped refitted head's (assets/model.json, head.penalty)
PARTS = {"mean": (0,), "mean+max": (0, 1), "mean+spread": (0, 2), "mean+centre": (0, 3)}
PARTS["all"] = (0, 1, 2, 3)
BLENDED = ("mean", "all")


def _inputs(d: np.ndarray, parts: tuple[int, ...], fitting: np.ndarray) -> np.ndarray:
    """The chosen parts side by side. With more than the mean, every column is standardised on
    the fitting rows and scaled to the mean part's typical spread (one penalty suits them all)."""
    c = d.shape[1] // 4
    x = np.hstack([d[:, p * c : (p + 1) * c] for p in parts])
    if parts == (0,):
        return x
    spread = float(d[fitting, :c].std(0).mean())
    mu, sd = x[fitting].mean(0), x[fitting].std(0)
    return (x - mu) / np.where(sd > 1e-8, sd, 1.0) * spread


def figures(p: np.ndarray, is_mel: np.ndarray, allowed: np.ndarray, mel: int) -> dict[str, Any]:
    """Melanoma AUC, specificity at sensitivity 0.90 and balanced accuracy of probabilities."""
    return {
        "melanoma_roc_auc": round(fit.roc_auc(p[:, mel], is_mel), 4),
        "specificity_at_sensitivity_0.90": round(spec_at_sens(p[:, mel], is_mel), 4),
        "balanced_accuracy": round(fit.balanced_accuracy(p, allowed), 4),
    }


def origin(holdout: str, model: Path, rows_path: Path) -> dict[str, Any]:
    rows = load_arrays(rows_path)
    if "descriptors" not in rows:
        raise SystemExit(
            f"{rows_path} has no descriptors: run python -m benchmarks.origin_features"
        )
    classes, mel, allowed, te, tr, is_mel = held_out(rows, holdout)
    d = rows["descriptors"].astype(np.float64)
    net, _ = network_head(str(model))
    net_logits = (d[te, : d.shape[1] // 4] @ net.weights + net.bias) / net.temperature
    out: dict[str, Any] = {
        "images": int(te.sum()),
        "melanomas": int(is_mel.sum()),
        # the network's own last layer on the same view-averaged features (not the rows'
        # probabilities: for isic2020 those are the shipped head's, which saw isic2020)
        "network": figures(softmax(net_logits), is_mel, allowed[te], mel),
    }
    for name, parts in PARTS.items():
        x = _inputs(d, parts, tr)
        base = fit.Base(np.zeros((x.shape[1], len(classes))), np.zeros(len(classes)), 1.0)
        train = fit.Data(x[tr], allowed[tr], rows["groups"][tr])
        head = fit.fit_head(train, base, PENALTY, np.ones(len(classes), dtype=bool))
        out[name] = figures(head.probabilities(x[te]), is_mel, allowed[te], mel)
        if name in BLENDED:
            blend = softmax((net_logits + head.logits(x[te])) / 2)
            out[f"{name} + network"] = figures(blend, is_mel, allowed[te], mel)
    return out


def summary(per_origin: dict[str, dict[str, Any]]) -> dict[str, dict[str, float]]:
    """Mean and worst held-out melanoma AUC, and mean balanced accuracy, per head."""
    heads = [k for k, v in next(iter(per_origin.values())).items() if isinstance(v, dict)]
    out = {}
    for h in heads:
        auc = [per_origin[o][h]["melanoma_roc_auc"] for o in per_origin]
        bacc = [per_origin[o][h]["balanced_accuracy"] for o in per_origin]
        out[h] = {
            "mean_melanoma_roc_auc": round(float(np.mean(auc)), 4),
            "worst_melanoma_roc_auc": round(float(np.min(auc)), 4),
            "mean_balanced_accuracy": round(float(np.mean(bacc)), 4),
        }
    return out


def markdown(result: dict[str, Any]) -> str:
    """docs/experiments.md's table: melanoma AUC per held-out origin, then mean and worst."""
    per = result["origins"]
    heads = list(result["summary"])
    lines = [
        "| held out (melanomas) | " + " | ".join(heads) + " |",
        "|---" * (len(heads) + 1) + "|",
    ]
    for o, e in per.items():
        lines.append(
            f"| {o} ({e['melanomas']}) | "
            + " | ".join(f"{e[h]['melanoma_roc_auc']:.3f}" for h in heads)
            + " |"
        )
    s = result["summary"]
    for key, label in (
        ("mean_melanoma_roc_auc", "**mean**"),
        ("worst_melanoma_roc_auc", "**worst**"),
        ("mean_balanced_accuracy", "mean balanced accuracy"),
    ):
        lines.append(f"| {label} | " + " | ".join(f"{s[h][key]:.3f}" for h in heads) + " |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    per = {}
    for o, (model, rows) in HELD_OUT.items():
        per[o] = origin(o, ROOT / model, ROOT / rows)
        print(o, json.dumps({k: v for k, v in per[o].items() if k != "network"}), file=sys.stderr)
    body = {"penalty": PENALTY, "origins": per, "summary": summary(per)}
    write_result(
        OUT,
        "melanoma AUC of a refitted head reading parts of the descriptor, per origin held out",
        "python -m benchmarks.head_inputs",
        body,
        markdown(body),
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
