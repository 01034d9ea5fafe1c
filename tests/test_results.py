"""The Qt-free core shared by the window and the command line."""

from __future__ import annotations

import csv
from datetime import UTC, datetime

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image

from desktop.heatmap import colormap, overlay
from desktop.imaging import view_box
from desktop.preprocessing import Preprocessing
from desktop.results import (
    classify_image,
    classify_path,
    expand_paths,
)
from desktop.results_csv import write_csv
from desktop.verdict import display_percentages
from tests.fakes import FakeClassifier, lesion_image, probs_for, write_images


def test_expand_paths_recurses_sorted_and_keeps_named_files(tmp_path):
    root = tmp_path / "folder"
    write_images(root / "b", ["z.png", "a.png"])
    write_images(root, ["m.jpg"])
    (root / "notes.txt").write_text("x")
    (root / ".hidden.png").write_bytes(b"junk")
    (root / ".cache").mkdir()
    write_images(root / ".cache", ["x.png"])
    named = tmp_path / "named.txt"
    named.write_text("not an image")
    out = expand_paths([root, named, tmp_path / "missing.jpg"])
    assert out == [
        root / "b" / "a.png",
        root / "b" / "z.png",
        root / "m.jpg",
        named,
        tmp_path / "missing.jpg",
    ]


@settings(max_examples=200, deadline=None)
@given(st.lists(st.floats(0.0, 1.0, allow_nan=False), min_size=2, max_size=12))
def test_display_percentages_add_up_to_exactly_100(values):
    shown = display_percentages(values)
    assert round(sum(shown), 6) == 100.0
    assert all(v >= 0 for v in shown)
    total = sum(values)
    if total > 0:
        for v, s in zip(values, shown, strict=True):
            assert abs(v / total * 100 - s) <= 0.1 + 1e-9


def test_classify_path_turns_bad_files_into_error_results(tmp_path):
    fake = FakeClassifier()
    bad = tmp_path / "bad.jpg"
    bad.write_bytes(b"\xff\xd8 nope")
    r = classify_path(fake, bad, thumbnail=64)
    assert not r.ok and r.prediction is None
    assert r.error.startswith("bad.jpg:") and "\n" not in r.error
    rec = r.to_json()
    assert rec["error"] == r.error and rec["label"] is None and rec["probabilities"] is None

    (good,) = write_images(tmp_path, ["good.png"])
    r = classify_path(fake, good, thumbnail=64)
    assert r.ok and r.error is None
    assert r.thumbnail.shape[2] == 3 and max(r.thumbnail.shape[:2]) <= 64
    assert r.cam.dtype == np.uint8 and r.prediction.cam is None  # stored compactly
    assert r.to_json()["label"] == "nevus"


def test_classify_image_keeps_the_image_for_display():
    r = classify_image(FakeClassifier(), lesion_image(150).convert("RGBA"), name="clip")
    assert r.ok and r.image is not None and r.image.mode == "RGB" and r.path is None
    assert r.to_json()["path"] == "clip"


