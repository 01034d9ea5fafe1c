"""Where should "the image is blurred" start? Measured on the verdicts, not on the pixels.

The blur refusal (``desktop.quality.MIN_SHARPNESS``) exists so the app does not guess on a
picture it cannot judge. A limit that refuses pictures the model still judges as it judges the
sharp original only costs the clinic a re-take (and made re-takes' assessability change,
benchmarks/robustness.json). So each sampled dermoscopy image is blurred by increasing radii at
its own resolution and run through the app's classifier (every test-time view); each copy's
sharpness (the measure the limit compares) is binned, and per bin this reports how often the
copy's most likely class and melanoma alert still equal the sharp original's, the copies' accuracy
against the label and their melanoma ROC AUC, beside the same figures of the sharp originals.

Images: a seeded sample per dermoscopy origin (:func:`sample`), leaving out every image of the
robustness benchmark's sets, which measure the limit after it was set.

    python -m benchmarks.blur_limit            # writes benchmarks/blur_limit.json
    python -m benchmarks.blur_limit --write-card assets/model.json   # and quality.soft_focus

The card's ``quality.soft_focus`` holds how often copies in the caution band, and barely blurred
ones, kept the sharp original's alert: the figures the soft-focus caution quotes.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from PIL import ImageFilter

from benchmarks.common import write_card_block, write_result
from benchmarks.origin_features import CLINICAL, DATA, rows_for
from benchmarks.report import share
from desktop import quality
from desktop.adapt.fit import roc_auc
from desktop.imaging import ImageLoadError, open_image, preprocess

OUT = Path(__file__).resolve().parent / "blur_limit.json"
COMMAND = "python -m benchmarks.blur_limit"
RADII = (0.0, 0.5, 1.0, 1.5, 2.0, 3.0, 4.0)  # Gaussian blur radii in the photo's own pixels
EDGES = (0.0, 2.0, 3.0, 4.0, 5.0, 6.0, 8.0, 12.0, 20.0, float("inf"))  # sharpness bins
BARELY = EDGES[-2]  # a copy at least this sharp is "barely blurred" (the top bin)
PER_ORIGIN = 150
SEED = 7  # not the quality sample's seed (0): another draw of images
MELANOMA = "melanoma"


def sample(data: Path, per_origin: int, seed: int = SEED) -> list[tuple[Path, str, str]]:
    """(path, label, origin): ``per_origin`` seeded images of each dermoscopy origin, none of
    them in the robustness benchmark's sets (by file name)."""
    from benchmarks.robustness import sample as robustness_sample

    taken = {it.path.stem for items in robustness_sample(data, 600, 300).values() for it in items}
    by: dict[str, list[tuple[Path, str, str]]] = {}
    for path, label, origin, _group in rows_for(data):
        if origin != CLINICAL and Path(path).stem not in taken:
            by.setdefault(origin, []).append((Path(path), label, origin))
    rng = np.random.default_rng(seed)
    out = []
    for _origin, rows in sorted(by.items()):
        pick = rng.choice(len(rows), min(per_origin, len(rows)), replace=False)
        out.extend(rows[i] for i in sorted(pick))
    return out


def measure(clf: Any, rows: Sequence[tuple[Path, str, str]]) -> dict[str, np.ndarray]:
    """Per image and radius: sharpness, most likely class index and melanoma probability."""
    pre = clf.card.preprocessing
    sharp, top, mel, labels = [], [], [], []
    for i, (path, label, _origin) in enumerate(rows):
        try:
            img = open_image(path)
        except ImageLoadError:
            continue
        s, t, m = [], [], []
        for r in RADII:
            copy = img.filter(ImageFilter.GaussianBlur(r)) if r else img
            arr = preprocess(copy, pre)
            probs = clf.views(arr).probabilities
            s.append(quality.measure(copy, arr).sharpness)
            t.append(int(np.argmax(probs)))
            m.append(float(probs[clf.card.melanoma_index]))
        sharp.append(s)
        top.append(t)
        mel.append(m)
        labels.append(label)
        if (i + 1) % 100 == 0:
            print(f"  {i + 1}/{len(rows)}", file=sys.stderr, flush=True)
    return {
        "sharpness": np.array(sharp),
        "top": np.array(top),
        "melanoma": np.array(mel),
        "label": np.array(labels),
    }


def _band(sharpness: np.ndarray) -> np.ndarray:
    return (sharpness >= quality.MIN_SHARPNESS) & (sharpness < quality.SOFT_SHARPNESS)


