"""Does weighing the origins differently, or aligning each origin's features, make the
refitted head carry better to an origin it never saw?

Issue #26 lists origin-balanced sampling and a worst-origin objective (group DRO) as
candidates. At the head (no backbone retraining) they cost seconds, so they are measured here
on every origin held out of its backbone's training (``benchmarks.yardstick.HELD_OUT``), with
the shipped refit's fit (``desktop.adapt.fit``, classes balanced, the shipped penalty) on the
pooled features of every other origin:

- ``pooled``: every image alike (the shipped refit's weighting);
- ``origins equal``: each fitting origin the same total weight;
- ``worst origin``: group DRO, starting from ``origins equal``; after each fit every origin's
  weight is multiplied by ``exp(STEP * its mean training loss)``, ``ROUNDS`` times;
- ``origin centred`` / ``origin standardised``: each origin's features less its own mean
  (and divided by its own spread), the held-out origin's taken from its own unlabelled images,
  as a clinic's stored photos would give them: unsupervised alignment.

    python -m benchmarks.head_weighting     # writes benchmarks/head_weighting.json (minutes)
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks.common import load_arrays, write_result
from benchmarks.head_inputs import PENALTY, figures, markdown, summary
from benchmarks.heads import held_out
from benchmarks.yardstick import HELD_OUT, ROOT
from desktop.adapt import fit
from desktop.head import LinearHead

OUT = ROOT / "benchmarks" / "head_weighting.json"
ROUNDS = 3  # group-DRO reweighting rounds (the probe's further rounds only fell further)
STEP = 1.0  # group-DRO step on the mean training loss (log-likelihood units)


def origin_weights(origins: np.ndarray, share: dict[str, float] | None = None) -> np.ndarray:
    """Per-image weights giving each origin ``share`` of the total (equal shares by default),
    with mean 1."""
    names = sorted(set(origins.tolist()))
    share = share or {o: 1.0 / len(names) for o in names}
    counts = {o: int(np.sum(origins == o)) for o in names}
    w = np.array([share[o] / counts[o] for o in origins.tolist()])
    return w / w.mean()


def aligned(x: np.ndarray, origins: np.ndarray, scale: bool) -> np.ndarray:
    """Each origin's features less its own mean (and over its own spread, if ``scale``),
    rescaled to the features' typical spread so the shipped penalty still suits them."""
    out = np.empty_like(x)
    for o in set(origins.tolist()):
        m = origins == o
        out[m] = x[m] - x[m].mean(axis=0)
        if scale:
            out[m] /= np.where(x[m].std(axis=0) > 1e-8, x[m].std(axis=0), 1.0)
    return out * (x.std(axis=0).mean() / out.std(axis=0).mean())


def worst_origin(
    data: fit.Data, origins: np.ndarray, base: fit.Base, everything: np.ndarray
) -> LinearHead:
    """Group DRO at the head: origins that fit worst weigh more in the next fit."""
    names = sorted(set(origins.tolist()))
    share = {o: 1.0 / len(names) for o in names}
    for _ in range(ROUNDS):
        head = fit.fit_head(
            fit.Data(data.x, data.allowed, data.groups, weight=origin_weights(origins, share)),
            base,
            PENALTY,
            everything,
        )
        p = head.probabilities(data.x)
        loss = -np.log(np.maximum((p * data.allowed).sum(axis=1), 1e-12))
        loss = loss * fit.class_weights(data.allowed)
        for o in names:
            share[o] *= float(np.exp(STEP * loss[origins == o].mean()))
        total = sum(share.values())
        share = {o: s / total for o, s in share.items()}
    return fit.fit_head(
        fit.Data(data.x, data.allowed, data.groups, weight=origin_weights(origins, share)),
        base,
        PENALTY,
        everything,
    )


def origin(holdout: str, rows_path: Path) -> dict[str, Any]:
    rows = load_arrays(rows_path)
    classes, mel, allowed, te, tr, is_mel = held_out(rows, holdout)
    x = rows["pooled"].astype(np.float64)
    origins = rows["origins"]
    base = fit.Base(np.zeros((x.shape[1], len(classes))), np.zeros(len(classes)), 1.0)
    everything = np.ones(len(classes), dtype=bool)
    train = fit.Data(x[tr], allowed[tr], rows["groups"][tr])
    heads = {
        "pooled": fit.fit_head(train, base, PENALTY, everything),
        "origins equal": fit.fit_head(
            fit.Data(train.x, train.allowed, train.groups, weight=origin_weights(origins[tr])),
            base,
            PENALTY,
            everything,
        ),
        "worst origin": worst_origin(train, origins[tr], base, everything),
    }
    out: dict[str, Any] = {"images": int(te.sum()), "melanomas": int(is_mel.sum())}
    for name, head in heads.items():
        out[name] = figures(head.probabilities(x[te]), is_mel, allowed[te], mel)
    for name, scale in (("origin centred", False), ("origin standardised", True)):
        xa = aligned(x, origins, scale)
        head = fit.fit_head(
            fit.Data(xa[tr], allowed[tr], rows["groups"][tr]), base, PENALTY, everything
        )
        out[name] = figures(head.probabilities(xa[te]), is_mel, allowed[te], mel)
    return out


def main(argv: list[str] | None = None) -> int:
    per = {}
    for o, (_model, rows) in HELD_OUT.items():
        per[o] = origin(o, ROOT / rows)
        print(o, json.dumps(per[o]), file=sys.stderr)
    body = {"penalty": PENALTY, "dro": {"rounds": ROUNDS, "step": STEP}, "origins": per}
    body["summary"] = summary(per)
    write_result(
        OUT,
        "melanoma AUC of the refitted head with origins weighed or aligned, per origin held out",
        "python -m benchmarks.head_weighting",
        body,
        markdown(body),
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
