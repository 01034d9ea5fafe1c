"""Why the pooled model reads the seed data set (isic-9class) worse than the small CNN that
learnt from it alone: its class shares, its own pixels, or the origin itself.

Everything here is scored on images the model never trained on: the run trained with
isic-9class held out (``runs/holdout-isic-9class``, with every other copy of its lesions held
out too) and that run's view-averaged probabilities (``benchmarks.origin_features``), and the
shipped model on lesions of its internal test split. Four questions:

1. **As it is:** accuracy, balanced accuracy, melanoma ROC AUC, recall per class, and where
   isic-9class's melanomas go.
2. **Class shares.** isic-9class has few nevi (16 %), the pooled training many. The same
   probabilities re-weighted to isic-9class's class shares, two ways: estimated from the
   unlabelled images alone (EM, Saerens et al. 2002: what a clinic could do without labels),
   and the oracle that uses isic-9class's own label counts (an upper bound on what shares
   can explain, not a figure to ship).
3. **Its own pixels.** 1,738 isic-9class images are copies of HAM10000 or ISIC 2017 images
   (same ISIC id, other size and compression; HAM10000's 4:3 photos squeezed into 180 x 180
   squares). Accuracy on each copy of the same lesions, both held out: if the other source's
   copy reads much better, the seed's pixels carry part of the loss; the seed's copy
   stretched back to 4:3 says how much of that is the squeezing.
4. **In source.** The shipped model on isic-9class's copies of lesions in its internal test
   split (every copy of them stayed out of training): the seed's look when the classes were
   learnt, against the copy the split kept. Also per backbone with the network's own head
   (:data:`BACKBONES`): does a candidate recipe read the seed's look better in source?

    python -m benchmarks.seed_source          # writes benchmarks/seed_source.json
"""

from __future__ import annotations

import argparse
import json
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks.common import load_arrays
from desktop.adapt import fit
from desktop.labelled.labels import MELANOMA

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "benchmarks" / "seed_source.json"
SEED = "isic-9class"
# The runs compared (recipe -> run folder, rows of its features): the shipped recipe, and the
# same with the zoom free to change the aspect ratio (isic-9class squeezes 4:3 photos square).
RUNS = {
    "shipped recipe": f"holdout-{SEED}",
    "with --stretch 0.25": f"holdout-{SEED}-stretch",
}
COMMAND = "python -m benchmarks.seed_source"
EM_STEPS = 100


def em_priors(probs: np.ndarray, train_prior: np.ndarray, steps: int = EM_STEPS) -> np.ndarray:
    """Class shares of unlabelled images by expectation-maximisation on the model's own
    probabilities (Saerens, Latinne & Decaestecker 2002); ``train_prior`` is the share the
    probabilities assume."""
    prior = train_prior.copy()
    for _ in range(steps):
        adjusted = reweighted(probs, train_prior, prior)
        new = adjusted.mean(axis=0)
        if np.max(np.abs(new - prior)) < 1e-8:
            break
        prior = new
    return prior


def reweighted(probs: np.ndarray, train_prior: np.ndarray, prior: np.ndarray) -> np.ndarray:
    """Bayes' rule for a change of class shares: p'(c|x) is proportional to p(c|x) q(c)/p(c)."""
    w = probs * (prior / np.maximum(train_prior, 1e-12))
    return w / w.sum(axis=1, keepdims=True)


def scores(probs: np.ndarray, truth: np.ndarray, classes: tuple[str, ...]) -> dict[str, Any]:
    """Accuracy, balanced accuracy, melanoma ROC AUC and recall per class (single labels)."""
    mel = classes.index(MELANOMA)
    pred = probs.argmax(axis=1)
    recall = {
        c: float(np.mean(pred[truth == i] == i))
        for i, c in enumerate(classes)
        if (truth == i).any()
    }
    to = np.bincount(pred[truth == mel], minlength=len(classes)) / max((truth == mel).sum(), 1)
    return {
        "images": int(len(truth)),
        "accuracy": round(float(np.mean(pred == truth)), 4),
        "balanced_accuracy": round(float(np.mean(list(recall.values()))), 4),
        "melanoma_roc_auc": round(fit.roc_auc(probs[:, mel], truth == mel), 4),
        "recall": {c: round(r, 4) for c, r in recall.items()},
        "melanomas_called": {c: round(float(v), 4) for c, v in zip(classes, to, strict=True) if v},
    }


def _isic(names: np.ndarray) -> np.ndarray:
    from desktop.labelled.dataset import isic_id

    return np.array([isic_id(str(n)) or "" for n in names])


