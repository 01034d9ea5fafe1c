"""Is this a dermoscopy image? The two-sided decision: fitted, thresholded, measured.

Positives: every dermoscopy origin of the data sources (the four HAM10000 clinics, ISIC
9-class, ISIC 2017, ISIC 2020). Negatives: the 2,000 clinical photos of skin disease, two
square close-up crops of each (``scope_sides.close_up_rows``), and the non-skin pictures of
:mod:`benchmarks.pictures`. The decision reads each image's descriptor: per channel of the
model's feature map, its mean, maximum, spread and centre, averaged over the test-time views
(``desktop.descriptor.describe``; ``benchmarks.origin_features`` extracts them). ``--inputs mean``
fits the decision on the mean alone, as it was before it read the spatial statistics.

* The limit comes from leave-one-origin-out: each dermoscopy origin in turn is left out of
  the fit (with any image of the same name elsewhere), and the limit must keep at least
  99 % of that origin's images and of its melanomas assessable; the lowest such limit over
  the seven origins, less a margin, is the card's threshold. The final decision is fitted
  on everything.
* The refusal rates of the negatives are out-of-fold: clinical topics and picture
  categories are split into groups that are left out together, and each group is scored by
  a decision (and a limit, chosen the same way) fitted without it.
* The one-sided distance of the old scope is kept as a caution ("unlike the images the
  model learnt from"), together with a caution band just above the refusal.
* Image quality: a sample of real images per origin is loaded and measured against the
  limits of :mod:`desktop.quality` (target: at least 99.5 % pass).

    python -m benchmarks.origin_features --model assets/model.tflite --out runs/features/shipped
    python -m benchmarks.scope --rows runs/features/shipped/rows.npz [--write-card assets/model.json]

writes ``benchmarks/scope.json`` (the figures of ``docs/scope.md``) and, with
``--write-card``, the fitted block into that card's ``scope`` key (nothing else changes).
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks.common import write_card_block
from benchmarks.origin_features import clinical_photos, rows_for
from benchmarks.pictures import Named, ordinary_pictures
from benchmarks.scope_fit import METHOD, fitter
from benchmarks.scope_quality import QUALITY_SAMPLE, measure_quality, sample_paths
from benchmarks.scope_sides import (
    CLINICAL,
    FOLDS,
    INPUTS,
    MARGIN,
    MARKED_PER_ORIGIN,
    Sides,
    close_up_rows,
    fit_two_sided,
    join,
    load_rows,
    marked_rows,
    out_of_fold,
    picture_rows,
)
from benchmarks.scope_tables import (
    dermoscopy_table,
    format_table,
    frontier,
    negatives_table,
    targets,
)
from desktop.descriptor import GENERAL_INPUTS
from desktop.descriptor import INPUTS as INPUTS_READ
from desktop.inference import Classifier
from desktop.scope import TWO_SIDED_METHODS, ScopeModel

# What tests and scripts use from here; the rest lives in scope_sides, scope_quality, scope_tables.
__all__ = [
    "CLINICAL",
    "MARGIN",
    "Sides",
    "benchmark",
    "fit_two_sided",
    "fitter",
    "format_table",
    "main",
    "measure_quality",
    "out_of_fold",
    "write_card",
]

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_OUT = Path(__file__).resolve().parent / "scope.json"
DEFAULT_ROWS = ROOT / "runs" / "features" / "shipped" / "rows.npz"
DATA = ROOT.parent / "shared" / "data"
TRANSFORM = "sqrt"
# What the shipped decision reads (docs/scope.md): the lesion model's descriptor and the general
# network's features. The functions' own default stays the lesion model alone (INPUTS), which
# needs no general network; the command's is the shipped one, so `make scope` refits what ships.
SHIPPED_INPUTS = "mean+spatial+general"


def familiar_block(card_raw: dict[str, Any]) -> dict[str, Any] | None:
    """The one-sided distance block: the card's old scope, or its two-sided scope's own."""
    block = card_raw.get("scope")
    if not isinstance(block, dict):
        return None
    return block.get("familiar") if block.get("method") in TWO_SIDED_METHODS else block


def _shown(path: Path) -> str:
    try:
        return str(Path(path).resolve().relative_to(ROOT))
    except ValueError:
        return Path(path).name


def every_side(
    clf: Classifier,
    rows: Path,
    data: Path | None = DATA,
    pictures: Sequence[Named] | None = None,
    per_origin: int = QUALITY_SAMPLE,
    inputs: str = INPUTS,
    marks: int = MARKED_PER_ORIGIN,
) -> tuple[Sides, np.ndarray, dict[str, Any] | None]:
    """Every row of the fit (dermoscopy, clinical photos, pictures, and with ``data`` the
    marked copies of ``marks`` images per origin and the close-up crops), whether pixels or
    image quality refuse each, and the quality figures."""
    derm_clin = load_rows(rows, clf.card, inputs, _general_rows(clf, rows, inputs, data))
    pics, pic_refused = picture_rows(
        clf, ordinary_pictures() if pictures is None else pictures, inputs
    )
    s = join(derm_clin, pics)
    pixels = np.concatenate([np.zeros(len(derm_clin.y), bool), pic_refused])
    q = None
    if data is not None and Path(data).is_dir():
        derm = [(path, o) for path, _label, o, _group in rows_for(Path(data)) if o != CLINICAL]
        copies = marked_rows(clf, derm, marks, inputs=inputs)
        if len(copies.y):
            s = join(s, copies)
            pixels = np.concatenate([pixels, np.zeros(len(copies.y), bool)])
        q, clinical = measure_quality(sample_paths(Path(data), per_origin), clf.card.preprocessing)
        clin = s.origin == CLINICAL
        pixels[clin] = [clinical.get(n, False) for n in s.name[clin]]
        close_ups = close_up_rows(clf, clinical_photos(Path(data)), inputs=inputs)
        if len(close_ups.y):
            s = join(s, close_ups)
            pixels = np.concatenate([pixels, np.zeros(len(close_ups.y), bool)])
    return s, pixels, q


def _general_rows(clf: Classifier, rows: Path, inputs: str, data: Path | None) -> np.ndarray | None:
    """The card's general network's features of the rows, when the decision reads them and the
    rows were extracted without them (``benchmarks.scope_general.extract``, cached)."""
    if inputs not in GENERAL_INPUTS or clf.general is None:
        return None
    with np.load(rows, allow_pickle=False) as z:
        if "general" in z.files and str(z["general_sha256"]) == clf.general.spec.sha256:
            return None  # extracted through this card's general network already
    if data is None:
        raise ValueError("the general network's features need the data folders (--data)")
    from benchmarks.scope_general import extract

    return extract(rows_for(Path(data)), clf.card, {clf.general.spec.size: clf.general})[
        clf.general.spec.size
    ]


def benchmark(
    rows: Path,
    model: Path,
    *,
    data: Path | None = DATA,
    pictures: Sequence[Named] | None = None,
    per_origin: int = QUALITY_SAMPLE,
    method: str = METHOD,
    inputs: str = INPUTS,
    scores_out: Path | None = None,
) -> tuple[dict[str, Any], dict[str, Any]]:
    """(result, fitted block). ``data=None`` skips loading real images (no quality figures;
    clinical photos then count as refused by the decision alone); ``scores_out``: also save
    every out-of-fold and held-out score there (.npz)."""
    clf = Classifier(model)
    card = clf.card
    s, pixels, q = every_side(clf, rows, data, pictures, per_origin, inputs)
    familiar = familiar_block(card.raw)
    fit, settings = fitter(method, TRANSFORM)
    general = card.general.features if card.general is not None else 0
    block, scores, per = fit_two_sided(s, familiar, fit, settings, inputs, general)
    fam = ScopeModel.from_dict(familiar) if familiar is not None else None
    oof = out_of_fold(s, fit)
    if scores_out is not None:  # for a look at other limits or a gate without fitting again
        np.savez_compressed(
            scores_out,
            origin=s.origin,
            pixels=pixels,
            **oof,
            **{f"held:{o}": v for o, v in scores.items()},
        )
    res: dict[str, Any] = {
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": platform.machine(),
        "model": clf.model_name,
        "rows": _shown(rows),
        "decision": {
            k: block[k]
            for k in (
                "method",
                "inputs",
                "transform",
                "threshold",
                "caution",
                "held_out_assessable_rate",
            )
        }
        | settings
        | {"margin": MARGIN, "folds": FOLDS},
        "dermoscopy": dermoscopy_table(s, block, scores, per),
        "negatives": negatives_table(s, oof, pixels, fam),
        "frontier": frontier(s, oof, pixels, scores, block["threshold"]),
        "quality": q,
    }
    res["targets"] = targets(res)
    clinical_refused = res["negatives"].get(CLINICAL, {}).get("refused")
    if clinical_refused is not None:  # the model-card text says how far the refusal reaches
        block["clinical_photos_refused"] = clinical_refused
    return res, block


def write_card(card_path: Path, block: dict[str, Any]) -> None:
    """Replace only the card's ``scope`` key (:func:`benchmarks.common.write_card_block`)."""
    write_card_block(card_path, ("scope",), block)


