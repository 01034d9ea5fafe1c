"""Both heads of one run on one set it never trained on, as the recipe comparisons score them.

``network`` is the run's own last layer on the view-averaged features; ``blend`` the shipped
head's recipe (a class-balanced logistic head at the shipped penalty, fitted on every other
origin) with its logits averaged with the network's. Shared by :mod:`benchmarks.recipe_compare`
and :mod:`benchmarks.ensemble`.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks.common import load_arrays
from benchmarks.head_inputs import PENALTY, figures
from benchmarks.heads import held_out
from benchmarks.recapture_features import NAME
from benchmarks.recapture_head import random_copies, stability
from benchmarks.refit_head import network_head
from desktop.adapt import fit
from desktop.head import LinearHead, softmax

UNSEEN = "isic2020"  # in no backbone's training: every run holds it out
HEADS = ("network", "blend")


def held_out_runs(root: Path, needs: str = "rows.npz") -> list[tuple[str, str]]:
    """``(run, held-out origin)`` for every ``runs/<recipe>-holdout-<origin>`` (a candidate
    recipe's) and ``runs/holdout-<origin>`` (the shipped recipe's) with its model and the file
    ``needs`` in its features folder (``runs/features/<same>``)."""
    found = []
    for path in sorted((root / "runs" / "features").glob(f"*holdout-*/{needs}")):
        name = path.parent.name
        if name.startswith("holdout-"):
            origin = name.removeprefix("holdout-")
        elif "-holdout-" in name:
            origin = name.split("-holdout-", 1)[1]
        else:
            continue
        if (root / "runs" / name / "model.tflite").is_file():
            found.append((name, origin))
    return found


@dataclass
class Heads:
    """Both heads of one run on one set it never trained on: per-image probabilities
    ``(images, classes)``, and the same under each fixed re-capture, where there are any."""

    probs: dict[str, np.ndarray]  # head -> probabilities
    moved: dict[str, dict[str, np.ndarray]]  # head -> re-capture -> probabilities
    names: np.ndarray  # the scored images, in row order
    is_mel: np.ndarray
    allowed: np.ndarray  # (images, classes): the classes each image's label allows
    mel: int


@dataclass
class Parts:
    """The two halves of the blend as calibrated logits ``(images, classes)``: on the scored
    images (key ``""``) and under each fixed re-capture (keyed by its name)."""

    network: dict[str, np.ndarray]
    refit: dict[str, np.ndarray]
    names: np.ndarray
    is_mel: np.ndarray
    allowed: np.ndarray
    mel: int

    def heads(self, shares: dict[str, float]) -> Heads:
        """Heads whose logits are ``share`` x the network's + (1 - share) x the refit's."""

        def probs(share: float, key: str) -> np.ndarray:
            return softmax(share * self.network[key] + (1 - share) * self.refit[key])

        moved = [k for k in self.network if k]
        return Heads(
            probs={h: probs(s, "") for h, s in shares.items()},
            moved={h: {k: probs(s, k) for k in moved} for h, s in shares.items()},
            names=self.names,
            is_mel=self.is_mel,
            allowed=self.allowed,
            mel=self.mel,
        )


def refit_head(
    x: np.ndarray,
    allowed: np.ndarray,
    groups: np.ndarray,
    weight: np.ndarray | None = None,
    copies: np.ndarray | None = None,
) -> LinearHead:
    """The shipped head's recipe from scratch: a class-balanced logistic head at the shipped
    penalty (temperature 1), each row weighed by ``weight`` (alike if None), fitted also on
    ``copies`` (re-captured copies of the rows, ``(draws, n, channels)``) as the shipped head is."""
    k = allowed.shape[1]
    base = fit.Base(np.zeros((x.shape[1], k)), np.zeros(k), 1.0)
    data = fit.Data(x, allowed, groups, copies=copies, weight=weight)
    return fit.fit_head(data, base, PENALTY, np.ones(k, bool))


NETWORK_SHARE = {"network": 1.0, "blend": 0.5}  # the shipped blend averages the two halves


def head_parts(model: Path, features: Path, scored: str, recaptured: bool = False) -> Parts:
    """The network's own head and the shipped head's recipe refitted on every other origin
    (a class-balanced logistic head at the shipped penalty) of one run on ``scored``;
    ``recaptured``: the refit fitted also on each fitting row's random re-captured copies
    (``benchmarks.recapture_features``), as the shipped head is."""
    rows = load_arrays(features / "rows.npz")
    classes, mel, allowed, te, tr, is_mel = held_out(rows, scored)
    x = rows["pooled"]
    net, _ = network_head(str(model))
    rec_path = features / NAME
    copies = None
    if recaptured:
        draws = random_copies(load_arrays(rec_path), x.shape)
        if np.isnan(draws[:, tr]).any():
            raise ValueError(f"{rec_path}: the random re-captures do not cover the fitting rows")
        copies = draws[:, tr]
    refit = refit_head(x[tr], allowed[tr], rows["groups"][tr], copies=copies)
    views = {"": x[te]}
    if rec_path.is_file():
        rec = load_arrays(rec_path)
        if "fixed" in rec and set(rows["origins"][rec["fixed_index"]]) == {scored}:
            where = {int(i): k for k, i in enumerate(rec["fixed_index"])}
            order = [where[int(i)] for i in np.flatnonzero(te)]
            views |= {str(v): rec["fixed"][k][order] for k, v in enumerate(rec["variants"])}
    return Parts(
        network={k: (f @ net.weights + net.bias) / net.temperature for k, f in views.items()},
        refit={k: refit.logits(f) for k, f in views.items()},
        names=rows["names"][te],
        is_mel=is_mel,
        allowed=allowed[te],
        mel=mel,
    )


def head_probs(model: Path, features: Path, scored: str) -> Heads:
    """The network's own head and the blend (the refit's logits averaged with the network's)
    of one run on ``scored``."""
    return head_parts(model, features, scored).heads(NETWORK_SHARE)


def head_figures(h: Heads) -> dict[str, Any]:
    """Each head's figures (:func:`benchmarks.head_inputs.figures`), and its worst re-capture's
    alert flips and class changes where there are re-captures (with the re-capture that flips
    the most alerts named), and each re-capture's own."""
    out: dict[str, Any] = {"images": len(h.is_mel), "melanomas": int(h.is_mel.sum())}
    for head, p in h.probs.items():
        entry = figures(p, h.is_mel, h.allowed, h.mel)
        if h.moved[head]:
            st = stability(p, h.moved[head], h.is_mel, h.mel)
            flips = {v: e["alert_flips"] for v, e in st["variants"].items()}
            entry["worst_recapture"] = st["worst"] | {
                "alert_flips_under": max(flips, key=flips.get)
            }
            entry["recaptures"] = {
                v: {k: e[k] for k in ("alert_flips", "class_changes")}
                for v, e in st["variants"].items()
            }
        out[head] = entry
    return out


def cell(e: dict[str, Any]) -> str:
    """One head's figures as a table cell: melanoma AUC / specificity at sensitivity 0.90 /
    balanced accuracy / worst re-capture's alert flips / worst re-capture's class changes."""
    text = f"{e['melanoma_roc_auc']:.3f} / {e['specificity_at_sensitivity_0.90']:.2f}"
    text += f" / {e['balanced_accuracy']:.2f}"
    w = e.get("worst_recapture")
    if not w:
        return text + " / n/a"
    return text + f" / {100 * w['alert_flips']:.1f} % / {100 * w['class_changes']:.1f} %"