def copies(
    z: dict[str, np.ndarray], classes: tuple[str, ...], unsqueeze: Any = None
) -> dict[str, Any]:
    """Accuracy on the seed's copy and on the other source's copy of the same images (same
    single label on both; each image counted once per other source). ``unsqueeze(rows)``,
    when given, returns the probabilities of those seed copies stretched back to 4:3 (the
    shape of HAM10000's photos) for the HAM10000 pairs."""
    idx = {c: i for i, c in enumerate(classes)}
    ids = _isic(z["names"])
    seed = (z["origins"] == SEED) & (ids != "")
    by_id = {i: k for k, i in enumerate(ids) if seed[k]}
    out: dict[str, Any] = {}
    pairs: dict[str, list[tuple[int, int]]] = {}
    for k, (i, o) in enumerate(zip(ids, z["origins"], strict=True)):
        s = by_id.get(i)
        if s is None or o == SEED or z["labels"][k] != z["labels"][s] or z["labels"][s] not in idx:
            continue
        key = "isic2017" if o == "isic2017" else "ham10000"
        pairs.setdefault(key, []).append((s, k))
    for source, p in sorted(pairs.items()):
        a, b = np.array(p).T
        truth = np.array([idx[str(c)] for c in z["labels"][a]])
        seed_ok = z["probabilities"][a].argmax(1) == truth
        other_ok = z["probabilities"][b].argmax(1) == truth
        out[source] = {
            "pairs": int(len(a)),
            "accuracy_seed_copy": round(float(seed_ok.mean()), 4),
            "accuracy_other_copy": round(float(other_ok.mean()), 4),
            "only_seed_copy_right": int((seed_ok & ~other_ok).sum()),
            "only_other_copy_right": int((~seed_ok & other_ok).sum()),
        }
        if unsqueeze is not None and source == "ham10000":
            back_ok = unsqueeze(a).argmax(1) == truth
            out[source]["accuracy_seed_copy_unsqueezed"] = round(float(back_ok.mean()), 4)
    return out


def unsqueezer(model: Path, paths: list[Path]) -> Any:
    """Probabilities of seed images stretched from their 1:1 square back to 4:3 and then read
    as the app reads any photo (the centre square of it): is the squeezing the loss?"""
    from PIL import Image

    from desktop.imaging import open_image, preprocess
    from desktop.inference import Classifier

    clf = Classifier(model)

    def run(rows: np.ndarray) -> np.ndarray:
        out = []
        for r in rows:
            img = open_image(paths[int(r)]).convert("RGB")
            wide = img.resize((round(img.height * 4 / 3), img.height), Image.Resampling.BICUBIC)
            out.append(clf.views(preprocess(wide, clf.card.preprocessing)).probabilities)
        return np.array(out)

    return run


def _with_copy(z: dict[str, np.ndarray]) -> int:
    """Seed images whose ISIC id another source also holds: training takes their pixels from
    the other (trusted archive's) copy."""
    ids = _isic(z["names"])
    seed = z["origins"] == SEED
    others = set(ids[~seed].tolist()) - {""}
    return int(sum(1 for i in ids[seed] if i in others))


def _unsqueezer(run: Path, rows: int) -> Any:
    """The unsqueezer of ``run``'s model over the data folders, or None without them."""
    from benchmarks.origin_features import DATA, rows_for

    if not (run / "model.tflite").is_file() or not DATA.is_dir():
        return None
    paths = [r[0] for r in rows_for(DATA)]
    return unsqueezer(run / "model.tflite", paths) if len(paths) == rows else None


def measure(rows: Path, run: Path) -> dict[str, Any]:
    z = load_arrays(rows)
    classes = tuple(str(c) for c in z["classes"])
    idx = {c: i for i, c in enumerate(classes)}
    seed = (z["origins"] == SEED) & np.isin(z["labels"], classes)
    truth = np.array([idx[str(c)] for c in z["labels"][seed]])
    probs = z["probabilities"][seed]
    # What the probabilities assume: their mean on the run's own validation split.
    split = json.loads((run / "split.json").read_text())
    val_names = {Path(r["path"]).name for r in split.get("val", [])}
    val = np.isin(z["names"], list(val_names)) & (z["origins"] != SEED)
    train_prior = z["probabilities"][val].mean(axis=0)
    shares = np.bincount(truth, minlength=len(classes)) / len(truth)
    em = em_priors(probs, train_prior)
    return {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "rows": str(rows.relative_to(ROOT)),
        "classes": list(classes),
        "class_shares": {c: round(float(v), 4) for c, v in zip(classes, shares, strict=True)},
        "assumed_shares": {
            c: round(float(v), 4) for c, v in zip(classes, train_prior, strict=True)
        },
        "em_shares": {c: round(float(v), 4) for c, v in zip(classes, em, strict=True)},
        "as_is": scores(probs, truth, classes),
        "em_reweighted": scores(reweighted(probs, train_prior, em), truth, classes),
        "oracle_reweighted": scores(reweighted(probs, train_prior, shares), truth, classes),
        "copies": copies(z, classes, _unsqueezer(run, len(z["names"]))),
        "seed_images": int((z["origins"] == SEED).sum()),
        "seed_images_with_a_copy": _with_copy(z),
    }