def test_csv_has_every_row_and_defuses_formulas(tmp_path):
    fake = FakeClassifier(probabilities=probs_for(FakeClassifier().card.classes, melanoma=0.7))
    (good,) = write_images(tmp_path, ["=cmd.png"])
    bad = tmp_path / "broken.png"
    bad.write_bytes(b"")
    results = [classify_path(fake, good), classify_path(fake, bad)]
    out = tmp_path / "out.csv"
    write_csv(out, results, fake.card.classes)
    with open(out, encoding="utf-8-sig", newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert len(rows) == 2
    assert rows[0]["file"] == "'=cmd.png"
    assert rows[0]["top_class"] == "melanoma" and rows[0]["alert"] == "alert"
    assert float(rows[0]["p_melanoma"]) == pytest.approx(0.7)
    assert rows[1]["alert"] == "error" and "empty" in rows[1]["error"]


def test_heatmap_covers_only_the_region_the_model_saw():
    pre = Preprocessing(size=32, resize="center_crop", color_constancy="none")
    assert view_box(300, 200, pre) == (50, 0, 250, 200)
    img = Image.new("RGB", (300, 200), (100, 100, 100))
    out = overlay(img, np.ones((32, 32), dtype=np.float32), pre)
    arr = np.asarray(out)
    assert out.size == img.size
    assert (arr[100, 10] == 100).all()  # outside the crop: untouched
    assert not (arr[100, 150] == 100).all()  # inside: tinted
    cropped = Preprocessing(size=32, color_constancy="none", crop=0.5)
    assert view_box(300, 200, cropped) == (100, 50, 200, 150)
    arr = np.asarray(overlay(img, np.ones((32, 32), dtype=np.float32), cropped))
    assert (arr[100, 60] == 100).all()  # inside the square but outside the crop: untouched
    assert not (arr[100, 150] == 100).all()
    ramp = colormap(np.array([0.0, 1.0]))
    assert ramp.dtype == np.uint8 and ramp.shape == (2, 3)


def test_csv_gives_no_class_or_probabilities_for_an_image_that_cannot_be_assessed(tmp_path):
    fake = FakeClassifier(probabilities=probs_for(FakeClassifier().card.classes, melanoma=0.9))
    results = [classify_image(fake, lesion_image(20), "tiny"), classify_image(fake, lesion_image())]
    out = tmp_path / "t.csv"
    write_csv(out, results, fake.card.classes)
    with open(out, encoding="utf-8-sig", newline="") as fh:
        tiny, lesion = list(csv.DictReader(fh))
    assert tiny["alert"] == "cannot_assess" and tiny["top_class"] == ""
    assert tiny["melanoma_probability"] == "" and tiny["p_melanoma"] == ""
    assert "too small" in tiny["uncertain_reasons"]
    assert lesion["alert"] == "alert" and lesion["top_class"] == "melanoma"


def test_csv_says_which_model_at_which_threshold_and_when(tmp_path):
    """Review: the case-history CSV names model, threshold and time; the batch CSV did not."""
    fake = FakeClassifier(probabilities=probs_for(FakeClassifier().card.classes, nevus=0.8))
    (good,) = write_images(tmp_path, ["a.png"])
    missing = tmp_path / "gone.jpg"
    results = [classify_path(fake, good), classify_path(fake, missing)]
    out = tmp_path / "out.csv"
    write_csv(out, results, fake.card.classes, fake.card)
    with open(out, encoding="utf-8-sig", newline="") as fh:
        reader = csv.DictReader(fh)
        rows = list(reader)
    header = reader.fieldnames or []
    assert header.index("classified_at") < header.index("p_nevus")  # class columns stay last
    for row in rows:
        assert row["model_version"] == fake.card.model_version
        assert float(row["alert_threshold"]) == pytest.approx(fake.card.melanoma_threshold)
        when = datetime.strptime(row["classified_at"], "%Y-%m-%dT%H:%M:%SZ")
        assert abs((datetime.now(UTC).replace(tzinfo=None) - when).total_seconds()) < 600
    assert float(rows[0]["p_nevus"]) == pytest.approx(0.8)


def test_heic_photos_in_a_folder_become_unreadable_rows_not_silence(tmp_path):
    """An iPhone folder of HEIC photos gave 'no images found': now each one says why."""
    folder = tmp_path / "phone"
    write_images(folder, ["a.png"])
    (folder / "IMG_0001.HEIC").write_bytes(b"\x00\x00\x00\x18ftypheic")
    (folder / "b.heif").write_bytes(b"\x00\x00\x00\x18ftypmif1")
    (folder / "notes.txt").write_text("not a photo")
    found = expand_paths([folder])
    assert [p.name for p in found] == ["IMG_0001.HEIC", "a.png", "b.heif"]
    fake = FakeClassifier()
    heic = classify_path(fake, folder / "IMG_0001.HEIC")
    assert not heic.ok and heic.alert_level == "error"
    assert heic.error.startswith("IMG_0001.HEIC: HEIC/HEIF photos cannot be read")
    assert "JPEG" in heic.error
