"""Would a head refitted on view-averaged pooled features, across every source, beat the
network's own head on an origin it never saw?

For a model trained without one origin (the shipped model for isic2020), the rows of every
origin (``python -m benchmarks.origin_features``) are split: the held-out origin is scored,
every other dermoscopy origin is fitted on. Compared on the held-out origin:

- ``network``: the model's own probabilities (mean over the 8 views);
- ``refit``: a class-balanced multinomial logistic head (L2 penalty chosen by grouped
  cross-validation on the fitting origins), which also learns from ISIC 2020's partial
  "benign, no class" labels;
- ``melanoma-vs-rest``: a strongly penalised logistic melanoma decision on the same features.

    python -m benchmarks.heads --rows runs/features/shipped/rows.npz --holdout isic2020

writes ``benchmarks/heads.json`` (one entry per held-out origin).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np

from benchmarks.common import load_arrays
from benchmarks.origin_features import CLINICAL
from benchmarks.refit_head import blend, network_head
from desktop.adapt import fit
from desktop.adapt.clinic import ClinicData
from desktop.head import LinearHead
from desktop.labelled.dataset import isic_id
from desktop.labelled.labels import MELANOMA

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "benchmarks" / "heads.json"
PENALTIES = (1.0, 0.1, 0.01, 0.001)


def spec_at_sens(scores: np.ndarray, positive: np.ndarray, target: float = 0.9) -> float:
    t = fit.threshold_for_sensitivity(scores, positive, target)
    return float((scores[~positive] < t).mean())


def _zero_base(channels: int, classes: int) -> fit.Base:
    return fit.Base(np.zeros((channels, classes)), np.zeros(classes), 1.0)


def refit(train: fit.Data, classes: int, melanoma: int, k: int = 4):
    """A head fitted from scratch: penalty by grouped out-of-fold NLL, then temperature."""
    base = _zero_base(train.x.shape[1], classes)
    everything = np.ones(classes, dtype=bool)
    choice = fit.choose(train, base, melanoma, k, penalties=PENALTIES)
    head = fit.fit_head(train, base, choice.penalty, everything)
    return LinearHead(head.weights, head.bias, choice.temperature), choice


class HeldOut(NamedTuple):
    """The rows of one held-out origin (``te``) and of every other dermoscopy origin (``tr``)."""

    classes: tuple[str, ...]
    melanoma: int  # index of melanoma in ``classes``
    allowed: np.ndarray  # (N, classes): what each row's label allows
    te: np.ndarray  # row mask: the held-out origin
    tr: np.ndarray  # row mask: every other dermoscopy origin
    is_mel: np.ndarray  # over the ``te`` rows: labelled melanoma and nothing else


def copies_of(rows: dict[str, np.ndarray], te: np.ndarray) -> np.ndarray:
    """Rows that are another source's copy of an image in ``te``: the same ISIC id (the same
    picture at another size and compression) or the same file bytes. Sources share images
    (1,738 of isic-9class's rows are HAM10000 or ISIC 2017 copies), and a head fitted on the
    copy of an image it is scored on is not scored on an unseen origin."""
    ids = np.array([isic_id(str(n)) or "" for n in rows["names"]])
    seen_ids = set(ids[te]) - {""}
    seen_hashes = set(rows["hashes"][te]) if "hashes" in rows else set()
    same = np.isin(ids, list(seen_ids)) & (ids != "")
    if seen_hashes:
        same |= np.isin(rows["hashes"], list(seen_hashes))
    return same & ~te


def held_out(rows: dict[str, np.ndarray], holdout: str) -> HeldOut:
    """Split ``benchmarks.origin_features`` rows on one origin (clinical photos on neither
    side, and rows whose label allows no class). The fitting side leaves out every copy of a
    held-out image (:func:`copies_of`), as the trainer's ``--holdout-source`` does."""
    classes = tuple(str(c) for c in rows["classes"])
    mel = classes.index(MELANOMA)
    origins = rows["origins"]
    data = ClinicData(
        [Path(str(n)) for n in rows["names"]],
        [str(x) for x in rows["labels"]],
        [str(g) for g in rows["groups"]],
    )
    allowed = data.allowed_matrix(classes)
    usable = (origins != CLINICAL) & allowed.any(axis=1)
    te = usable & (origins == holdout)
    tr = usable & (origins != holdout) & ~copies_of(rows, te)
    is_mel = allowed[te][:, mel] & (allowed[te].sum(axis=1) == 1)
    return HeldOut(classes, mel, allowed, te, tr, is_mel)


def evaluate(
    rows: dict[str, np.ndarray], holdout: str, network: LinearHead | None = None
) -> dict[str, Any]:
    classes, MEL_INDEX, allowed, te, tr, is_mel = held_out(rows, holdout)  # noqa: N806
    x, probs = rows["pooled"], rows["probabilities"]
    train = fit.Data(x[tr], allowed[tr], rows["groups"][tr])
    head, choice = refit(train, len(classes), MEL_INDEX)
    out: dict[str, Any] = {
        "holdout": holdout,
        "images": int(te.sum()),
        "melanomas": int(is_mel.sum()),
        # other sources' copies of the held-out images, kept off the fitting side
        "copies_left_out": int(copies_of(rows, te).sum()),
        "penalty": choice.penalty,
    }
    # melanoma-vs-rest: two "classes" (melanoma, not) on the same features
    mel_allowed = np.stack(
        [allowed[tr][:, MEL_INDEX], ~allowed[tr][:, MEL_INDEX] | (allowed[tr].sum(axis=1) > 1)],
        axis=1,
    )
    mel_allowed[:, 1] &= ~(allowed[tr][:, MEL_INDEX] & (allowed[tr].sum(axis=1) == 1))
    mtrain = fit.Data(x[tr], mel_allowed, rows["groups"][tr])
    mbase = _zero_base(x.shape[1], 2)
    mhead = fit.fit_head(mtrain, mbase, 1.0, np.ones(2, dtype=bool))
    # The network's own last layer on the pooled features where it is given: the rows' stored
    # probabilities are the head of the model that made them, and isic2020's rows are the shipped
    # model's, whose head was refitted with isic2020's labels.
    candidates = {
        "network": probs[te] if network is None else network.probabilities(x[te]),
        "refit": head.probabilities(x[te]),
    }
    if network is not None:  # the network's head and the refit, logits averaged
        b = blend(network, head)
        candidates["blend"] = b.probabilities(x[te])
    thresholds = {"network": None, "refit": choice.threshold, "blend": None}
    for name, p in candidates.items():
        out[name] = {
            "melanoma_roc_auc": round(fit.roc_auc(p[:, MEL_INDEX], is_mel), 4),
            "specificity_at_sensitivity_0.90": round(spec_at_sens(p[:, MEL_INDEX], is_mel), 4),
            "balanced_accuracy": round(fit.balanced_accuracy(p, allowed[te]), 4),
        }
        if thresholds[name] is not None:  # the head's own alert, chosen on the other origins
            f = fit.figures(p, allowed[te], MEL_INDEX, thresholds[name])
            out[name] |= {
                "alert_threshold": round(float(thresholds[name]), 4),
                "sensitivity_at_alert": round(f.sensitivity, 4),
                "specificity_at_alert": round(f.specificity, 4),
                "accuracy": round(
                    float(
                        np.mean(
                            p[allowed[te].sum(1) == 1].argmax(1)
                            == allowed[te][allowed[te].sum(1) == 1].argmax(1)
                        )
                    ),
                    4,
                ),
            }
    mscore = mhead.probabilities(x[te])[:, 0]
    out["melanoma-vs-rest"] = {
        "melanoma_roc_auc": round(fit.roc_auc(mscore, is_mel), 4),
        "specificity_at_sensitivity_0.90": round(spec_at_sens(mscore, is_mel), 4),
    }
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", required=True)
    ap.add_argument("--holdout", required=True)
    ap.add_argument("--model", help="the model the rows came from: adds the blended head")
    args = ap.parse_args(argv)
    rows = load_arrays(args.rows)
    result = json.loads(OUT.read_text()) if OUT.is_file() else {}
    network = network_head(args.model)[0] if args.model else None
    result[args.holdout] = evaluate(rows, args.holdout, network) | {"rows": args.rows}
    OUT.write_text(json.dumps(result, indent=1) + "\n")
    print(json.dumps(result[args.holdout], indent=1), file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