def rows_arguments(parser: argparse.ArgumentParser, out: Path) -> None:
    """The arguments every scope fit takes: its rows, the model, the data root, the result."""
    parser.add_argument("--rows", type=Path, default=DEFAULT_ROWS, help="origin_features rows.npz")
    parser.add_argument("--model", type=Path, default=ROOT / "assets" / "model.tflite")
    parser.add_argument("--data", type=Path, default=DATA, help="data root (close-ups, quality)")
    parser.add_argument("--out", type=Path, default=out, help="JSON result file")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    rows_arguments(parser, DEFAULT_OUT)
    parser.add_argument("--per-origin", type=int, default=QUALITY_SAMPLE)
    parser.add_argument("--write-card", type=Path, help="write the fitted block into this card")
    parser.add_argument("--method", choices=TWO_SIDED_METHODS, default=METHOD)
    parser.add_argument(
        "--inputs",
        choices=tuple(INPUTS_READ),
        default=SHIPPED_INPUTS,
        help=f"what the decision reads (default: the shipped card's, {SHIPPED_INPUTS})",
    )
    parser.add_argument("--scores", type=Path, help="also save every score here (.npz)")
    args = parser.parse_args(argv)
    res, block = benchmark(
        args.rows,
        args.model,
        data=args.data,
        per_origin=args.per_origin,
        method=args.method,
        inputs=args.inputs,
        scores_out=args.scores,
    )
    args.out.write_text(json.dumps(res, indent=2) + "\n", encoding="utf-8")
    if args.write_card:
        write_card(args.write_card, block)
    print(format_table(res))
    return 0 if all(t["pass"] for t in res["targets"]) else 1


if __name__ == "__main__":
    sys.exit(main())
