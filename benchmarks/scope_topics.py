"""What the "is this dermoscopy" decision lets through: clinical photos by topic, pictures by kind.

The decision's refusal rate for clinical photos is one figure over every topic of the photos.
A GP's phone photo of a mole is not an acne photo: photos of the lesions a dermatoscope is used on
(naevi, melanomas, skin cancers, other skin tumours) look most like dermoscopy, and are the ones
whose verdict would mislead. This splits the out-of-fold figures of ``python -m benchmarks.scope``
(its ``--scores`` file: each clinical photo scored by a decision and a limit fitted without its
topic's fold) by topic, and the non-skin pictures by kind (text, charts, natural photos...),
reading nothing new and fitting nothing.

    python -m benchmarks.scope --rows runs/features/shipped/rows.npz --scores \\
        runs/features/shipped/scope_scores.npz
    python -m benchmarks.scope_topics --rows runs/features/shipped/rows.npz \\
        --scores runs/features/shipped/scope_scores.npz
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks.common import without_root, write_result
from benchmarks.report import share
from benchmarks.scope import DEFAULT_ROWS, ROOT, SHIPPED_INPUTS, familiar_block
from benchmarks.scope_sides import CLINICAL, PICTURE, load_rows
from benchmarks.scope_tables import negatives_table
from desktop.inference import Classifier
from desktop.scope import ScopeModel

DEFAULT_SCORES = DEFAULT_ROWS.parent / "scope_scores.npz"
DEFAULT_OUT = ROOT / "benchmarks" / "scope_topics.json"
COMMAND = (
    "python -m benchmarks.scope_topics --rows runs/features/shipped/rows.npz "
    "--scores runs/features/shipped/scope_scores.npz"
)
LESIONS = "lesions a dermatoscope is used on"
OTHERS = "every other topic"
# The clinical-photos topics (labels.csv) of lesions a dermatoscope is used on: melanocytic
# lesions, skin cancers and pre-cancers, and the other tumours of the nine classes' kind. Named
# one by one (no keyword match: "keratosis pilaris" is not a lesion to look at through one).
LESION_TOPICS = frozenset(
    {
        "Melanocytic naevus",
        "Atypical melanocytic naevus",
        "Halo naevus",
        "Blue nevus",
        "Meyerson naevus",
        "Melanoma",
        "Melanoma in situ",
        "Amelanotic melanoma",
        "Acral lentiginous melanoma",
        "Metastatic melanoma",
        "Melanonychia",
        "Solar lentigo",
        "Basal cell carcinoma",
        "Squamous cell carcinoma",
        "Actinic keratosis",
        "Cutaneous horn",
        "Sebaceous carcinoma",
        "Atypical fibroxanthoma",
        "Kaposi sarcoma",
        "Dermatofibroma",
        "Cherry angioma",
        "Pyogenic granuloma",
        "Venous lake",
    }
)
MIN_TOPIC = 10  # topics with fewer photos are too small to list on their own
LISTED = 8  # the least refused topics listed


def topic_of(group: str) -> str:
    """The topic of a clinical photo's group (``clinical-photos:<topic>``)."""
    return group.split(":", 1)[1] if ":" in group else group


