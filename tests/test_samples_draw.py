"""trainer.samples: the app's samples are drawn by the written rule from held-out images."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from trainer.samples import SIDE, draw, write


def _run(tmp_path: Path) -> tuple[Path, Path, Path]:
    data = tmp_path / "data" / "isic2017"
    data.mkdir(parents=True)
    rng = np.random.default_rng(0)
    split: dict[str, list] = {"train": [], "internal_test": []}
    for i in range(12):
        path = data / f"ISIC_{1000000 + i:07d}.jpg"
        Image.fromarray(rng.integers(0, 255, (90, 120, 3), dtype=np.uint8)).save(path)
        cls = ("melanoma", "nevus")[i % 2]
        side = "train" if i < 4 else "internal_test"
        split[side].append({"path": str(path), "class": cls, "source": "isic2017"})
    run = tmp_path / "run"
    run.mkdir()
    (run / "split.json").write_text(json.dumps(split))
    card = tmp_path / "model.json"
    card.write_text(json.dumps({"classes": ["melanoma", "nevus", "dermatofibroma"]}))
    return data, run, card


def test_samples_are_drawn_from_held_out_images_one_per_class_repeatably(tmp_path):
    from desktop.samples import load_samples, sample_of

    data, run, card = _run(tmp_path)
    dest = tmp_path / "samples"
    dest.mkdir()
    (dest / "old_ISIC_0000001.jpg").write_bytes(b"previous draw")
    write(run, dest, card)
    manifest = json.loads((dest / "samples.json").read_text())
    picked = manifest["samples"]
    assert [e["diagnosis"] for e in picked] == ["melanoma", "nevus"]  # no dermatofibroma: skipped
    held_out = {
        Path(r["path"]).stem for r in json.loads((run / "split.json").read_text())["internal_test"]
    }
    assert all(e["isic_id"] in held_out and e["split"] == "internal_test" for e in picked)
    assert all(e["source"] == "isic2017" for e in picked)
    assert sorted(p.name for p in dest.glob("*.jpg")) == sorted(e["file"] for e in picked)
    assert all(Image.open(dest / e["file"]).size == (SIDE, SIDE) for e in picked)
    assert (
        "ISIC_" in (dest / "CREDITS.md").read_text()
        and str(tmp_path) not in (dest / "CREDITS.md").read_text()
    )
    assert {s.diagnosis for s in load_samples(dest)} == {"melanoma", "nevus"}  # as the app reads it
    assert sample_of(dest, "melanoma").name == picked[0]["file"]  # what benchmarks and docs open
    with pytest.raises(FileNotFoundError, match="no dermatofibroma sample"):
        sample_of(dest, "dermatofibroma")
    again = tmp_path / "again"
    write(run, again, card)
    assert json.loads((again / "samples.json").read_text())["samples"] == picked
    assert len(list((data).iterdir())) == 12  # the data folder untouched


def test_the_draw_depends_on_the_seed_not_on_the_listing_order():
    records = [(Path(f"x/ISIC_{i:07d}.jpg"), "nevus") for i in range(40)]
    first = draw(records, ["nevus"], seed=1)
    assert draw(list(reversed(records)), ["nevus"], seed=1) == first
    assert {draw(records, ["nevus"], seed=s)[0] for s in range(10)} != {first[0]}


def test_samples_are_never_written_into_the_data_folder(tmp_path):
    data, run, card = _run(tmp_path)
    with pytest.raises(SystemExit, match="holds the run's data"):
        write(run, data.parent, card)
    assert len(list(data.iterdir())) == 12
