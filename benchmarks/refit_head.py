"""Refit the shipped model's head across every source, honestly, and (with ``--write-card``)
ship it.

Measured on held-out origins (``benchmarks.heads``, ``docs/experiments.md``), a
class-balanced multinomial logistic head on the view-averaged pooled features, fitted on
every other origin (ISIC 2020's "benign, no class" images as partial labels), beat the
network's own head on both origins measured. This applies it to the shipped backbone:

- fitted on the shipped run's *training* side only: every dermoscopy image of the four
  sources except the run's validation and internal-test images, and except any copy of them
  (same ISIC id) in another source; its penalty chosen by grouped cross-validation there;
- its temperature and its melanoma alert threshold (sensitivity >= 0.90) chosen on the
  shipped run's validation split, as the trainer does;
- every figure in the card measured on the shipped run's internal-test split, never fitted on.

    python -m benchmarks.refit_head --rows runs/features/shipped/rows.npz \\
        --split runs/shipped-operating-points/split.json [--write-card assets/model.json]

The split is the one ``python -m trainer operating-points`` recreates from the card. After
``--write-card``: ``python -m trainer operating-points ... --write`` (referral points on the
new head), ``python -m desktop.seal --seal assets/model.tflite`` and
``python -m docs.generate``.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks.common import load_arrays
from benchmarks.held_out_points import points_on_holdout
from benchmarks.origin_features import CLINICAL, DATA, rows_for
from benchmarks.refit_card import update_out_of_source, write_card
from desktop.adapt import fit
from desktop.card import card_path_for
from desktop.general import copy_beside
from desktop.head import LinearHead
from desktop.labelled.dataset import isic_id
from trainer.config import recipe

PENALTIES = (1.0, 0.1, 0.01, 0.001)
FOLDS = 4


def _isic(name: str) -> str:
    return isic_id(name) or name


def _components(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Union of two groupings (lesion/patient, ISIC id): copies of one image stay together."""
    parent: dict[str, str] = {}

    def find(x: str) -> str:
        while parent.setdefault(x, x) != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    for x, y in zip(a, b, strict=True):
        parent[find("g:" + x)] = find("i:" + y)
    return np.array([find("g:" + x) for x in a])


def load(rows_path: Path, split_path: Path) -> dict[str, Any]:
    rows = load_arrays(rows_path)
    paths = [str(r[0]) for r in rows_for(DATA)]
    rows["allows"] = _allows(paths)
    if len(paths) != len(rows["labels"]):
        raise SystemExit("rows.npz does not match the data folders (re-run origin_features)")
    split = json.loads(split_path.read_text())
    which = {
        str(Path(rec["path"]).resolve()): (part, rec["class"])
        for part in ("val", "internal_test")
        for rec in split.get(part, [])
    }
    rows["part"] = np.array([which.get(p, ("fit", None))[0] for p in paths])
    rows["split_class"] = np.array([which.get(p, (None, ""))[1] or "" for p in paths])
    rows["isic"] = np.array([_isic(str(n)) for n in rows["names"]])
    excluded = {_isic(rec["file"]) for rec in split.get("excluded", [])}  # conflicting labels
    rows["part"][(rows["part"] == "fit") & np.isin(rows["isic"], list(excluded))] = "excluded"
    return rows


def _allows(paths: list[str]) -> list[frozenset[str]]:
    """What each image's own label allows: HAM10000's ``akiec`` allows actinic keratosis and
    squamous cell carcinoma, ``bkl`` both benign keratoses, ISIC 2020's ``unknown`` every class
    but melanoma. A coarse label is a partial label, never a guess of the finer class."""
    from benchmarks.origin_features import SOURCES
    from desktop.labelled.labels import LabelMap, allowed
    from desktop.labelled.sources import read_sources

    labels = LabelMap()
    by_path: dict[str, frozenset[str]] = {}
    for source in read_sources([str(DATA / s) for s in SOURCES if (DATA / s).is_dir()], labels):
        for r in source.records:
            m = labels.lookup(r.raw_label)
            by_path[str(r.path)] = m.allows if m is not None else allowed(r.label)
    return [by_path.get(p, frozenset()) for p in paths]