def markdown(r: dict[str, Any]) -> str:
    """The docs block: per recipe, three rows of scores; then the copies; then in source."""
    lines = [
        "| isic-9class held out | accuracy | balanced accuracy | melanoma ROC AUC | melanomas "
        "called nevus |",
        "|---|---|---|---|---|",
    ]
    for recipe, e in r["runs"].items():
        for key, name in (
            ("as_is", "as the model reads it"),
            ("em_reweighted", "class shares estimated from the unlabelled images (EM)"),
            ("oracle_reweighted", "isic-9class's own class shares (oracle, a bound)"),
        ):
            f = e[key]
            lines.append(
                f"| {recipe}: {name} | {f['accuracy']:.3f} | {f['balanced_accuracy']:.3f} | "
                f"{f['melanoma_roc_auc']:.3f} | {f['melanomas_called'].get('nevus', 0.0):.1%} |"
            )
    lines += [
        "",
        "| the same lesions, both copies held out | pairs | accuracy on the isic-9class copy | "
        "on it stretched back to 4:3 | on the other source's copy |",
        "|---|---|---|---|---|",
    ]
    for recipe, e in r["runs"].items():
        for source, c in e["copies"].items():
            back = c.get("accuracy_seed_copy_unsqueezed")
            lines.append(
                f"| {recipe}: isic-9class and {source} | {c['pairs']:,} | "
                f"{c['accuracy_seed_copy']:.3f} | {'n/a' if back is None else f'{back:.3f}'} | "
                f"{c['accuracy_other_copy']:.3f} |"
            )
    ins = r.get("in_source")
    if ins:
        a, b = ins["seed_copy"], ins["kept_copy"]
        lines += [
            "",
            f"In source, the shipped model on isic-9class's own copies of {ins['images']} "
            f"internal-test lesions ({ins['melanomas']} melanomas; no copy of them was trained "
            f"on): accuracy {a['accuracy']:.3f}, balanced accuracy {a['balanced_accuracy']:.3f}, "
            f"melanoma ROC AUC {a['melanoma_roc_auc']:.3f}; on the copies the split kept "
            f"{b['accuracy']:.3f} / {b['balanced_accuracy']:.3f} / {b['melanoma_roc_auc']:.3f}.",
        ]
    nets = r.get("in_source_network")
    if nets:
        lines += [
            "",
            "| in source, the network's own head: backbone | lesions (melanomas) | isic-9class's "
            "copy: accuracy / bal. acc. / melanoma AUC | the copy the split kept |",
            "|---|---|---|---|",
        ]
        for recipe, e in nets.items():
            a, b = e["seed_copy"], e["kept_copy"]
            lines.append(
                f"| {recipe} | {e['images']} ({e['melanomas']}) | {a['accuracy']:.3f} / "
                f"{a['balanced_accuracy']:.3f} / {a['melanoma_roc_auc']:.3f} | "
                f"{b['accuracy']:.3f} / {b['balanced_accuracy']:.3f} / "
                f"{b['melanoma_roc_auc']:.3f} |"
            )
    first = next(iter(r["runs"].values()))
    if "seed_images_with_a_copy" in first:
        lines += [
            "",
            f"{first['seed_images_with_a_copy']:,} of isic-9class's {first['seed_images']:,} "
            "images have a copy in another source (the same ISIC id); training takes those "
            "images' pixels from the other source's copy, or leaves them out where the copies' "
            "labels conflict.",
        ]
    lines += [
        "",
        f"Nevi are {first['class_shares'].get('nevus', 0.0):.0%} of isic-9class; the shipped "
        f"recipe's probabilities assume {first['assumed_shares'].get('nevus', 0.0):.0%} (their "
        f"mean on its validation split), and EM estimates "
        f"{first['em_shares'].get('nevus', 0.0):.0%} from the unlabelled images. Measured on "
        + ", ".join(f"`{e['rows']}` ({e['date'][:10]})" for e in r["runs"].values())
        + ".",
    ]
    return "\n".join(lines)


