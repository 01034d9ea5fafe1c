"""Do a clinic's unlabelled photos teach the head its dermatoscope? Pseudo-labels at the head (#26)

Issue #26 lists pseudo-labels on unlabelled images. A clinic's stored photos are exactly that, so
this measures the cheapest form first, with no backbone training: for every run trained with an
origin held out (``runs/<recipe>-holdout-<origin>``, feature rows in ``runs/features/<same>``), the
held-out origin's images are split in two halves by lesion/patient group. The blend (as shipped:
the network's last layer with a head refitted on every other origin, logits averaged) labels one
half, the *pool*, without looking at its labels; the refit is fitted again on the other origins and
on the pool's pseudo-labels; the new blend is scored on the other half. The halves then swap, so
every image is scored once by a head that never saw it, labelled or not.

Pseudo-labels, each kind weighed two ways (each pseudo-labelled image as one labelled image, or
all of them together as much as every other origin's images: the clinic's own look given weight):

- ``confident classes``: class-balanced self-training (CBST, Zou et al. 2018): for every class,
  the :data:`SHARE` of pool images the blend gives that class most probability, among those it
  calls that class, labelled that class;
- ``surely benign``: the :data:`SHARE` of pool images with the lowest melanoma probability,
  labelled "not melanoma" only (a partial label, as isic2020's ``unknown``): the alert's own
  question, and the side the blend gets right most often.

    python -m benchmarks.pseudo_labels     # writes benchmarks/pseudo_labels.json (minutes)
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks.common import load_arrays, write_result
from benchmarks.head_inputs import figures
from benchmarks.heads import held_out
from benchmarks.refit_head import network_head
from benchmarks.run_heads import held_out_runs, refit_head
from benchmarks.yardstick import ROOT
from desktop.head import softmax

SHARE = 0.3  # of the pool (per predicted class for ``confident classes``) given a pseudo-label
SEED = 0  # the draw of the two halves
KINDS = ("confident classes", "surely benign")
WEIGHTS = {"x1": "each as one labelled image", "as others": "together as the other origins"}
VARIANTS = ("none", *(f"{k}, {w}" for k in KINDS for w in WEIGHTS))


def halves(groups: np.ndarray, seed: int = SEED) -> np.ndarray:
    """0 or 1 per image, every group (lesion or patient) on one side, about half the groups each."""
    names = np.unique(groups)
    side = np.random.default_rng(seed).permutation(len(names)) % 2
    return side[np.searchsorted(names, groups)]


def pseudo(
    probs: np.ndarray, mel: int, kind: str, share: float = SHARE
) -> tuple[np.ndarray, np.ndarray]:
    """``(rows, allowed)``: which pool images get a pseudo-label of ``kind``, and what it allows."""
    n, k = probs.shape
    if kind == "surely benign":
        rows = np.argsort(probs[:, mel], kind="stable")[: int(round(share * n))]
        allowed = np.ones((len(rows), k), bool)
        allowed[:, mel] = False
        return rows, allowed
    if kind != "confident classes":
        raise ValueError(f"unknown pseudo-label kind {kind!r}")
    called = probs.argmax(axis=1)
    picked = []
    for c in range(k):
        mine = np.flatnonzero(called == c)
        top = mine[np.argsort(-probs[mine, c], kind="stable")][: int(round(share * len(mine)))]
        picked.append(top)
    rows = np.concatenate(picked).astype(int)
    return rows, np.eye(k, dtype=bool)[called[rows]]


def pool_weight(labelled: int, pseudo_labelled: int, weighting: str) -> np.ndarray:
    """Per-row weights: the labelled rows, then the pseudo-labelled ones (``WEIGHTS``)."""
    w = np.ones(labelled + pseudo_labelled)
    if weighting == "as others":
        w[labelled:] = labelled / max(pseudo_labelled, 1)
    elif weighting != "x1":
        raise ValueError(f"unknown weighting {weighting!r}")
    return w


def measure_run(model: Path, features: Path, scored: str) -> dict[str, Any]:
    """Each variant's blend figures on ``scored``, every image scored by the half that did not
    pseudo-label it."""
    rows = load_arrays(features / "rows.npz")
    classes, mel, allowed, te, tr, is_mel = held_out(rows, scored)
    x, groups = rows["pooled"], rows["groups"].astype(str)
    net, _ = network_head(str(model))

    def blend(head: Any, f: np.ndarray) -> np.ndarray:
        return softmax(((f @ net.weights + net.bias) / net.temperature + head.logits(f)) / 2)

    base = refit_head(x[tr], allowed[tr], groups[tr])
    xt, gt = x[te], groups[te]
    side = halves(gt)
    out: dict[str, Any] = {"images": int(te.sum()), "melanomas": int(is_mel.sum())}
    for variant in VARIANTS:
        p = np.zeros((len(xt), len(classes)))
        labelled = 0
        for pool in (0, 1):
            scored_rows = side != pool
            if variant == "none":
                p[scored_rows] = blend(base, xt[scored_rows])
                continue
            kind, weighting = variant.split(", ")
            px = xt[side == pool]
            rows_, allowed_ = pseudo(blend(base, px), mel, kind)
            labelled += len(rows_)
            head = refit_head(
                np.concatenate([x[tr], px[rows_]]),
                np.concatenate([allowed[tr], allowed_]),
                np.concatenate([groups[tr], gt[side == pool][rows_]]),
                pool_weight(int(tr.sum()), len(rows_), weighting),
            )
            p[scored_rows] = blend(head, xt[scored_rows])
        out[variant] = figures(p, is_mel, allowed[te], mel) | {"pseudo_labelled": labelled}
    return out


def summary(sets: dict[str, Any]) -> dict[str, Any]:
    """Per variant: mean and worst melanoma AUC over the sets, and the mean change against
    no pseudo-labels with the sets it raised."""
    out: dict[str, Any] = {}
    for v in VARIANTS:
        aucs = np.array([e[v]["melanoma_roc_auc"] for e in sets.values()])
        base = np.array([e["none"]["melanoma_roc_auc"] for e in sets.values()])
        out[v] = {
            "mean_auc": round(float(aucs.mean()), 4),
            "worst_auc": round(float(aucs.min()), 4),
            "mean_change": round(float((aucs - base).mean()), 4),
            "sets_raised": int(np.sum(aucs > base)),
            "mean_balanced_accuracy": round(
                float(np.mean([e[v]["balanced_accuracy"] for e in sets.values()])), 4
            ),
            "sets": len(aucs),
        }
    return out


def markdown(result: dict[str, Any]) -> str:
    """Per set: each variant's melanoma AUC; then the summary."""
    lines = ["| run: scored on (melanomas) | " + " | ".join(VARIANTS) + " |"]
    lines.append("|---" * (len(VARIANTS) + 1) + "|")
    for key, e in result["sets"].items():
        cells = " | ".join(f"{e[v]['melanoma_roc_auc']:.3f}" for v in VARIANTS)
        lines.append(f"| {key} ({e['melanomas']}) | {cells} |")
    s = result["summary"]
    lines.append(
        "| **mean / worst** | "
        + " | ".join(f"{s[v]['mean_auc']:.3f} / {s[v]['worst_auc']:.3f}" for v in VARIANTS)
        + " |"
    )
    lines.append(
        "| **mean change (sets raised)** | "
        + " | ".join(f"{s[v]['mean_change']:+.3f} ({s[v]['sets_raised']})" for v in VARIANTS)
        + " |"
    )
    lines.append(
        "| mean balanced accuracy | "
        + " | ".join(f"{s[v]['mean_balanced_accuracy']:.3f}" for v in VARIANTS)
        + " |"
    )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", default=str(ROOT / "benchmarks" / "pseudo_labels.json"))
    args = ap.parse_args(argv)
    found = held_out_runs(ROOT)
    if not found:
        raise SystemExit("no held-out run with feature rows under runs/")
    sets = {}
    for name, origin in found:
        model, features = ROOT / "runs" / name / "model.tflite", ROOT / "runs" / "features" / name
        sets[f"{name}: {origin}"] = measure_run(model, features, origin)
        print(name, file=sys.stderr, flush=True)
    body = {
        "share": SHARE,
        "weights": WEIGHTS,
        "runs": [n for n, _ in found],
        "sets": sets,
        "summary": summary(sets),
    }
    write_result(
        Path(args.out),
        "pseudo-labels on half of a held-out origin's images, scored on the other half",
        "python -m benchmarks.pseudo_labels",
        body,
        markdown(body),
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