def metrics(probs: np.ndarray, truth: np.ndarray, sources: np.ndarray, classes, mel, t) -> dict:
    from trainer.evaluate import expected_calibration_error

    alert = fit.alerts(probs, mel, t)
    is_mel = truth == mel
    per_class = {
        c: float(np.mean(probs[truth == i].argmax(1) == i))
        for i, c in enumerate(classes)
        if (truth == i).any()
    }
    aucs = [fit.roc_auc(probs[:, i], truth == i) for i in range(len(classes)) if (truth == i).any()]
    by_source = {}
    for s in np.unique(sources):
        m = sources == s
        if (is_mel[m]).any() and (~is_mel[m]).any():
            by_source[str(s)] = {
                "images": int(m.sum()),
                "melanomas": int(is_mel[m].sum()),
                "sensitivity": float(alert[m & is_mel].mean()),
                "specificity": float((~alert[m & ~is_mel]).mean()),
                "roc_auc": fit.roc_auc(probs[m, mel], is_mel[m]),
            }
    return {
        "images": int(len(truth)),
        "accuracy": float(np.mean(probs.argmax(1) == truth)),
        "balanced_accuracy": float(np.mean(list(per_class.values()))),
        "melanoma_sensitivity": float(alert[is_mel].mean()),
        "melanoma_specificity": float((~alert[~is_mel]).mean()),
        "melanoma_roc_auc": fit.roc_auc(probs[:, mel], is_mel),
        "macro_roc_auc": float(np.mean(aucs)),
        "ece_after_temperature": expected_calibration_error(probs, truth),
        "per_class_recall": per_class,
        "melanoma_by_source": by_source,
    }


def recaptured_rows(rows_path: Path, n: int) -> np.ndarray:
    """``(draws, n, channels)``: the pooled features of random re-captures of every row
    (``benchmarks.recapture_features``, beside the rows), NaN where a row has none."""
    from benchmarks.recapture_features import NAME

    path = rows_path.with_name(NAME)
    if not path.is_file():
        raise SystemExit(f"{path} is missing: run python -m benchmarks.recapture_features")
    with np.load(path, allow_pickle=False) as z:
        draws, index = z["draws"], z["draw_index"]
    out = np.full((draws.shape[0], n, draws.shape[2]), np.nan)
    out[:, index] = draws
    return out


def _with_copies(train: fit.Data, copies: np.ndarray) -> fit.Data:
    """``train`` with the re-captured copies of its images (``fit.Data.copies``)."""
    if np.isnan(copies).any():
        raise SystemExit("some fitting images have no re-captured copy")
    return fit.Data(train.x, train.allowed, train.groups, copies)