def by_topic(rows: Path, scores: Path, model: Path) -> dict[str, Any]:
    """The out-of-fold figures of the clinical photos per topic family and per topic."""
    clf = Classifier(model)
    s = load_rows(rows, clf.card, SHIPPED_INPUTS)
    with np.load(scores, allow_pickle=False) as z:
        n = len(s.y)
        origin = z["origin"].astype(str)
        if len(origin) < n or not np.array_equal(origin[:n], s.origin):
            raise ValueError(f"{scores} was not scored on {rows} (rows differ)")
        oof = {k: z[k][:n] for k in ("score", "threshold", "caution")}
        pixels = z["pixels"][:n].astype(bool)
        pictures = picture_kinds(origin, z["score"], z["threshold"], z["pixels"].astype(bool))
    familiar = familiar_block(clf.card.raw)
    fam = ScopeModel.from_dict(familiar) if familiar is not None else None
    clinical = s.origin == CLINICAL
    topics = np.array([topic_of(g) for g in s.group.astype(str)])

    def table(labels: np.ndarray) -> dict[str, Any]:
        relabelled = replace(s, origin=np.where(clinical, labels, s.origin))
        out = negatives_table(relabelled, oof, pixels, fam)
        out.pop(CLINICAL, None)
        out.pop("pictures", None)
        return out

    family = np.where(np.isin(topics, sorted(LESION_TOPICS)), LESIONS, OTHERS)
    per_topic = table(topics)
    big = {t: e for t, e in per_topic.items() if e["images"] >= MIN_TOPIC}
    least = sorted(big, key=lambda t: (big[t]["refused"], t))[:LISTED]
    return {
        "model": clf.model_name,
        "rows": without_root(str(rows.resolve())),
        "clinical_photos": int(clinical.sum()),
        "families": table(family),
        "lesion_topics": sorted(set(topics[clinical].tolist()) & LESION_TOPICS),
        "least_refused_topics": {t: big[t] for t in least},
        "topics_listed_from": len(big),
        "pictures": pictures,
    }


def picture_kinds(
    origin: np.ndarray, score: np.ndarray, threshold: np.ndarray, pixels: np.ndarray
) -> dict[str, dict[str, Any]]:
    """The non-skin pictures' out-of-fold refusals per kind (``picture:<kind>``), least refused
    first: by the decision or by pixels and quality, and by pixels and quality alone."""
    out = {}
    for kind in sorted({o for o in origin.tolist() if o.startswith(PICTURE)}):
        m = origin == kind
        refused = (score[m] < threshold[m]) | pixels[m]
        out[kind.removeprefix(PICTURE)] = {
            "images": int(m.sum()),
            "refused": float(refused.mean()),
            "refused_by_pixels_or_quality": float(pixels[m].mean()),
        }
    return dict(sorted(out.items(), key=lambda kv: (kv[1]["refused"], kv[0])))


def markdown(r: dict[str, Any]) -> str:
    """The families and the least refused topics, as docs/scope.md shows them."""
    lines = [
        "| clinical photos, out-of-fold | photos | refused | assessed with a caution | no melanoma alert |",
        "|---|---|---|---|---|",
    ]
    rows = [*r["families"].items(), *r["least_refused_topics"].items()]
    for i, (k, e) in enumerate(rows):
        name = k if i < len(r["families"]) else f"topic: {k}"
        lines.append(
            f"| {name} | {e['images']:,} | {share(e['refused'])} | "
            f"{share(e['assessed_with_caution'])} | {share(e['no_alert'])} |"
        )
    lines += [
        "",
        f"The topics listed are the {len(r['least_refused_topics'])} least refused of the "
        f'{r["topics_listed_from"]} with at least {MIN_TOPIC} photos. "{LESIONS.capitalize()}": '
        f"{', '.join(r['lesion_topics'])}.",
    ]
    if r.get("pictures"):
        lines += [
            "",
            "| non-skin pictures, out-of-fold, by kind | pictures | refused | refused by pixels or "
            "quality alone |",
            "|---|---|---|---|",
        ]
        lines += [
            f"| {k} | {e['images']:,} | {share(e['refused'])} | {share(e['refused_by_pixels_or_quality'])} |"
            for k, e in r["pictures"].items()
        ]
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=Path, default=DEFAULT_ROWS)
    parser.add_argument("--scores", type=Path, default=DEFAULT_SCORES, help="scope --scores file")
    parser.add_argument("--model", type=Path, default=ROOT / "assets" / "model.tflite")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    args = parser.parse_args(argv)
    res = by_topic(args.rows, args.scores, args.model)
    write_result(args.out, __doc__.splitlines()[0], COMMAND, res, markdown(res))
    return 0


if __name__ == "__main__":
    sys.exit(main())