def summarise(m: dict[str, np.ndarray], classes: Sequence[str], threshold: float) -> dict:
    """Per sharpness bin of the blurred copies (radius > 0): agreement with the sharp original,
    accuracy and melanoma AUC; and the originals' own figures."""
    label_index = np.array([classes.index(lab) if lab in classes else -1 for lab in m["label"]])
    is_mel = m["label"] == MELANOMA
    # As the app's alert (desktop.prediction): at the threshold, or melanoma most likely.
    alert = (m["melanoma"] >= threshold) | (m["top"] == list(classes).index(MELANOMA))

    def figures(rows: np.ndarray, col: np.ndarray) -> dict[str, Any]:
        top = m["top"][rows, col]
        known = label_index[rows] >= 0  # isic2020's "unknown" benign lesions name no class
        auc = roc_auc(m["melanoma"][rows, col], is_mel[rows]) if is_mel[rows].any() else None
        return {
            "copies": int(rows.size),
            "same_class": float(np.mean(top == m["top"][rows, 0])),
            "same_alert": float(np.mean(alert[rows, col] == alert[rows, 0])),
            "accuracy": float(np.mean((top == label_index[rows])[known])),
            "original_accuracy": float(np.mean((m["top"][rows, 0] == label_index[rows])[known])),
            "melanomas": int(is_mel[rows].sum()),
            "melanoma_roc_auc": None if auc is None or np.isnan(auc) else float(auc),
        }

    n = len(m["label"])
    blurred = m["sharpness"].shape[1] - 1  # every copy but the original (column 0)
    rows, cols = np.divmod(np.arange(n * blurred), blurred)
    cols = cols + 1
    s = m["sharpness"][rows, cols]
    bins = []
    for lo, hi in zip(EDGES[:-1], EDGES[1:], strict=True):
        sel = (s >= lo) & (s < hi)
        if sel.any():
            bins.append(
                {"from": lo, "to": hi if np.isfinite(hi) else None} | figures(rows[sel], cols[sel])
            )
    return {
        "images": n,
        "radii": list(RADII),
        "alert_threshold": threshold,
        "refused_under": quality.MIN_SHARPNESS,
        "caution_under": quality.SOFT_SHARPNESS,
        "originals": figures(np.arange(n), np.zeros(n, int)),
        "originals_median_sharpness": float(np.median(m["sharpness"][:, 0])),
        "originals_refused": int(np.sum(m["sharpness"][:, 0] < quality.MIN_SHARPNESS)),
        "originals_cautioned": int(np.sum(_band(m["sharpness"][:, 0]))),
        "by_radius": {
            str(r): {
                "median_sharpness": float(np.median(m["sharpness"][:, j])),
                "refused": float(np.mean(m["sharpness"][:, j] < quality.MIN_SHARPNESS)),
                "cautioned": float(np.mean(_band(m["sharpness"][:, j]))),
            }
            | figures(np.arange(n), np.full(n, j))
            for j, r in enumerate(RADII)
            if r
        },
        "by_sharpness": bins,
        "caution_band": figures(rows[_band(s)], cols[_band(s)]) if _band(s).any() else None,
        "barely_blurred": figures(rows[s >= BARELY], cols[s >= BARELY])
        if (s >= BARELY).any()
        else None,
    }


def card_block(res: dict[str, Any]) -> dict[str, Any]:
    """The card's ``quality.soft_focus`` (desktop.quality.SoftFocus): what the caution quotes."""
    band, barely = res["caution_band"], res["barely_blurred"]
    if band is None or barely is None:
        raise SystemExit("no blurred copy in the caution band or barely blurred: nothing to write")
    return {
        "soft_focus": {
            "refused_under": res["refused_under"],
            "caution_under": res["caution_under"],
            "alert_threshold": res["alert_threshold"],
            "kept_alert": round(band["same_alert"], 4),
            "kept_alert_sharp": round(barely["same_alert"], 4),
            "copies": band["copies"],
            "barely_blurred_from": BARELY,
            "measured_on": f"{res['images']} dermoscopy images blurred {len(RADII) - 1} ways, "
            f"{COMMAND}",
        }
    }


def markdown(res: dict[str, Any]) -> str:
    """The copies by sharpness bin, against their sharp originals (docs/scope.md)."""
    lines = [
        "| sharpness of the blurred copy | copies | class as the sharp photo's | alert as the sharp photo's | accuracy (the sharp photos') | melanoma ROC AUC (melanomas) |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for b in res["by_sharpness"]:
        to = "" if b["to"] is None else f"{b['to']:g}"
        auc = "" if b["melanoma_roc_auc"] is None else f"{b['melanoma_roc_auc']:.3f}"
        lines.append(
            f"| {b['from']:g}–{to} | {b['copies']:,} | {share(b['same_class'])} | "
            f"{share(b['same_alert'])} | {share(b['accuracy'])} ({share(b['original_accuracy'])}) | "
            f"{auc} ({b['melanomas']}) |"
        )
    lines += [
        "",
        f"| blur radius (photo pixels) | median sharpness | refused (under "
        f"{res['refused_under']:g}) | with the caution ({res['refused_under']:g} to "
        f"{res['caution_under']:g}) | alert as the sharp photo's | melanoma ROC AUC |",
        "|---|---:|---:|---:|---:|---:|",
        f"| none | {res['originals_median_sharpness']:.1f} | {res['originals_refused']} of "
        f"{res['images']:,} | {res['originals_cautioned']} of {res['images']:,} | | "
        f"{res['originals']['melanoma_roc_auc']:.3f} |",
    ]
    for r, v in res["by_radius"].items():
        lines.append(
            f"| {float(r):g} | {v['median_sharpness']:.1f} | {share(v['refused'])} | "
            f"{share(v['cautioned'])} | {share(v['same_alert'])} | {v['melanoma_roc_auc']:.3f} |"
        )
    return "\n".join(lines)


def _takes_it(card: Any) -> str | None:
    return (
        None if card.soft_focus else "its alert threshold or blur limits are not the ones measured"
    )


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", type=Path, default=Path("assets/model.tflite"))
    ap.add_argument("--data", type=Path, default=DATA)
    ap.add_argument("--per-origin", type=int, default=PER_ORIGIN)
    ap.add_argument("--out", type=Path, default=OUT)
    ap.add_argument("--write-card", type=Path, help="write quality.soft_focus into this card")
    args = ap.parse_args(argv)
    from desktop.inference import Classifier

    clf = Classifier(args.model)
    rows = sample(args.data, args.per_origin)
    m = measure(clf, rows)
    res = summarise(m, list(clf.card.classes), clf.card.melanoma_threshold)
    write_result(args.out, __doc__.splitlines()[0], COMMAND, res, markdown(res))
    if args.write_card:
        write_card_block(args.write_card, ("quality",), card_block(res), _takes_it)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
