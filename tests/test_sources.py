"""Multi-source data stage: every native layout, bad input, one identity per image across
sources, a split that cannot leak, label-map overrides, and ``--strategy multiworker`` on two
local workers. Synthetic data only: every source is built here, under tmp_path."""

from __future__ import annotations

import csv
import json
import os
import socket
import subprocess
import sys
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
from conftest import make_dataset
from PIL import Image

from desktop.labelled.dataset import DatasetError, Record
from desktop.labelled.labels import BENIGN_UNSPECIFIED, CLASSES, LabelMap
from desktop.labelled.sources import EVIDENCE_RANK, FOLDER_RANK, read_source, read_sources
from tests.fakes import tree_hash
from trainer.config import TrainConfig
from trainer.data import EVAL_SPLITS, prepare
from trainer.identity import build_identities, resolve_label

ROOT = Path(__file__).resolve().parent.parent
AK, BCC, DF, MEL = "actinic keratosis", "basal cell carcinoma", "dermatofibroma", "melanoma"
NEV, PBK, SK = "nevus", "pigmented benign keratosis", "seborrheic keratosis"
SCC, VASC = "squamous cell carcinoma", "vascular lesion"
HAM_HEADER = ["lesion_id", "image_id", "dx", "dx_type", "age", "sex", "localization"]


def isic(n: int) -> str:
    return f"ISIC_{n:07d}"


