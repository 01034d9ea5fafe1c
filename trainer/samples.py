"""The app's sample images, drawn by a written rule from a run's internal test split.

A newcomer opens a sample and compares the answer with its known diagnosis, so a sample must be an
image the model never trained or tuned on: the internal test split of the run the shipped model
came from. The rule, written into ``samples.json`` beside the images, makes the draw repeatable:
one ``random.Random(seed)``, and for each class in the card's order that class's internal-test
images sorted by ISIC id, ``choice`` of them. Each image is centre-cropped to a square and resized
to :data:`SIDE` pixels, so the folder stays small. The draw never writes into a data folder.

    python -m trainer samples --run runs/shipped --to assets/samples
"""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any

from desktop.labelled.dataset import isic_id
from desktop.samples import MANIFEST  # the name the window reads
from trainer.run_folder import RunFolder, read_json

SIDE = 180  # pixels: a sample opens at 1:1 in the window (README, "Zoom")
SEED = 20261206
SPLIT = "internal_test"
RULE = (
    "One image for each class from the shipped run's internal test split (held out of training "
    "and tuning). random.Random(seed) with the seed below; for each class in the card's order, "
    "that class's images in the run's internal test split sorted by ISIC id, and rng.choice of "
    "them (a class with none is skipped); each centre-cropped to a square and resized to "
    f"{SIDE}x{SIDE}."
)


def draw(
    records: list[tuple[Path, str]], classes: list[str], seed: int = SEED
) -> list[tuple[Path, str]]:
    """One (path, class) per class of ``classes`` that has any, by the rule above."""
    rng = random.Random(seed)
    picked = []
    for cls in classes:
        mine = sorted((_isic(p), p) for p, c in records if c == cls and _isic(p))
        if mine:
            picked.append((rng.choice(mine)[1], cls))
    return picked


def _isic(path: Path) -> str:
    return isic_id(path.stem) or ""


def write(run: Path, dest: Path, card_path: Path, seed: int = SEED) -> list[Path]:
    """Draw the samples of ``run`` into ``dest`` (its previous images replaced), with the manifest
    and the credits; the files written."""
    from PIL import Image, ImageOps

    folder = RunFolder(run)
    classes = list(read_json(card_path, "model card")["classes"])
    records, sources = folder.split_records(SPLIT), folder.split_sources(SPLIT)
    inside = dest.resolve()
    if any(inside in p.resolve().parents for p, _ in records):
        raise SystemExit(f"{dest} holds the run's data: the samples go elsewhere")
    picked = draw(records, classes, seed)
    if not picked:
        raise SystemExit(f"{run}: no image of the card's classes in its {SPLIT} split")
    dest.mkdir(parents=True, exist_ok=True)
    for old in dest.glob("*.jpg"):
        old.unlink()  # the previous draw (tracked in git), never a data folder's file
    entries: list[dict[str, Any]] = []
    written = []
    for path, cls in picked:
        name = f"{cls.replace(' ', '-')}_{_isic(path)}.jpg"
        with Image.open(path) as im:
            square = ImageOps.fit(ImageOps.exif_transpose(im).convert("RGB"), (SIDE, SIDE))
            square.save(dest / name, quality=92)
        written.append(dest / name)
        entries.append(
            {"file": name, "diagnosis": cls, "isic_id": _isic(path), "split": SPLIT}
            | {"source": sources.get(path, "ISIC archive")}
        )
    manifest = {
        "rule": RULE,
        "seed": seed,
        "diagnosis_is": "the data set's label (histopathology or expert consensus in the ISIC "
        "archive), not a diagnosis made for a patient",
        "samples": entries,
    }
    (dest / MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
    (dest / "CREDITS.md").write_text(_credits(entries), encoding="utf-8")
    return [*written, dest / MANIFEST, dest / "CREDITS.md"]


def _credits(entries: list[dict[str, Any]]) -> str:
    rows = "\n".join(
        f"| {e['file']} | {e['diagnosis']} | {e['isic_id']} | {e['source']} |" for e in entries
    )
    return (
        "# Sample images\n\n"
        "Image credit: **ISIC Archive** (International Skin Imaging Collaboration), via the public "
        'data sets named below (HAM10000, ISIC 2017, the Kaggle set "Skin cancer ISIC The '
        'International Skin Imaging Collaboration"), centre-cropped and resized to '
        f"{SIDE}×{SIDE}. Licensed by their contributors under Creative Commons (CC-0, CC-BY or "
        "CC-BY-NC). The label in each file name is the data set's label, not a diagnosis.\n"
        "All were held out of training and tuning (internal test split of the shipped run), "
        "drawn by the rule in samples.json (`python -m trainer samples`).\n\n"
        "| file | data set label | ISIC id | source |\n|---|---|---|---|\n" + rows + "\n"
    )


def add_parser(sub: Any) -> None:
    p = sub.add_parser(
        "samples", help="draw the app's sample images from a run's internal test split"
    )
    p.add_argument("--run", default="runs/shipped", help="the shipped model's run folder")
    p.add_argument("--to", default="assets/samples", help="the samples folder")
    p.add_argument("--card", default="assets/model.json", help="the card (its class order)")
    p.add_argument("--seed", type=int, default=SEED)


def main(args: Any) -> int:
    for path in write(Path(args.run), Path(args.to), Path(args.card), args.seed):
        print(path)
    return 0
