"""Test-time views at a second scale: does averaging the card's eight views with eight more of
another version of the photo make the melanoma alert steadier under a re-take?

The eight shipped views (flips and quarter turns) make a mirror or a quarter turn free, but not a
smaller, cropped, blurred or re-compressed copy (``benchmarks.robustness``). Two candidate second
scales, each eight more views averaged into the pooled features the head reads:

- ``crop 0.85``: the central 85 % of the photo (a closer look, as the 85 % re-capture takes);
- ``half size``: the photo halved (Lanczos) first (a coarser look, as the half-size re-capture).

Each is scored with the card's head on a seeded sample of isic2020 (every melanoma kept), which
no backbone trained on, under every fixed re-capture (:data:`desktop.recapture.VARIANTS`). The
alert is compared at the same alert rate as the shipped eight views at the card's threshold, so
a steadier alert is not bought by alerting more or less. Twice the inference per image.

    python -m benchmarks.scale_views   # about 10 min on two cores; writes benchmarks/scale_views.json

The features are kept in ``runs/features/shipped/scale_views.npz`` (per model and sample), so a
re-run only scores.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
from collections.abc import Callable
from typing import Any

import numpy as np
from PIL import Image

from benchmarks.common import ROOT, load_arrays, write_result
from benchmarks.origin_features import DATA, rows_for
from benchmarks.refit_head import network_head
from desktop.adapt.fit import roc_auc
from desktop.head import LinearHead
from desktop.imaging import open_image, preprocess
from desktop.inference import Classifier
from desktop.recapture import VARIANTS, half_size

MODEL = ROOT / "assets" / "model.tflite"
ORIGIN = "isic2020"
SEED = 0
SHIPPED = "8 views (shipped)"


def sample(rows: list[tuple[Any, str, str, str]], size: int) -> list[tuple[Any, str, str, str]]:
    """Every melanoma of :data:`ORIGIN` and a seeded draw of the rest, ``size`` in all."""
    mine = [r for r in rows if r[2] == ORIGIN]
    mel = [r for r in mine if r[1] == "melanoma"]
    rest = [r for r in mine if r[1] != "melanoma"]
    keep = np.random.default_rng(SEED).choice(len(rest), max(0, size - len(mel)), replace=False)
    return mel + [rest[i] for i in sorted(keep)]


def pooled_sets(clf: Classifier, img: Image.Image) -> np.ndarray:
    """(3, channels): the pooled features of the card's views of ``img``, of its central 85 %,
    and of it halved."""
    pre = clf.card.preprocessing
    closer = dataclasses.replace(pre, crop=0.85 * pre.crop)
    return np.stack(
        [
            clf.views(preprocess(img, pre)).pooled,
            clf.views(preprocess(img, closer)).pooled,
            clf.views(preprocess(half_size(img), pre)).pooled,
        ]
    )


CONFIGS: dict[str, Callable[[np.ndarray], np.ndarray]] = {
    SHIPPED: lambda f: f[..., 0, :],
    "8 views + 8 of the central 85 %": lambda f: f[..., :2, :].mean(-2),
    "8 views + 8 of the photo halved": lambda f: f[..., [0, 2], :].mean(-2),
}


def extract(clf: Classifier, picked: list[tuple[Any, str, str, str]]) -> np.ndarray:
    """(images, 1 + re-captures, 3, channels): :func:`pooled_sets` of each photo and copy."""
    makes = [lambda im: im] + [v.make for v in VARIANTS.values()]
    out = []
    for n, (path, *_) in enumerate(picked):
        img = open_image(path, draft_size=None).convert("RGB")
        out.append(np.stack([pooled_sets(clf, make(img)) for make in makes]))
        if (n + 1) % 100 == 0:
            print(f"{n + 1}/{len(picked)}", file=sys.stderr, flush=True)
    return np.stack(out).astype(np.float32)


def measure(
    clf: Classifier, feats: np.ndarray, is_mel: np.ndarray, network: LinearHead
) -> dict[str, Any]:
    """Per configuration and head (the card's, and the network's own last layer): each
    re-capture's alert flips at the threshold giving the shipped views' alert rate under the
    card's head; and the network head's melanoma AUC of the photos (the card's head was fitted
    with isic2020's labels, so its AUC here would not be an out-of-source figure)."""
    mel = clf.card.melanoma_index
    heads = {"card": clf.card.head, "network": network}
    if heads["card"] is None:
        raise SystemExit("the card has no pooled-feature head to score")
    shipped = heads["card"].probabilities(feats[:, 0, 0])[:, mel]
    rate = float(np.mean(shipped >= clf.card.melanoma_threshold))
    out: dict[str, Any] = {"alert_rate": rate, "configs": {}}
    for name, pick in CONFIGS.items():
        out["configs"][name] = entry = {}
        for h, head in heads.items():
            p = np.stack(
                [head.probabilities(pick(feats[:, k]))[:, mel] for k in range(feats.shape[1])]
            )
            t = float(np.quantile(p[0], 1 - rate))
            flips = {
                k: float(np.mean((p[i + 1] >= t) != (p[0] >= t))) for i, k in enumerate(VARIANTS)
            }
            entry[h] = {
                "threshold": t,
                "alert_flips": flips,
                "mean_alert_flips": float(np.mean(list(flips.values()))),
                "worst_alert_flips": max(flips.values()),
            }
        entry["network"]["melanoma_roc_auc"] = roc_auc(
            heads["network"].probabilities(pick(feats[:, 0]))[:, mel], is_mel
        )
    return out


def _pair(h: dict[str, Any]) -> str:
    return f"{100 * h['mean_alert_flips']:.1f} % / {100 * h['worst_alert_flips']:.1f} %"


def markdown(result: dict[str, Any]) -> str:
    """One row per configuration; one column per re-capture that changes pixels."""
    moved = [k for k in VARIANTS if k not in ("mirror", "rotate_90")]
    lines = [
        "| test-time views | network head: melanoma AUC | its alert flips: mean / worst | "
        "card's head: alert flips, mean / worst | "
        + " | ".join(VARIANTS[k].description for k in moved)
        + " |",
        "|---|---|---|---|" + "---|" * len(moved),
    ]
    for name, c in result["configs"].items():
        net, card = c["network"], c["card"]
        cells = " | ".join(f"{100 * card['alert_flips'][k]:.1f} %" for k in moved)
        lines.append(
            f"| {name} | {net['melanoma_roc_auc']:.3f} | {_pair(net)} | {_pair(card)} | {cells} |"
        )
    lines += [
        "",
        f"{result['images']} {ORIGIN} images ({result['melanomas']} melanomas), the shipped "
        f"model; each head at the alert rate of the shipped views at the card's threshold "
        f"({100 * result['alert_rate']:.1f} % of the photos). Flips: mean and worst over all "
        f"{len(VARIANTS)} re-captures; per re-capture for the card's head. AUC from the network's "
        "own last layer only: the card's head was fitted with isic2020's labels.",
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--images", type=int, default=1000, help="sample size (every melanoma kept)")
    ap.add_argument("--out", default=str(ROOT / "benchmarks" / "scale_views.json"))
    args = ap.parse_args(argv)
    picked = sample(rows_for(DATA), args.images)
    if not picked:
        raise SystemExit(f"no {ORIGIN} images under {DATA}")
    clf = Classifier(str(MODEL))
    is_mel = np.array([r[1] == "melanoma" for r in picked])
    key = f"{clf.card.model_version}:{SEED}:{len(picked)}"
    cache = ROOT / "runs" / "features" / "shipped" / "scale_views.npz"
    feats = None
    if cache.is_file():
        cached = load_arrays(cache)
        feats = cached["feats"] if str(cached["key"]) == key else None
    if feats is None:
        feats = extract(clf, picked)
        cache.parent.mkdir(parents=True, exist_ok=True)
        np.savez(cache, feats=feats, key=np.array(key))
    body = {"model": clf.card.model_version, "images": len(picked), "melanomas": int(is_mel.sum())}
    body |= measure(clf, feats, is_mel, network_head(str(MODEL))[0])
    write_result(
        type(ROOT)(args.out),
        __doc__.split("\n")[0],
        "python -m benchmarks.scale_views",
        body,
        markdown(body),
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