def lesion(path: Path, seed: int, side: int = 64, quality: int = 85) -> Path:
    """An image whose perceptual hash is its own: copies of one seed at other sizes and JPEG
    qualities stay within 2 bits, different seeds are 16+ bits apart. (make_dataset's images of
    one class are near-duplicates of each other, which would merge or group them.)"""
    g = np.random.default_rng(seed).integers(0, 256, (8, 8), dtype=np.uint8)
    rgb = np.stack([g, 255 - g, g // 2 + 60], axis=-1).astype(np.uint8)
    big = Image.fromarray(rgb).resize((256, 256), Image.Resampling.BICUBIC)
    path.parent.mkdir(parents=True, exist_ok=True)
    big.resize((side, side), Image.Resampling.LANCZOS).save(path, quality=quality)
    return path


def write_csv(path: Path, header: list[str], rows: list[list[str]]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(header)
        writer.writerows(rows)
    return path


def ham_source(
    root: Path,
    rows: list[tuple[str, int, str, str]],
    side: int = 64,
    origins: dict[int, str] | None = None,
) -> Path:
    """HAM10000 as published: HAM10000_metadata.csv + HAM10000_images/ISIC_*.jpg.
    rows: (lesion_id, ISIC number, dx, dx_type); the pixels of ISIC number n are lesion(seed=n).
    ``origins`` (ISIC number -> clinic) adds the ``dataset`` column; a number not in it: empty."""
    for _, n, _, _ in rows:
        lesion(root / "HAM10000_images" / f"{isic(n)}.jpg", n, side)
    extra = ["dataset"] if origins is not None else []
    write_csv(
        root / "HAM10000_metadata.csv",
        HAM_HEADER + extra,
        [
            [lid, isic(n), dx, how, "45.0", "female", "back"]
            + ([origins.get(n, "")] if origins is not None else [])
            for lid, n, dx, how in rows
        ],
    )
    return root


def audit(*folders: Path, args: tuple[str, ...] = ("--json",)) -> subprocess.CompletedProcess:
    data = [a for f in folders for a in ("--data", str(f))]
    return subprocess.run(
        [sys.executable, "-m", "trainer", "audit", *data, *args],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=180,
    )


# 1. Native layouts ---------------------------------------------------------------------------


def test_every_native_layout_is_recognised(tmp_path):
    folders = make_dataset(tmp_path / "folders", classes=(MEL, NEV), per_class=3)
    kaggle = tmp_path / "kaggle"
    make_dataset(kaggle / "Train", classes=(MEL, "Naevus", "vascular_lesion"), per_class=3)
    make_dataset(
        kaggle / "Test", classes=(MEL, "Naevus", "vascular_lesion"), per_class=2, first_id=500
    )
    only_mel = make_dataset(tmp_path / "more-melanomas", classes=(MEL,), per_class=2)

    ham = ham_source(
        tmp_path / "ham",
        [
            ("HAM_0000001", 24306, "nv", "follow_up"),
            ("HAM_0000001", 24307, "nv", "follow_up"),  # two images of one lesion
            ("HAM_0000002", 24308, "mel", "histo"),
            ("HAM_0000003", 24309, "akiec", "histo"),
            ("HAM_0000004", 24310, "bkl", "consensus"),
            ("HAM_0000005", 24311, "df", "confocal"),
        ],
    )

    i17 = tmp_path / "isic2017"
    for part, rows in (
        ("Training", [(0, "1.0", "0.0"), (1, "0.0", "1.0"), (2, "0.0", "0.0")]),
        ("Validation", [(1769, "0.0", "0.0"), (1770, "1.0", "0.0")]),
    ):
        for n, _, _ in rows:
            lesion(i17 / f"ISIC-2017_{part}_Data" / f"{isic(n)}.jpg", n)
            # The download also holds superpixel maps: never read as images of their own.
            lesion(i17 / f"ISIC-2017_{part}_Data" / f"{isic(n)}_superpixels.png", n + 7)
        write_csv(
            i17 / f"ISIC-2017_{part}_Part3_GroundTruth.csv",
            ["image_id", "melanoma", "seborrheic_keratosis"],
            [[isic(n), m, s] for n, m, s in rows],
        )

    i19 = tmp_path / "isic2019"
    cols = ["MEL", "NV", "BCC", "AK", "BKL", "DF", "VASC", "SCC", "UNK"]
    hot = {100: "MEL", 101: "SCC", 102: "AK", 103: "BKL", 104: "UNK"}
    for n in hot:
        lesion(i19 / "ISIC_2019_Training_Input" / f"{isic(n)}.jpg", n)
    write_csv(
        i19 / "ISIC_2019_Training_GroundTruth.csv",
        ["image", *cols],
        [[isic(n), *("1.0" if c == col else "0.0" for c in cols)] for n, col in hot.items()],
    )
    i18 = tmp_path / "isic2018"
    cols18 = ["MEL", "NV", "BCC", "AKIEC", "BKL", "DF", "VASC"]
    for n in (200, 201):
        lesion(i18 / "ISIC2018_Task3_Training_Input" / f"{isic(n)}.jpg", n)
    write_csv(
        i18 / "ISIC2018_Task3_Training_GroundTruth.csv",
        ["image", *cols18],
        [
            [isic(200), *("1.0" if c == "AKIEC" else "0.0" for c in cols18)],
            [isic(201), *("1.0" if c == "VASC" else "0.0" for c in cols18)],
        ],
    )

    plain = tmp_path / "plain"
    for name, seed in (("a.png", 300), ("b.png", 301), ("c.jpg", 302)):
        lesion(plain / "img" / name, seed)
    write_csv(  # capitalised header: layouts are recognised case-insensitively
        plain / "labels.csv",
        ["Image", "Label", "Group"],
        [
            ["img/a.png", "Basal_Cell  Carcinoma", "patient-1"],
            ["img/b.png", "basal cell carcinoma", "patient-1"],
            ["img/c.jpg", "naevus", ""],
        ],
    )

    everything = [folders, kaggle, only_mel, ham, i17, i19, i18, plain]
    before = {p: tree_hash(p) for p in everything}
    sources = {s.name: s for s in read_sources([str(p) for p in everything], LabelMap())}

    got = {n: (s.format, len(s.records), s.per_class(), s.problems) for n, s in sources.items()}
    assert got["folders"] == ("folders", 6, {MEL: 3, NEV: 3}, {})
    assert got["kaggle"] == ("folders", 15, {MEL: 5, NEV: 5, VASC: 5}, {})
    assert got["more-melanomas"] == ("folders", 2, {MEL: 2}, {})  # one class is fine for a source
    assert got["ham"] == ("ham10000", 6, {AK: 1, DF: 1, MEL: 1, NEV: 2, PBK: 1}, {})
    assert got["isic2017"] == ("isic2017", 5, {MEL: 2, NEV: 2, SK: 1}, {})
    assert got["isic2019"][:3] == ("isic-onehot", 4, {AK: 1, MEL: 1, PBK: 1, SCC: 1})
    assert got["isic2019"][3] == {
        "label not in the label map: UNK": {"count": 1, "example": "ISIC_0000104.jpg"}
    }
    assert got["isic2018"] == ("isic-onehot", 2, {AK: 1, VASC: 1}, {})
    assert got["plain"] == ("csv", 3, {BCC: 2, NEV: 1}, {})

    kag = sources["kaggle"].records
    assert Counter(r.split for r in kag) == {"train": 9, "test": 6}
    assert {r.raw_label for r in kag} == {MEL, "Naevus", "vascular_lesion"}
    assert all(r.rank == FOLDER_RANK for r in kag)
    by_id = {r.image_id: r for r in sources["ham"].records}
    assert by_id["ISIC_0024306"].group == by_id["ISIC_0024307"].group == "ham:HAM_0000001"
    assert (by_id["ISIC_0024308"].rank, by_id["ISIC_0024306"].rank) == (EVIDENCE_RANK["histo"], 2)
    assert (by_id["ISIC_0024309"].raw_label, by_id["ISIC_0024309"].label) == ("akiec", AK)
    assert all(r.rank == EVIDENCE_RANK["challenge"] for r in sources["isic2017"].records)
    assert not any("superpixels" in r.path.name for r in sources["isic2017"].records)
    assert {r.image_id: r.label for r in sources["isic2017"].records} == {
        "ISIC_0000000": MEL,
        "ISIC_0000001": SK,
        "ISIC_0000002": NEV,
        "ISIC_0001769": NEV,
        "ISIC_0001770": MEL,
    }
    assert {r.raw_label for r in sources["isic2019"].records} == {"MEL", "SCC", "AK", "BKL"}
    groups = {r.path.name: r.group for r in sources["plain"].records}
    assert groups == {"a.png": "plain:patient-1", "b.png": "plain:patient-1", "c.jpg": ""}
    assert {p: tree_hash(p) for p in everything} == before


def test_a_folder_in_no_known_layout_names_the_layouts_expected(tmp_path):
    odd = tmp_path / "odd"
    lesion(odd / "loose.jpg", 1)  # images, but no class folders and no known CSV
    write_csv(odd / "notes.csv", ["patient", "comment"], [["1", "itchy"]])
    expected = ("class subfolders", "HAM10000", "ISIC 2017", "GroundTruth.csv", "image,label")
    with pytest.raises(DatasetError, match="no known layout") as err:
        read_source(odd, LabelMap())
    assert all(e in str(err.value) for e in expected), str(err.value)
    proc = audit(make_dataset(tmp_path / "good", classes=(MEL, NEV), per_class=2), odd)
    assert proc.returncode == 2 and proc.stdout == ""
    assert "odd: no known layout" in proc.stderr and all(e in proc.stderr for e in expected)


# 2. Bad input --------------------------------------------------------------------------------


def test_bad_rows_are_counted_with_an_example_and_the_rest_is_read(tmp_path):
    plain = tmp_path / "plain"
    for i in range(4):
        lesion(plain / "img" / f"ok{i}.jpg", 900 + i)
    for name, seed in (("twice.jpg", 950), ("same.jpg", 951), ("psor1.jpg", 952)):
        lesion(plain / "img" / name, seed)
    lesion(plain / "img" / "psor2.jpg", 953)
    (plain / "img" / "broken.jpg").write_bytes(b"\xff\xd8\xff\xe0 not really a jpeg")
    write_csv(
        plain / "labels.csv",
        ["image", "label", "group"],
        [
            ["img/ok0.jpg", "melanoma", ""],
            ["img/ok1.jpg", "nevus", ""],
            ["img/ok2.jpg", "mel", ""],
            ["img/ok3.jpg", "nv", ""],
            ["img/gone.jpg", "melanoma", ""],  # missing files
            ["img/gone-too.jpg", "nevus", ""],
            ["img/psor1.jpg", "psoriasis", ""],  # unknown label, twice
            ["img/psor2.jpg", "psoriasis", ""],
            ["img/twice.jpg", "melanoma", ""],  # one image, two classes: left out
            ["img/twice.jpg", "nevus", ""],
            ["img/same.jpg", "nevus", ""],  # listed twice with one class: kept once
            ["img/same.jpg", "nv", ""],
            ["", "melanoma", ""],
            ["img/broken.jpg", "nevus", ""],  # unreadable: found, left out by the identity pass
        ],
    )
    ham = ham_source(
        tmp_path / "ham",
        [("HAM_1", 24306, "nv", "histo"), ("HAM_2", 24307, "mel", "histo")],
    )
    with open(ham / "HAM10000_metadata.csv", "a", newline="", encoding="utf-8") as f:
        csv.writer(f).writerows(
            [
                ["HAM_3", isic(99999), "mel", "histo", "", "", ""],  # no such file
                ["HAM_1", isic(24306), "mel", "histo", "", "", ""],  # same id, another class
            ]
        )
    i17 = tmp_path / "isic2017"
    for n in (0, 1):
        lesion(i17 / "ISIC-2017_Training_Data" / f"{isic(n)}.jpg", n)
    write_csv(
        i17 / "ISIC-2017_Training_Part3_GroundTruth.csv",
        ["image_id", "melanoma", "seborrheic_keratosis"],
        [[isic(0), "1", "1"], [isic(1), "0", "0"]],
    )
    onehot = tmp_path / "isic2019"
    for n in (10, 11):
        lesion(onehot / "images" / f"{isic(n)}.jpg", n)
    write_csv(
        onehot / "GroundTruth.csv",
        ["image", "MEL", "NV", "BCC"],
        [[isic(10), "1.0", "1.0", "0.0"], [isic(11), "0.0", "0.0", "1.0"]],
    )
    empty_csv = tmp_path / "empty-csv"
    write_csv(empty_csv / "labels.csv", ["image", "label"], [])
    empty_folders = tmp_path / "empty-folders"
    (empty_folders / MEL).mkdir(parents=True)
    (empty_folders / NEV).mkdir()

    everything = [plain, ham, i17, onehot, empty_csv, empty_folders]
    before = {p: tree_hash(p) for p in everything}
    sources = {s.name: s for s in read_sources([str(p) for p in everything], LabelMap())}

    assert sources["plain"].problems == {
        "file named in the CSV not found": {"count": 2, "example": "img/gone.jpg"},
        "label not in the label map: psoriasis": {"count": 2, "example": "psor1.jpg"},
        "one image listed with two classes": {"count": 1, "example": "twice.jpg"},
        "row without an image name": {"count": 1, "example": "labels.csv"},
    }
    assert sorted(r.path.name for r in sources["plain"].records) == [
        "broken.jpg",
        "ok0.jpg",
        "ok1.jpg",
        "ok2.jpg",
        "ok3.jpg",
        "same.jpg",
    ]
    assert sources["ham"].problems == {
        "file named in the CSV not found": {"count": 1, "example": "ISIC_0099999"},
        "one image listed with two classes": {"count": 1, "example": "ISIC_0024306.jpg"},
    }
    assert [r.image_id for r in sources["ham"].records] == ["ISIC_0024307"]
    assert sources["isic2017"].problems == {
        "both melanoma and seborrheic keratosis flagged": {
            "count": 1,
            "example": "ISIC_0000000.jpg",
        }
    }
    assert [r.label for r in sources["isic2017"].records] == [NEV]
    assert sources["isic2019"].problems == {
        "not exactly one class column set": {"count": 1, "example": "ISIC_0000010.jpg"}
    }
    assert [r.label for r in sources["isic2019"].records] == [BCC]
    assert sources["empty-csv"].format == "csv" and not sources["empty-csv"].records
    assert sources["empty-csv"].problems == {
        "no usable images in this source": {"count": 1, "example": "empty-csv"}
    }
    assert sources["empty-folders"].problems == {
        "class folder without images": {"count": 2, "example": MEL},
        "no usable images in this source": {"count": 1, "example": "empty-folders"},
    }

    ids = build_identities(list(sources.values()), LabelMap(), progress=False)
    unreadable = [e for e in ids.excluded if e["reason"] == "unreadable"]
    assert [(e["file"], e["source"]) for e in unreadable] == [("broken.jpg", "plain")]
    assert len(ids.items) == 5 + 1 + 1 + 1

    proc = audit(*everything)
    assert proc.returncode == 0, proc.stderr
    summary = json.loads(proc.stdout)
    assert [s["problems"] for s in summary["sources"]] == [s.problems for s in sources.values()]
    assert summary["excluded"] == {"unreadable": 1} and summary["identities"] == 8
    text = audit(*everything, args=())
    assert text.returncode == 0 and "file named in the CSV not found: 2 (e.g. img/gone.jpg)" in (
        text.stdout
    )
    assert {p: tree_hash(p) for p in everything} == before


def test_no_usable_image_in_any_source_is_an_error_naming_the_layouts(tmp_path):
    empty = tmp_path / "empty"
    write_csv(empty / "labels.csv", ["image", "label"], [["gone.jpg", "melanoma"]])
    with pytest.raises(DatasetError, match="no usable labelled images.*HAM10000"):
        read_sources([str(empty)], LabelMap())


# 3. One identity per image across sources ----------------------------------------------------


def overlapping_sources(root: Path) -> tuple[Path, Path, Path]:
    """Three sources sharing images at other sizes and qualities, sometimes under other labels.

    ham (HAM10000 layout, 64 px):  24301 akiec histo, 24302 mel histo, 24303 + 24304 nv follow_up
                                   (one lesion)
    kaggle (class folders, 96 px): 24301 as SCC, 24302 as nevus, 24303 as nevus,
                                   10 melanoma (48 px), 11 nevus
    extra (plain CSV):             renamed_10.jpg melanoma (80 px copy of 10, no ISIC id),
                                   ISIC_0000011.jpg melanoma (72 px), own_1.jpg vascular lesion
    """
    ham = ham_source(
        root / "ham",
        [
            ("HAM_0000001", 24301, "akiec", "histo"),
            ("HAM_0000002", 24302, "mel", "histo"),
            ("HAM_0000003", 24303, "nv", "follow_up"),
            ("HAM_0000003", 24304, "nv", "follow_up"),
        ],
    )
    kaggle = root / "kaggle"
    for cls, n in ((SCC, 24301), (NEV, 24302), (NEV, 24303), (NEV, 11)):
        lesion(kaggle / "Train" / cls / f"{isic(n)}.jpg", n, side=96, quality=70)
    lesion(kaggle / "Train" / MEL / f"{isic(10)}.jpg", 10, side=48, quality=95)
    extra = root / "extra"
    lesion(extra / "renamed_10.jpg", 10, side=80, quality=80)
    lesion(extra / f"{isic(11)}.jpg", 11, side=72, quality=80)
    lesion(extra / "own_1.jpg", 5001)
    write_csv(
        extra / "labels.csv",
        ["image", "label"],
        [["renamed_10.jpg", MEL], [f"{isic(11)}.jpg", MEL], ["own_1.jpg", VASC]],
    )
    return ham, kaggle, extra


def test_one_identity_per_image_across_sources(tmp_path):
    ham, kaggle, extra = overlapping_sources(tmp_path)
    labels = LabelMap()
    ids = build_identities(read_sources([str(ham), str(kaggle), str(extra)], labels), labels)
    by_copy = {
        c.path.name if c.isic_id is None else c.isic_id: i for i in ids.items for c in i.copies
    }

    # ISIC id: one identity though the bytes differ; kept from the most trusted label (HAM's),
    # even where the folder copy is larger.
    for n in (24301, 24302, 24303):
        item = by_copy[isic(n)]
        assert item.sources == ("ham", "kaggle") and len(item.copies) == 2
        assert item.source == "ham" and item.path.parent.name == "HAM10000_images"
    assert by_copy[isic(24303)].label == NEV
    # akiec (actinic keratosis or SCC in situ) + a folder saying SCC: SCC, from HAM's pixels.
    assert by_copy[isic(24301)].label == SCC
    # Histopathology beats a folder name.
    assert by_copy[isic(24302)].label == MEL
    # A renamed copy without an ISIC id is the same image by perceptual hash; equally trusted
    # labels, so the largest copy is kept (80 px renamed copy over the 48 px original).
    ten = by_copy[isic(10)]
    assert by_copy["renamed_10.jpg"] is ten and ten.sources == ("extra", "kaggle")
    assert ten.path.name == "renamed_10.jpg" and ten.label == MEL
    # Two equally trusted sources contradict each other: left out, never guessed.
    assert isic(11) not in by_copy
    conflict = [e for e in ids.excluded if e["reason"] == "conflicting labels"]
    assert len(conflict) == 1 and conflict[0]["detail"] == f"{MEL}, {NEV}"
    assert conflict[0]["source"] == "extra+kaggle"
    # Two images of one lesion: two identities, one split group.
    assert by_copy[isic(24303)].group == by_copy[isic(24304)].group
    assert by_copy[isic(24303)].identity != by_copy[isic(24304)].identity
    assert len(ids.items) == 6  # 24301-24304, 10, own_1
    assert (ids.cross_source_duplicates, ids.cross_source_conflicts) == (5, 3)
    assert ids.conflicts_resolved == 2


def test_other_copies_add_each_training_image_s_other_looks_with_its_resolved_label(tmp_path):
    """--all-copies: the other sources' copies of the training images join training, each
    with its identity's label (SCC, not the folder's), and an image outside training brings
    none of its copies."""
    from trainer.data import other_copies

    ham, kaggle, extra = overlapping_sources(tmp_path)
    labels = LabelMap()
    ids = build_identities(read_sources([str(ham), str(kaggle), str(extra)], labels), labels)
    by_id = {i.record.isic_id: i for i in ids.items}
    train = [by_id[isic(24301)].record, by_id[isic(24303)].record]
    extra_copies = other_copies(ids.items, train)
    assert [c.source for c in extra_copies] == ["kaggle", "kaggle"]
    assert {c.isic_id: c.label for c in extra_copies} == {isic(24301): SCC, isic(24303): NEV}
    assert all(c.path not in {r.path for r in train} for c in extra_copies)
    assert other_copies(ids.items, []) == []
    # the same bytes under another name add no look
    same = {c.path: "one" for i in ids.items for c in i.copies}
    assert other_copies(ids.items, train, same) == []


def test_flat_images_are_not_one_image_by_perceptual_hash(tmp_path):
    """Every blank or one-colour image hashes alike: a match says nothing about identity."""
    plain = tmp_path / "plain"
    plain.mkdir()
    Image.new("L", (60, 40), 90).save(plain / "grey.png")
    Image.new("RGBA", (50, 50), (200, 10, 10, 128)).save(plain / "alpha.png")
    Image.new("P", (40, 40), 3).save(plain / "palette.gif")
    write_csv(
        plain / "labels.csv",
        ["image", "label"],
        [["grey.png", MEL], ["alpha.png", MEL], ["palette.gif", NEV]],
    )
    labels = LabelMap()
    ids = build_identities(read_sources([str(plain)], labels), labels, progress=False)
    assert len(ids.items) == 3 and ids.excluded == []
    assert len({i.group for i in ids.items}) == 3


def test_label_precedence_rules():
    labels = LabelMap()

    def rec(raw: str, rank: int, source: str) -> Record:
        m = labels.lookup(raw)
        return Record(
            Path(f"/{source}/ISIC_0000001.jpg"), m.default, "train", source, raw, "", rank
        )

    histo, challenge, consensus = (EVIDENCE_RANK[k] for k in ("histo", "challenge", "consensus"))
    assert resolve_label([rec("akiec", histo, "ham"), rec(SCC, 1, "k")], labels) == (SCC, True)
    assert resolve_label([rec(NEV, 1, "k"), rec("mel", histo, "ham")], labels) == (MEL, True)
    # A coarse label is refined by a finer compatible one, never replaced by an incompatible one.
    assert resolve_label([rec("bkl", histo, "ham"), rec(SK, challenge, "i17")], labels) == (
        SK,
        True,
    )
    assert resolve_label([rec("akiec", histo, "ham"), rec(NEV, 1, "k")], labels) == (AK, True)
    assert resolve_label([rec("mel", consensus, "ham"), rec(NEV, challenge, "i17")], labels) == (
        NEV,
        True,
    )
    assert resolve_label([rec(MEL, 1, "a"), rec("nv", 1, "b")], labels) == (None, True)
    assert resolve_label([rec("mel", histo, "a"), rec(MEL, 1, "b")], labels) == (MEL, False)


def test_audit_json_gives_per_source_and_cross_source_figures(tmp_path):
    folders = overlapping_sources(tmp_path)
    before = [tree_hash(p) for p in folders]
    proc = audit(*folders)
    assert proc.returncode == 0, proc.stderr
    data = json.loads(proc.stdout)
    assert [
        {k: s[k] for k in ("path", "format", "images", "per_class")} for s in data["sources"]
    ] == [
        {
            "path": "ham",
            "format": "ham10000",
            "images": 4,
            "per_class": {AK: 1, MEL: 1, NEV: 2},
        },
        {
            "path": "kaggle",
            "format": "folders",
            "images": 5,
            "per_class": {MEL: 1, NEV: 3, SCC: 1},
        },
        {"path": "extra", "format": "csv", "images": 3, "per_class": {MEL: 2, VASC: 1}},
    ]
    assert data["cross_source_duplicates"] == 5
    assert data["cross_source_conflicts"] == 3
    assert data["cross_source_conflicts_resolved"] == 2
    assert data["identities"] == 6 and data["excluded"] == {"conflicting labels": 1}
    assert data["per_class"] == {MEL: 2, NEV: 2, SCC: 1, VASC: 1}
    assert [tree_hash(p) for p in folders] == before


def seed_layout(root: Path) -> Path:
    """The seed data set's layout, Train/ + Test/, with five known Test images also in Train/:

    1. ISIC_0000001 (melanoma): the same bytes in both;
    2. ISIC_0000002 (nevus): the same ISIC id re-encoded at another size and quality;
    3. ISIC_0000003 (nevus): a re-encoded near-duplicate under another ISIC id in Train
       (ISIC_0000903: the archive's two entries, so two identities, linked by look only);
    4. ISIC_0000004 (melanoma): a renamed, re-encoded copy without an ISIC id (copy_4.jpg);
    5. ISIC_0000005: melanoma in Test, nevus in Train (an overlap and a label conflict).

    Besides: ISIC_0000050 filed twice in Train (melanoma and nevus, same bytes: a conflict,
    not an overlap) and images of their own (seeds 100-107 in Train, 200-203 in Test).
    """
    train, test = root / "Train", root / "Test"
    for i, cls in enumerate((MEL, NEV) * 4):
        lesion(train / cls / f"{isic(100 + i)}.jpg", 100 + i)
    for i, cls in enumerate((MEL, NEV) * 2):
        lesion(test / cls / f"{isic(200 + i)}.jpg", 200 + i)
    one = lesion(test / MEL / f"{isic(1)}.jpg", 1)
    (train / MEL / one.name).write_bytes(one.read_bytes())
    lesion(test / NEV / f"{isic(2)}.jpg", 2)
    lesion(train / NEV / f"{isic(2)}.jpg", 2, side=96, quality=70)
    lesion(test / NEV / f"{isic(3)}.jpg", 3)
    lesion(train / NEV / f"{isic(903)}.jpg", 3, side=80, quality=75)
    lesion(test / MEL / f"{isic(4)}.jpg", 4)
    lesion(train / MEL / "copy_4.jpg", 4, side=72, quality=90)
    five = lesion(test / MEL / f"{isic(5)}.jpg", 5)
    (train / NEV / five.name).write_bytes(five.read_bytes())
    fifty = lesion(train / MEL / f"{isic(50)}.jpg", 50)
    (train / NEV / fifty.name).write_bytes(fifty.read_bytes())
    return root


def test_audit_reports_label_conflicts_and_train_test_overlap(tmp_path):
    seed = seed_layout(tmp_path / "seed")
    before = tree_hash(seed)
    proc = audit(seed)
    assert proc.returncode == 0, proc.stderr
    data = json.loads(proc.stdout)
    # Each overlap once, by identity (bytes, ISIC id, or look without an id) or, where two
    # ISIC ids differ, as a near-duplicate; named inside the source, never by machine path.
    overlap = {(tuple(o["test"]), tuple(o["train"]), o["by"]) for o in data["train_test_overlap"]}
    assert overlap == {
        ((f"Test/{MEL}/{isic(1)}.jpg",), (f"Train/{MEL}/{isic(1)}.jpg",), "identity"),
        ((f"Test/{NEV}/{isic(2)}.jpg",), (f"Train/{NEV}/{isic(2)}.jpg",), "identity"),
        ((f"Test/{NEV}/{isic(3)}.jpg",), (f"Train/{NEV}/{isic(903)}.jpg",), "near-duplicate"),
        ((f"Test/{MEL}/{isic(4)}.jpg",), (f"Train/{MEL}/copy_4.jpg",), "identity"),
        ((f"Test/{MEL}/{isic(5)}.jpg",), (f"Train/{NEV}/{isic(5)}.jpg",), "identity"),
    }
    assert len(data["train_test_overlap"]) == 5
    assert {o["source"] for o in data["train_test_overlap"]} == {"seed"}
    conflicts = sorted(
        (sorted((f["file"], f["class"], f["split"]) for f in c["files"]), c["resolved"])
        for c in data["conflicting_labels"]
    )
    assert conflicts == [
        (
            [
                (f"Test/{MEL}/{isic(5)}.jpg", MEL, "test"),
                (f"Train/{NEV}/{isic(5)}.jpg", NEV, "train"),
            ],
            None,
        ),
        (
            [
                (f"Train/{MEL}/{isic(50)}.jpg", MEL, "train"),
                (f"Train/{NEV}/{isic(50)}.jpg", NEV, "train"),
            ],
            None,
        ),
    ]
    assert all(c["classes"] == [MEL, NEV] for c in data["conflicting_labels"])
    assert data["excluded"]["conflicting labels"] == 2
    assert str(tmp_path) not in proc.stdout
    # The multi-source figures are still there beside them.
    # own images, one identity each for overlaps 1, 2 and 4, two for 3 (5 and 50 left out)
    assert data["identities"] == 8 + 4 + 3 + 2 and data["cross_source_duplicates"] == 0

    table = audit(seed, args=())
    assert table.returncode == 0, table.stderr
    assert "images filed under different classes:      2 (2 left out, 0 resolved" in table.stdout
    assert "Test images also in their source's Train:  5 (1 only as near-duplicates" in table.stdout
    assert (
        f"  overlap (near-duplicate): seed/Test/{NEV}/{isic(3)}.jpg = Train/{NEV}/" in table.stdout
    )

    # Without the perceptual-hash pass only byte and ISIC-id copies are found.
    labels = LabelMap()
    ids = build_identities(read_sources([str(seed)], labels), labels, near_duplicates=False)
    assert sorted(o.test[0].path.name for o in ids.train_test_overlap) == [
        f"{isic(n)}.jpg" for n in (1, 2, 5)
    ]
    # The split keeps every overlapping Train copy out of training: the group is test.
    ids = build_identities(read_sources([str(seed)], labels), labels, progress=False)
    groups = {i.group for i in ids.items if i.record.split == "test"}
    overlapping = {c.path for o in ids.train_test_overlap for c in o.train}
    assert all(i.group in groups for i in ids.items if {c.path for c in i.copies} & overlapping)
    assert tree_hash(seed) == before


# 4. A split that cannot leak -----------------------------------------------------------------


def split_sources(root: Path) -> tuple[Path, Path, Path]:
    """ham: 36 lesions (every 4th with two images), classes mel/nv/bkl in turn; kaggle: 12 own
    images each of melanoma, nevus and BCC, copies of the first 6 HAM images, and ISIC_0009999,
    a near-duplicate of HAM lesion 21's image under another ISIC id; extra: 12 groups of 2
    (vascular lesion, melanoma)."""
    rows, n = [], 24400
    for k in range(36):
        for _ in range(2 if k % 4 == 0 else 1):
            rows.append(
                (f"HAM_{k:07d}", n, ("mel", "nv", "bkl")[k % 3], ("follow_up", "histo")[k % 2])
            )
            n += 1
    ham = ham_source(root / "ham", rows)
    kaggle = root / "kaggle"
    folder_of = {"mel": MEL, "nv": NEV, "bkl": PBK}
    for cls, first in ((MEL, 100), (NEV, 200), (BCC, 300)):
        for i in range(12):
            lesion(kaggle / cls / f"{isic(first + i)}.jpg", first + i, side=96, quality=70)
    for _, m, dx, _ in rows[:6]:
        lesion(kaggle / folder_of[dx] / f"{isic(m)}.jpg", m, side=96, quality=70)
    twin = next(r for r in rows if r[0] == "HAM_0000021")
    lesion(kaggle / folder_of[twin[2]] / f"{isic(9999)}.jpg", twin[1], side=90, quality=75)
    extra = root / "extra"
    table = []
    for g in range(12):
        for j in range(2):
            name = f"img/g{g}_{j}.jpg"
            lesion(extra / name, 7000 + 10 * g + j)
            table.append([name, VASC if g < 6 else MEL, f"g{g}"])
    write_csv(extra / "labels.csv", ["image", "label", "group"], table)
    return ham, kaggle, extra


@pytest.fixture(scope="module")
def split_data(tmp_path_factory):
    root = tmp_path_factory.mktemp("split")
    return root, split_sources(root / "data")


def _config(data: tuple[Path, ...], out: Path, **kw) -> TrainConfig:
    return TrainConfig(
        data=tuple(str(d) for d in data),
        out=str(out),
        val_fraction=0.2,
        test_fraction=0.2,
        balance_target="12",
        seed=7,
        **kw,
    )


def _lesions(prepared, source: str) -> dict[str, set]:
    """lesion/group id -> identities with a copy in it."""
    out: dict[str, set] = {}
    for item in prepared.identities.items:
        for c in item.copies:
            if c.group and c.source == source:
                out.setdefault(c.group, set()).add(item.identity)
    return out


def test_split_keeps_lesions_identities_and_near_duplicates_on_one_side(split_data):
    root, data = split_data
    before = [tree_hash(p) for p in data]
    run = root / "run"
    p = prepare(_config(data, run), run)
    splits = {"train": p.train, "val": p.val, "internal_test": p.internal_test}
    item_of = {i.path: i for i in p.identities.items}
    side: dict[int, str] = {}
    for name, records in splits.items():
        for r in records:
            ident = item_of[r.path].identity  # every record is an identity's kept copy ...
            assert ident not in side, f"{r.path.name} twice"  # ... and appears once
            side[ident] = name
    assert len(side) == len(p.identities.items) == 45 + 36 + 1 + 24
    assert p.test == [] and p.holdout == [] and p.dropped_with_holdout == 0
    ids = [r.isic_id for recs in splits.values() for r in recs if r.isic_id]
    assert len(ids) == len(set(ids))

    for source in ("ham", "extra"):  # lesions and CSV groups never straddle the split
        groups = _lesions(p, source)
        assert len(groups) == (36 if source == "ham" else 12)
        for g, members in groups.items():
            assert len({side[i] for i in members}) == 1, g
    assert len(_lesions(p, "ham")["ham:HAM_0000000"]) == 2
    by_id = {c.isic_id: i for i in p.identities.items for c in i.copies if c.isic_id}
    twin = by_id["ISIC_0009999"]
    ham21 = next(iter(_lesions(p, "ham")["ham:HAM_0000021"]))
    assert twin.identity != ham21 and side[twin.identity] == side[ham21]

    # Stratified by class and by source: every stratum is split about 60/20/20.
    strata = Counter(f"{r.label}|{r.source}" for recs in splits.values() for r in recs)
    assert {s for s, n in strata.items() if n >= 10} == {
        f"{MEL}|ham",
        f"{NEV}|ham",
        f"{PBK}|ham",
        f"{MEL}|kaggle",
        f"{NEV}|kaggle",
        f"{BCC}|kaggle",
        f"{VASC}|extra",
        f"{MEL}|extra",
    }
    for stratum, n in strata.items():
        for name in ("val", "internal_test"):
            k = sum(f"{r.label}|{r.source}" == stratum for r in splits[name])
            assert abs(k - 0.2 * n) <= 2, (stratum, name, k, n)

    # Augmentor balanced only the training split, inside the run; the split was saved.
    assert p.augmented and all(run / "work" in r.path.parents for r in p.augmented)
    assert all(p.balance.after[c] >= min(12, 4 * p.balance.before[c]) for c in p.balance.before)
    saved = json.loads((run / "split.json").read_text())
    for name, records in splits.items():
        assert [row["path"] for row in saved[name]] == [str(r.path) for r in records]
    assert saved["holdout"] == [] and saved["holdout_source"] == ""
    assert [s["name"] for s in json.loads((run / "audit.json").read_text())["sources"]] == [
        "ham",
        "kaggle",
        "extra",
    ]
    assert [tree_hash(d) for d in data] == before


def test_holdout_source_is_never_trained_on(split_data):
    root, data = split_data
    ham, kaggle, _ = data
    run = root / "run-holdout"
    p = prepare(_config(data, run, holdout_source="kaggle"), run)
    items = p.identities.items
    held = [i for i in items if "kaggle" in i.sources]
    held_groups = {i.group for i in held}
    used = p.train + p.val + p.internal_test
    item_of = {i.path: i for i in items}

    # The held-out list: one record per identity the source holds, the source's own copy
    # (its pixels, its look), with the resolved label.
    assert len(p.holdout) == len(held) == 36 + 6 + 1
    assert all(r.source == "kaggle" and kaggle in r.path.parents for r in p.holdout)
    copies = [r for r in p.holdout if r.isic_id and int(r.isic_id[5:]) >= 24400]
    assert len(copies) == 6  # HAM images kaggle also holds: their kept copy is HAM's ...
    assert all(item_of[ham / "HAM10000_images" / r.path.name].label == r.label for r in copies)
    # ... and neither they nor other images of their lesions nor near-duplicates are used.
    for r in used:
        item = item_of[r.path]
        assert "kaggle" not in item.sources and item.group not in held_groups, r.path.name
    # Left out altogether: ISIC_0024406, the other image of lesion HAM_0000004 (whose first
    # image, 24405, kaggle also holds), and ISIC_0024427 (HAM_0000021), ISIC_0009999's twin.
    dropped = [i for i in items if "kaggle" not in i.sources and i.group in held_groups]
    assert sorted(i.record.image_id for i in dropped) == [isic(24406), isic(24427)]
    assert p.dropped_with_holdout == 2
    assert not {r.image_id for r in used + p.holdout} & {isic(24406), isic(24427)}
    assert len(used) + len(p.holdout) + p.dropped_with_holdout == len(items)
    saved = json.loads((run / "split.json").read_text())
    assert saved["holdout_source"] == "kaggle" and len(saved["holdout"]) == len(held)

    with pytest.raises(DatasetError, match="not one of the sources or origins: extra, ham, kaggle"):
        prepare(_config(data, root / "run-bad", holdout_source="isic2017"), root / "run-bad")


# ISIC 2020 and the origins inside HAM10000 --------------------------------------------------

I20_HEADER = ["image_name", "patient_id", "sex", "diagnosis", "benign_malignant", "target"]


def isic2020_source(root: Path, rows: list[tuple[int, str, str, str]]) -> Path:
    """ISIC 2020 as published: ISIC_2020_Training_GroundTruth.csv + train/ISIC_*.jpg.
    rows: (ISIC number, patient_id, diagnosis, target); benign_malignant follows target."""
    for n, _, _, _ in rows:
        lesion(root / "train" / f"{isic(n)}.jpg", n)
    write_csv(
        root / "ISIC_2020_Training_GroundTruth.csv",
        I20_HEADER,
        [
            [isic(n), pid, "female", dx, "malignant" if t == "1" else "benign", t]
            for n, pid, dx, t in rows
        ],
    )
    return root


I20_ROWS = [
    *((8000 + i, "IP_0000001", "unknown", "0") for i in range(4)),
    (8004, "IP_0000001", "melanoma", "1"),
    (8005, "IP_0000002", "nevus", "0"),
    (8006, "IP_0000002", "seborrheic keratosis", "0"),
    (8007, "IP_0000002", "lentigo NOS", "0"),
    (8008, "IP_0000002", "unknown", "0"),
    (8009, "IP_0000003", "melanoma", "0"),  # target says benign: left out, counted
    (8010, "IP_0000003", "unknown", "1"),  # target says melanoma: left out, counted
    (8011, "IP_0000003", "melanoma", "1"),
]


def test_isic2020_reads_patients_partial_labels_and_melanoma(tmp_path):
    i20 = isic2020_source(tmp_path / "isic2020", I20_ROWS)
    before = tree_hash(i20)
    (src,) = read_sources([str(i20)], LabelMap())
    assert src.format == "isic2020"
    assert src.per_class() == {BENIGN_UNSPECIFIED: 5, MEL: 2, NEV: 1, PBK: 1, SK: 1}
    assert src.problems == {
        "diagnosis and target disagree": {"count": 2, "example": f"{isic(8009)}.jpg"}
    }
    by_id = {r.image_id: r for r in src.records}
    assert isic(8009) not in by_id and isic(8010) not in by_id
    # patient_id groups a patient's images (one side of any split); challenge-level trust.
    assert {by_id[isic(n)].group for n in range(8000, 8005)} == {"isic2020:IP_0000001"}
    assert by_id[isic(8011)].group == "isic2020:IP_0000003"
    assert all(r.rank == EVIDENCE_RANK["challenge"] for r in src.records)
    # unknown: benign, no class: a partial label allowing every class but melanoma.
    unknown = by_id[isic(8000)]
    assert (unknown.raw_label, unknown.label) == ("unknown", BENIGN_UNSPECIFIED)
    assert LabelMap().lookup("unknown").allows == frozenset(CLASSES) - {MEL}
    assert (by_id[isic(8004)].label, by_id[isic(8007)].label) == (MEL, PBK)
    assert all(r.origin == "" and r.origin_name == "isic2020" for r in src.records)
    assert tree_hash(i20) == before


def origin_sources(root: Path) -> tuple[Path, Path, Path]:
    """ham: 24 lesions (ISIC 24500+k), origins rosendahl / vidir_modern / vidir_molemax in
    turn, classes mel / nv / bkl; lesion 0 (rosendahl) has a second image from vidir_modern
    (24600), lesion 1 (vidir_modern) a second from vidir_molemax (24601); kaggle: copies of the
    first two rosendahl images (24500, 24503) and 12 images of its own; isic2020: I20_ROWS."""
    rows, origins = [], {}
    for k in range(24):
        n = 24500 + k
        rows.append((f"HAM_{k:07d}", n, ("mel", "nv", "bkl")[k % 3], "histo"))
        origins[n] = ("Rosendahl", "vidir_modern", "vidir_molemax")[k % 3]  # case as it comes
    rows += [("HAM_0000000", 24600, "mel", "histo"), ("HAM_0000001", 24601, "nv", "histo")]
    origins |= {24600: "vidir_modern", 24601: "vidir_molemax"}
    ham = ham_source(root / "ham", rows, origins=origins)
    kaggle = root / "kaggle"
    for n, cls in ((24500, MEL), (24503, MEL)):
        lesion(kaggle / cls / f"{isic(n)}.jpg", n, side=96, quality=70)
    for i in range(12):
        lesion(kaggle / (MEL, NEV)[i % 2] / f"{isic(300 + i)}.jpg", 300 + i)
    return ham, kaggle, isic2020_source(root / "isic2020", I20_ROWS)


def test_ham_dataset_column_is_the_origin(tmp_path):
    ham, _, _ = origin_sources(tmp_path)
    (src,) = read_sources([str(ham)], LabelMap())
    origin = {r.image_id: r.origin for r in src.records}
    assert Counter(origin.values()) == {"rosendahl": 8, "vidir_modern": 9, "vidir_molemax": 9}
    assert (origin[isic(24500)], origin[isic(24600)]) == ("rosendahl", "vidir_modern")
    assert {r.origin_name for r in src.records} == {"rosendahl", "vidir_modern", "vidir_molemax"}
    plain = ham_source(tmp_path / "plain-ham", [("HAM_1", 24306, "nv", "histo")])
    (old,) = read_sources([str(plain)], LabelMap())  # no dataset column: the source is the origin
    assert (old.records[0].origin, old.records[0].origin_name) == ("", "plain-ham")


@pytest.fixture(scope="module")
def origin_data(tmp_path_factory):
    root = tmp_path_factory.mktemp("origins")
    return root, origin_sources(root / "data")


def test_holdout_origin_holds_out_exactly_its_images(origin_data):
    root, data = origin_data
    before = [tree_hash(p) for p in data]
    run = root / "run-rosendahl"
    p = prepare(_config(data, run, holdout_source="rosendahl"), run)
    items = p.identities.items
    held = [i for i in items if any(c.origin == "rosendahl" for c in i.copies)]
    assert len(held) == 8
    # The held-out list: one record per rosendahl image, HAM's rosendahl copy (its pixels), even
    # where kaggle holds another copy; no other origin's and no other source's image.
    assert sorted(r.image_id for r in p.holdout) == sorted(i.record.image_id for i in held)
    assert all(r.origin_name == "rosendahl" and r.source == "ham" for r in p.holdout)
    assert {r.image_id for r in p.holdout} >= {isic(24500), isic(24503)}
    # Lesion 0's vidir_modern image is another image of a held-out lesion: used nowhere.
    assert p.dropped_with_holdout == 1
    used = p.train + p.val + p.internal_test + p.test
    assert isic(24600) not in {r.image_id for r in used + p.holdout}
    held_groups = {i.group for i in held}
    item_of = {i.path: i for i in items}
    for r in used:
        item = item_of[r.path]
        assert item.group not in held_groups and "rosendahl" not in {
            c.origin_name for c in item.copies
        }, r.path.name
    assert {r.origin_name for r in used} == {"vidir_modern", "vidir_molemax", "kaggle", "isic2020"}
    assert len(used) + len(p.holdout) + p.dropped_with_holdout == len(items)
    assert json.loads((run / "split.json").read_text())["holdout_source"] == "rosendahl"
    assert [tree_hash(p) for p in data] == before


def test_unknown_holdout_name_lists_sources_and_origins(origin_data):
    root, data = origin_data
    run = root / "run-bad"
    names = "ham, isic2020, kaggle, rosendahl, vidir_modern, vidir_molemax"
    with pytest.raises(
        DatasetError, match=f"'vienna_dias' is not one of the sources or origins: {names}$"
    ):
        prepare(_config(data, run, holdout_source="vienna_dias"), run)


def test_benign_unspecified_never_reaches_nine_class_training(origin_data):
    root, data = origin_data
    run = root / "run-all"
    p = prepare(_config(data, run), run)
    unknowns = sum(dx == "unknown" and t == "0" for _, _, dx, t in I20_ROWS)
    (i20,) = [s for s in p.sources if s.name == "isic2020"]
    assert i20.problems["benign with no class (not used for nine-class training)"]["count"] == (
        unknowns
    )
    assert BENIGN_UNSPECIFIED not in {i.label for i in p.identities.items}
    assert set(p.classes) <= set(CLASSES)
    every = p.train + p.augmented + p.val + p.internal_test + p.test + p.holdout
    assert every and all(r.label in CLASSES for r in every)
    assert {r.image_id for r in every if r.source == "isic2020"} == {
        isic(n) for n in (8004, 8005, 8006, 8007, 8011)
    }
    saved = json.loads((run / "split.json").read_text())
    assert all(row["class"] in CLASSES for name in ("train", *EVAL_SPLITS) for row in saved[name])
    audit_json = json.loads((run / "audit.json").read_text())
    assert BENIGN_UNSPECIFIED not in audit_json["per_class"]
    assert json.loads((run / "balance.json").read_text())["after"].keys() <= set(CLASSES)


# Label map overrides ---------------------------------------------------------------------------


def test_label_map_override_file(tmp_path):
    mapping = tmp_path / "labels.json"
    mapping.write_text(
        json.dumps(
            {
                "Solar Lentigo": PBK,
                "bkl": None,
                "akiec": {"default": SCC, "allows": [AK]},
            }
        )
    )
    labels = LabelMap.from_file(mapping)
    assert labels.lookup("solar_lentigo").default == PBK
    assert labels.lookup("bkl") is None
    assert labels.lookup("akiec").default == SCC and labels.lookup("akiec").allows == {SCC, AK}
    assert labels.lookup("mel").default == MEL  # terms not overridden keep the built-in map

    ham = ham_source(
        tmp_path / "ham",
        [
            ("HAM_1", 24306, "bkl", "histo"),
            ("HAM_2", 24307, "bkl", "histo"),
            ("HAM_3", 24308, "akiec", "histo"),
            ("HAM_4", 24309, "mel", "histo"),
            ("HAM_5", 24310, "nv", "histo"),
        ],
    )
    plain = tmp_path / "plain"
    for i in range(3):
        lesion(plain / f"l{i}.jpg", 600 + i)
    write_csv(
        plain / "labels.csv", ["image", "label"], [[f"l{i}.jpg", "solar lentigo"] for i in range(3)]
    )
    sources = {s.name: s for s in read_sources([str(ham), str(plain)], labels)}
    assert sources["ham"].per_class() == {MEL: 1, NEV: 1, SCC: 1}
    assert sources["ham"].problems == {
        "label not in the label map: bkl": {"count": 2, "example": "ISIC_0024306.jpg"}
    }
    assert sources["plain"].per_class() == {PBK: 3}

    run = tmp_path / "run"
    run.mkdir()  # run() makes the run folder before prepare()
    p = prepare(
        TrainConfig(
            data=(str(ham), str(plain)), out=str(run), label_map=str(mapping), balance_target="none"
        ),
        run,
    )
    assert p.classes == (MEL, NEV, PBK, SCC)
    assert json.loads((run / "audit.json").read_text())["sources"][0]["problems"] == (
        sources["ham"].problems
    )

    for content, message in (
        ({"mel": "melanomma"}, r"'mel' maps to unknown class\(es\) melanomma"),
        ({"akiec": {"default": AK, "allows": ["bowen"]}}, r"unknown class\(es\) bowen"),
        ({"mel": {"allows": [MEL]}}, "must map to a class name, null or"),
        ({"mel": 3}, "must map to a class name, null or"),
        (["mel", MEL], "expected a JSON object"),
        ("{not json", "label map .*bad.json"),
    ):
        bad = tmp_path / "bad.json"
        bad.write_text(content if isinstance(content, str) else json.dumps(content))
        with pytest.raises(ValueError, match=message):
            LabelMap.from_file(bad)
    bad.write_text(json.dumps({"nv": "naevus"}))
    proc = audit(ham, args=("--label-map", str(bad)))
    assert proc.returncode == 2 and "error: label map: 'nv' maps to unknown class" in proc.stderr


# 5. Past one machine ---------------------------------------------------------------------------


def _free_ports(n: int) -> list[int]:
    socks = [socket.socket() for _ in range(n)]
    for s in socks:
        s.bind(("localhost", 0))
    ports = [s.getsockname()[1] for s in socks]
    for s in socks:
        s.close()
    return ports


@pytest.mark.slow
def test_multiworker_strategy_trains_one_model_on_two_local_workers(tmp_path):
    data = make_dataset(tmp_path / "data", classes=(MEL, NEV, VASC), per_class=8, size=40)
    cluster = {"worker": [f"localhost:{port}" for port in _free_ports(2)]}
    procs, logs = [], []
    for index in range(2):
        tf_config = {"cluster": cluster, "task": {"type": "worker", "index": index}}
        env = {
            **os.environ,
            "TF_CONFIG": json.dumps(tf_config),
            "TF_CPP_MIN_LOG_LEVEL": "0",
            "CUDA_VISIBLE_DEVICES": "",
        }
        logs.append(open(tmp_path / f"worker{index}.log", "w"))  # noqa: SIM115
        procs.append(
            subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "trainer",
                    *("--data", str(data), "--out", str(tmp_path / f"run{index}")),
                    *(
                        "--strategy",
                        "multiworker",
                        "--arch",
                        "resnet",
                        "--image-size",
                        "32",
                        "--width",
                        "8",
                    ),
                    *("--epochs", "1", "--batch-size", "16", "--balance-target", "14"),
                    *("--no-augment", "--val-fraction", "0.25", "--test-fraction", "0"),
                    *("--warmup-epochs", "0", "--ema", "0", "--max-int8-drop", "1"),
                ],
                cwd=ROOT,
                env=env,
                stdout=logs[-1],
                stderr=subprocess.STDOUT,
            )
        )
    try:
        codes = [proc.wait(timeout=300) for proc in procs]
    finally:
        for proc in procs:  # a worker whose peer died waits for it forever
            if proc.poll() is None:
                proc.kill()
                proc.wait()
        for log in logs:
            log.close()
    out = [(tmp_path / f"worker{i}.log").read_text(errors="replace") for i in range(2)]
    why = ["\n".join([x for x in o.splitlines() if "Error" in x][-3:] or o[-2000:]) for o in out]
    assert codes == [0, 0], "\n---\n".join(why)

    from desktop.card import load_card

    run0, run1 = tmp_path / "run0", tmp_path / "run1"
    assert (run0 / "model.tflite").stat().st_size > 0
    assert load_card(run0 / "model.json").classes == (MEL, NEV, VASC)
    assert json.loads((run0 / "config.json").read_text())["strategy"] == "multiworker"
    assert "/job:worker/replica:0/task:1 has connected" in out[0]  # the chief saw its peer
    # One model trained together: the learnt weights agree on both workers (batch-norm
    # statistics are each worker's own).
    import keras

    a, b = (keras.models.load_model(r / "model.keras") for r in (run0, run1))
    assert all(
        np.array_equal(np.asarray(x), np.asarray(y))
        for x, y in zip(a.trainable_weights, b.trainable_weights, strict=True)
    )