SHIPPED_ROWS = ROOT / "runs" / "features" / "shipped" / "rows.npz"
SHIPPED_SPLIT = ROOT / "runs" / "shipped-operating-points" / "split.json"
# Backbones trained on every source with no origin held out (recipe -> model, its feature
# rows), for the in-source check with each network's own last layer: a candidate recipe beside
# the shipped one. The trainer splits before ``--all-copies`` adds copies to the training side,
# so a run with that flag has the shipped run's split (same sources, same seed).
BACKBONES = {
    "shipped recipe": ("assets/model.tflite", "runs/features/shipped/rows.npz"),
    "--all-copies": ("runs/copies-shipped/model.tflite", "runs/features/copies-shipped/rows.npz"),
}
CANDIDATE_SPLIT = (ROOT / BACKBONES["--all-copies"][0]).parent / "split.json"


def split_file() -> Path | None:
    """The shipped run's split, or a candidate's that is the same split (:data:`BACKBONES`)."""
    return next((p for p in (SHIPPED_SPLIT, CANDIDATE_SPLIT) if p.is_file()), None)


def in_source_network(split: dict[str, Any]) -> dict[str, Any]:
    """:func:`in_source` per backbone with the network's own last layer, so the shipped blend's
    head (refitted on every source's features) does not stand between two backbones."""
    from benchmarks.refit_head import network_head
    from desktop.head import softmax

    out: dict[str, Any] = {}
    for recipe, (model, rows) in BACKBONES.items():
        if not ((ROOT / model).is_file() and (ROOT / rows).is_file()):
            continue
        z = load_arrays(ROOT / rows)
        net, _ = network_head(str(ROOT / model))
        z["probabilities"] = softmax((z["pooled"] @ net.weights + net.bias) / net.temperature)
        out[recipe] = in_source(z, split)
    return out


def in_source(z: dict[str, np.ndarray], split: dict[str, Any]) -> dict[str, Any]:
    """The shipped model on isic-9class's copies of its internal-test lesions: the seed's look,
    on lesions whose every copy stayed out of training (the split keeps an identity on one
    side), against the copy the split kept."""
    classes = [str(c) for c in z["classes"]]
    ids = _isic(z["names"])
    seed = {i: k for k, i in enumerate(ids) if z["origins"][k] == SEED and i}
    other = {i: k for k, i in enumerate(ids) if z["origins"][k] != SEED and i}
    tests = split.get("internal_test", [])
    trio = []
    for rec, m in zip(tests, _isic(np.array([Path(r["path"]).name for r in tests])), strict=True):
        if rec.get("source") != SEED and m in seed and m in other and rec["class"] in classes:
            trio.append((seed[m], other[m], classes.index(rec["class"])))
    if not trio:
        return {}
    a, b, truth = (np.array(t) for t in zip(*trio, strict=True))
    mel = classes.index(MELANOMA)
    out: dict[str, Any] = {"images": int(len(a)), "melanomas": int((truth == mel).sum())}
    for key, rows in (("seed_copy", a), ("kept_copy", b)):
        f = scores(z["probabilities"][rows], truth, tuple(classes))
        out[key] = {k: f[k] for k in ("accuracy", "balanced_accuracy", "melanoma_roc_auc")}
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.parse_args(argv)
    done = json.loads(OUT.read_text()) if OUT.is_file() else {}
    runs: dict[str, Any] = {}
    for recipe, name in RUNS.items():
        rows, run = ROOT / "runs" / "features" / name / "rows.npz", ROOT / "runs" / name
        if rows.is_file() and (run / "split.json").is_file():
            runs[recipe] = measure(rows, run)
        else:  # make experiments goes on without it, as it does for every missing run
            print(f"skipped {recipe}: needs {rows} and {run / 'split.json'}", file=sys.stderr)
    # what was measured now first; what is not here to measure again is kept as it was
    runs |= {k: v for k, v in done.get("runs", {}).items() if k not in runs}
    r = {"what": __doc__.splitlines()[0], "command": COMMAND, "runs": runs}
    split = split_file()
    if SHIPPED_ROWS.is_file() and split:
        shipped = load_arrays(SHIPPED_ROWS)
        r["in_source"] = in_source(shipped, json.loads(split.read_text()))
    elif "in_source" in done:
        r["in_source"] = done["in_source"]
    networks = in_source_network(json.loads(split.read_text())) if split else {}
    kept = {k: v for k, v in done.get("in_source_network", {}).items() if k not in networks}
    if networks or kept:
        r["in_source_network"] = networks | kept
    if runs:
        OUT.write_text(json.dumps(r, indent=1) + "\n")
        print(markdown(r))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