def refit(
    rows: dict[str, Any],
    classes: tuple[str, ...],
    network: LinearHead,
    holdout: str | None = None,
    copies: np.ndarray | None = None,
) -> dict:
    """The recipe: refit on the training side (without ``holdout``), blend with the network's
    head, temperature and threshold of each on validation; figures on the internal test split
    and, with ``holdout``, on that origin. With ``copies`` (:func:`recaptured_rows`) the head
    is also fitted on re-captured copies of its images (``benchmarks.recapture_head``)."""
    mel = classes.index("melanoma")
    derm = rows["origins"] != CLINICAL
    held_ids = set(rows["isic"][np.isin(rows["part"], ["val", "internal_test", "excluded"])])
    if holdout:
        held_ids |= set(rows["isic"][rows["origins"] == holdout])
    fit_rows = derm & (rows["part"] == "fit") & ~np.isin(rows["isic"], list(held_ids))
    allowed = np.array([[c in a for c in classes] for a in rows["allows"]], dtype=bool)
    fit_rows &= allowed.any(axis=1)
    groups = _components(rows["groups"].astype(str), rows["isic"].astype(str))
    train = fit.Data(rows["pooled"][fit_rows], allowed[fit_rows], groups[fit_rows])
    if copies is not None:
        train = _with_copies(train, copies[:, fit_rows])
    base = fit.Base(np.zeros((train.x.shape[1], len(classes))), np.zeros(len(classes)), 1.0)
    choice = fit.choose(train, base, mel, FOLDS, penalties=PENALTIES)
    refitted = fit.fit_head(train, base, choice.penalty, np.ones(len(classes), dtype=bool))
    idx = {c: i for i, c in enumerate(classes)}
    val = (rows["part"] == "val") & (rows["origins"] != holdout)
    test = (rows["part"] == "internal_test") & (rows["origins"] != holdout)
    y_val = np.array([idx[c] for c in rows["split_class"][val]])
    y_test = np.array([idx[c] for c in rows["split_class"][test]])
    sources = np.array(
        [o if o in ("isic-9class", "isic2017") else "ham10000" for o in rows["origins"][test]]
    )
    out: dict[str, Any] = {"penalty": choice.penalty, "fit_images": int(fit_rows.sum())}
    out["recaptured_copies"] = 0 if copies is None else len(copies)
    for name, head in (
        ("network", network),
        ("refit", refitted),
        ("blend", blend(network, refitted)),
    ):
        if name != "network":  # the network keeps its own temperature
            stored = LinearHead.from_dict(head.to_dict(), *head.weights.shape)  # as in the card
            t = fit.fit_temperature(
                stored.logits(rows["pooled"][val]), np.eye(len(classes), dtype=bool)[y_val]
            )
            head = LinearHead(stored.weights, stored.bias, t)
        p_val = head.probabilities(rows["pooled"][val])
        threshold = fit.threshold_for_sensitivity(p_val[:, mel], y_val == mel, 0.9)
        val_alert = fit.alerts(p_val, mel, threshold)
        entry = {
            "head": head,
            "threshold": threshold,
            "validation": {
                "images": int(val.sum()),
                "sensitivity": float(val_alert[y_val == mel].mean()),
                "specificity": float((~val_alert[y_val != mel]).mean()),
            },
            "test": metrics(
                head.probabilities(rows["pooled"][test]), y_test, sources, classes, mel, threshold
            ),
        }
        if holdout:
            ho = derm & (rows["origins"] == holdout) & allowed.any(axis=1)
            p = head.probabilities(rows["pooled"][ho])
            f = fit.figures(p, allowed[ho], mel, threshold)
            single = allowed[ho].sum(axis=1) == 1
            is_mel = allowed[ho][:, mel] & single  # as fit.figures counts melanomas
            entry["holdout"] = f.to_dict() | {
                "origin": holdout,
                "specificity_at_sensitivity_0.90": round(
                    fit.specificity_at_sensitivity(p[:, mel], is_mel, 0.90), 4
                ),
                "accuracy": round(
                    float(np.mean(p[single].argmax(1) == allowed[ho][single].argmax(1))), 4
                ),
                "operating_points": points_on_holdout(p_val, y_val, p, allowed[ho], classes),
            }
        out[name] = entry
    return out


def blend(network: LinearHead, refit: LinearHead) -> LinearHead:
    """One linear head whose logits are the mean of the two heads' calibrated logits."""
    w = (network.weights / network.temperature + refit.weights / refit.temperature) / 2
    b = (network.bias / network.temperature + refit.bias / refit.temperature) / 2
    return LinearHead(w, b, 1.0)


def network_head(model: str) -> tuple[LinearHead, float]:
    """The network's own last layer and alert threshold, from the card beside ``model``: its
    ``head.network`` once a refitted head ships (the card's ``cam`` is then that head, and a
    "blend" of it with a refit would be the refit again), else its ``cam``."""
    from desktop.card import load_card

    card = load_card(card_path_for(model))
    net = (card.raw.get("head") or {}).get("network")
    if isinstance(net, dict):
        w, b = np.asarray(net["weights"]), np.asarray(net["bias"])
        return LinearHead(w, b, float(net["temperature"])), float(net["melanoma_threshold"])
    head = LinearHead(np.asarray(card.cam_weights), np.asarray(card.cam_bias), card.temperature)
    return head, card.melanoma_threshold


OUT = Path(__file__).resolve().parent / "refit_head.json"
SCALARS = (
    "images",
    "accuracy",
    "balanced_accuracy",
    "melanoma_sensitivity",
    "melanoma_specificity",
    "melanoma_roc_auc",
    "macro_roc_auc",
    "ece_after_temperature",
)


def summary(r: dict[str, Any]) -> dict[str, Any]:
    """What the JSON keeps of one recipe run: per head, validation, test and held-out figures."""
    out: dict[str, Any] = {"penalty": r["penalty"], "fit_images": r["fit_images"]}
    out["recaptured_copies"] = r.get("recaptured_copies", 0)
    for name in ("network", "refit", "blend"):
        e = r[name]
        out[name] = {
            "threshold": round(float(e["threshold"]), 5),
            "validation": e["validation"],
            "internal_test": {k: round(float(e["test"][k]), 4) for k in SCALARS},
        } | ({"holdout": e["holdout"]} if "holdout" in e else {})
    return out


def recipe_of(model: str | Path) -> dict[str, Any]:
    """The training recipe of ``model``, from its card's config (:func:`trainer.config.recipe`)."""
    return recipe(json.loads(card_path_for(model).read_text()).get("config") or {})


NETWORK_DIR = Path(__file__).resolve().parent.parent / "runs" / "network"


def network_model(card_path: Path | None = None, out: Path = NETWORK_DIR) -> Path:
    """The shipped backbone with the network's own last layer (kept in the card as
    ``head.network``, or the card itself before a head was refitted on it): the model that never
    saw isic2020, for measuring on it honestly."""
    import shutil

    from desktop.card import load_card

    card_path = card_path or Path(__file__).resolve().parent.parent / "assets" / "model.json"
    card = json.loads(card_path.read_text())
    net = (card.get("head") or {}).get("network")
    if net is None and card.get("head"):
        raise SystemExit(f"{card_path.name} keeps no network head (head.network)")
    out.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(card_path.with_name("model.tflite"), out / "model.tflite")
    copy_beside(card, card_path.parent, out)
    for key in ("head", "integrity"):
        card.pop(key, None)
    if net is not None:  # else the card is the export's, whose head is the network's own
        card["cam"] = {"weights": net["weights"], "bias": net["bias"]}
        card["calibration"] = {
            "method": "the network's own temperature",
            "temperature": net["temperature"],
        }
        card["alert"] = {"melanoma_threshold": net["melanoma_threshold"], "target_sensitivity": 0.9}
    card["model_version"] = card["model_version"] + "-network-head"
    (out / "model.json").write_text(json.dumps(card, indent=2) + "\n")
    load_card(out / "model.json")
    return out / "model.tflite"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows")
    ap.add_argument("--split")
    ap.add_argument("--model", default="assets/model.tflite", help="the model of the rows")
    ap.add_argument("--holdout", help="an origin to hold out of the head's fit and score on")
    ap.add_argument("--write-card", action="store_true", help="ship the head into --model's card")
    ap.add_argument("--ship", default="blend", choices=("refit", "blend"))
    ap.add_argument(
        "--recaptured",
        action="store_true",
        help="fit also on re-captured copies (recaptures.npz beside --rows)",
    )
    ap.add_argument(
        "--network-model",
        action="store_true",
        help="only write runs/network (the shipped backbone with its network head)",
    )
    ap.add_argument(
        "--update-out-of-source",
        action="store_true",
        help="only rewrite --model's card's out-of-source figures from the held-out refits "
        "stored so far (then seal it again: python -m desktop.seal --seal MODEL)",
    )
    args = ap.parse_args(argv)
    done = json.loads(OUT.read_text()) if OUT.is_file() else {}
    held = {k: v for k, v in done.items() if k != "shipped"}
    if args.update_out_of_source:
        if not update_out_of_source(card_path_for(args.model), held):
            raise SystemExit("no held-out refit of the card's own recipe: nothing written")
        return 0
    if args.network_model:
        print(network_model())
        return 0
    rows = load(Path(args.rows), Path(args.split))
    classes = tuple(str(c) for c in rows["classes"])
    network, _ = network_head(args.model)
    copies = recaptured_rows(Path(args.rows), len(rows["labels"])) if args.recaptured else None
    r = refit(rows, classes, network, args.holdout, copies)
    key = args.holdout or "shipped"
    done[key] = summary(r) | {
        "rows": args.rows,
        "model": args.model,
        "recipe": recipe_of(args.model),
    }
    OUT.write_text(json.dumps(done, indent=1, default=float) + "\n")
    print(json.dumps(done[key], indent=1, default=float), file=sys.stderr)
    if args.write_card:
        held = {k: v for k, v in done.items() if k != "shipped"}
        write_card(card_path_for(args.model), r, args.ship, held)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
