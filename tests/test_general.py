"""The general-purpose network beside the lesion model: sealed in the card, run on the same
test-time views, its features appended to the descriptor the "is this dermoscopy" decision reads."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from desktop.card import CardError, ModelCard
from desktop.descriptor import DESCRIPTOR, read_parts
from desktop.general import GeneralError, GeneralSpec, shrink
from desktop.imaging import preprocess
from desktop.inference import Classifier, ModelLoadError
from desktop.scope import DermoscopyScope, ScopeError
from tests.general_card import (
    ASSETS,
    FEATURES,
    SIZE,
    assets_with,
    card_data,
    general_scope,
    image,
    plain_model,
)


def test_the_descriptor_gains_the_general_features_and_nothing_else_changes(
    tmp_path: Path, tiny_general
) -> None:
    plain = Classifier(plain_model(tmp_path / "plain"))
    both = Classifier(assets_with(tmp_path, tiny_general))
    arr = preprocess(image(), plain.card.preprocessing)
    a, b = plain.views(arr), both.views(arr)
    width = len(plain.card.cam_weights) * len(DESCRIPTOR)
    assert a.descriptor.shape == (width,) and b.descriptor.shape == (width + FEATURES,)
    np.testing.assert_allclose(b.descriptor[:width], a.descriptor)
    np.testing.assert_allclose(b.probabilities, a.probabilities)
    assert np.all(np.isfinite(b.descriptor[width:])) and np.ptp(b.descriptor[width:]) > 0
    # a mirror image has the same views, so the same view-mean features
    flipped = both.views(np.ascontiguousarray(arr[:, ::-1]))
    np.testing.assert_allclose(flipped.descriptor, b.descriptor, rtol=1e-4, atol=1e-5)
    # the shipped scope reads its own parts of the wider row: the same verdict
    assert both.predict_image(image()).scope_issues == plain.predict_image(image()).scope_issues


def test_a_damaged_or_missing_general_network_is_refused_at_load(
    tmp_path: Path, tiny_general
) -> None:
    model = assets_with(tmp_path, tiny_general)
    data = bytearray((tmp_path / "general.tflite").read_bytes())
    data[len(data) // 2] ^= 0xFF
    (tmp_path / "general.tflite").write_bytes(bytes(data))
    with pytest.raises(ModelLoadError, match="does not match the card's seal"):
        Classifier(model)
    (tmp_path / "general.tflite").unlink()
    with pytest.raises(ModelLoadError, match="not found"):
        Classifier(model)


def test_the_card_checks_the_general_block(tmp_path: Path, tiny_general) -> None:
    with pytest.raises(ModelLoadError, match="gives 6 features"):
        Classifier(assets_with(tmp_path, tiny_general, features=7))
    for bad, words in (
        ({"file": "../general.tflite"}, "plain .tflite file name"),
        ({"sha256": "ABC"}, "64 lower-case hex"),
        ({"size": 8}, "32 or more"),
        ({"features": True}, "positive whole number"),
    ):
        with pytest.raises(GeneralError, match=words):
            GeneralSpec.from_dict({**tiny_general[1], **bad})
    data = card_data()
    data["scope"] = general_scope(data)
    with pytest.raises(CardError, match="general network's features the card does not name"):
        ModelCard.from_dict(data)


def test_a_scope_that_reads_the_general_features_needs_all_of_them() -> None:
    channels, general = 3, 2
    dim = channels * len(DESCRIPTOR) + general
    block = {
        "method": "dermoscopy-vs-other-logistic",
        "inputs": "mean+spatial+general",
        "general_features": general,
        "mean": [0.0] * dim,
        "scale": [1.0] * dim,
        "weights": [0.0] * (dim - 1) + [1.0],
        "bias": 0.0,
        "threshold": -1.0,
    }
    scope = DermoscopyScope.from_dict(block, channels=channels)
    row = np.zeros(dim)
    row[-1] = 5.0
    assert scope.score(row) == pytest.approx(5.0)
    with pytest.raises(ValueError, match="with the general network"):
        scope.score(row[: channels * len(DESCRIPTOR)])
    with pytest.raises(ScopeError, match="general_features"):
        DermoscopyScope.from_dict({**block, "general_features": 0}, channels=channels)
    # a scope of the mean alone still reads the first numbers of a row with general features
    assert read_parts(row, channels).tolist() == [0.0] * channels
    with pytest.raises(ValueError, match="expected 3 features"):
        read_parts(row[:5], channels)


def test_views_shrink_by_whole_blocks() -> None:
    x = np.arange(2 * 8 * 8 * 3, dtype=np.float32).reshape(2, 8, 8, 3)
    small = shrink(x, 4)
    assert small.shape == (2, 4, 4, 3)
    assert small[1, 0, 0, 2] == pytest.approx(x[1, :2, :2, 2].mean())
    np.testing.assert_allclose(shrink(x[:, ::-1], 4), small[:, ::-1])
    with pytest.raises(GeneralError, match="whole blocks"):
        shrink(x, 3)


def test_the_feature_cache_knows_the_general_network(tmp_path: Path, tiny_general) -> None:
    from desktop.features import cache_key

    plain = Classifier(plain_model(tmp_path / "plain"))
    both = Classifier(assets_with(tmp_path, tiny_general))
    assert cache_key(plain) != cache_key(both)


def test_an_adapted_model_takes_its_general_network_along(tmp_path: Path, tiny_general) -> None:
    """``adapt`` writes a new folder: the card it writes still names the general network, so the
    network must be there too, unchanged (the seal is checked at load)."""
    import contextlib
    import io

    from conftest import make_dataset

    from desktop.adapt.run import main as adapt_main

    (tmp_path / "base").mkdir()
    model = assets_with(tmp_path / "base", tiny_general)
    clinic = tmp_path / "clinic"
    make_dataset(clinic, classes=("melanoma",), per_class=20, size=96, seed=1)
    make_dataset(clinic, classes=("nevus",), per_class=20, size=96, seed=2, first_id=500)
    out = tmp_path / "out"
    args = ["--data", str(clinic), "--out", str(out), "--model", str(model), "--force"]
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        assert adapt_main([*args, "--folds", "3"]) == 0
    assert (out / "general.tflite").read_bytes() == (
        tmp_path / "base" / "general.tflite"
    ).read_bytes()
    adapted = Classifier(out / "model.tflite")
    assert adapted.general is not None and adapted.card.head is not None
    arr = preprocess(image(), adapted.card.preprocessing)
    assert adapted.views(arr).descriptor.shape[-1] == len(adapted.card.cam_weights) * 4 + FEATURES


def test_the_model_card_says_the_decision_reads_a_general_network(tiny_general) -> None:
    from desktop import verdict

    data = card_data()
    plain = ModelCard.from_dict(data)
    data["general"] = tiny_general[1]
    data["scope"] = general_scope(data)
    words = "general-purpose image network"
    assert words in verdict.scope_note(ModelCard.from_dict(data))
    assert words not in verdict.scope_note(plain)


def test_trainer_general_installs_imagenet_lite0_beside_a_card(tmp_path: Path, capsys) -> None:
    """``python -m trainer general``: the file beside the card, its hash and size in the card, and
    the app loads it; a size that does not divide the card's views is refused, the card kept."""
    from trainer.__main__ import main

    plain_model(tmp_path)
    before = (tmp_path / "model.json").read_bytes()
    assert main(["general", "--card", str(tmp_path / "model.json"), "--size", "48"]) == 2
    assert "must divide" in capsys.readouterr().err
    assert (tmp_path / "model.json").read_bytes() == before
    card = ["general", "--card", str(tmp_path / "model.json"), "--size", "64"]
    assert main([*card, "--style"]) == 0  # no style maps: the pooled features alone
    assert json.loads(capsys.readouterr().out)["features"] == 1280
    assert main(card) == 0
    block = json.loads(capsys.readouterr().out)
    # the 1,280 pooled features, then the spread of each channel of the three style maps
    assert block["size"] == 64 and block["features"] == 1280 + 24 + 40 + 112
    assert block["style"] == ["lite_b2_add", "lite_b4_add", "lite_b10_add"]
    clf = Classifier(tmp_path / "model.tflite")
    assert clf.card.general is not None and clf.card.general.sha256 == block["sha256"]
    out = clf.views(preprocess(image(), clf.card.preprocessing))
    assert out.descriptor.shape == (len(clf.card.cam_weights) * len(DESCRIPTOR) + 1456,)


def test_a_calibrated_export_is_int8_and_reads_its_folders_only(
    tmp_path: Path, tiny_general
) -> None:
    from conftest import make_dataset
    from fakes import tree_hash

    from trainer.general import calibration_images, export

    data = make_dataset(tmp_path / "data", classes=("nevus",), per_class=5, size=64)
    (data / "nevus" / "broken.jpg").write_bytes(b"not an image")
    before = tree_hash(data)
    card = ModelCard.from_dict(json.loads((ASSETS / "model.json").read_text(encoding="utf-8")))
    rep = calibration_images([data], card.preprocessing, SIZE, per_folder=4)
    assert rep.shape == (4, SIZE, SIZE, 3) and tree_hash(data) == before
    with pytest.raises(ValueError, match="no .jpg or .png"):
        calibration_images([tmp_path / "data" / "missing"], card.preprocessing, SIZE)
    import keras

    image = keras.Input((SIZE, SIZE, 3))
    model = keras.Model(image, keras.layers.GlobalAveragePooling2D()(image), name="mean")
    block = export(tmp_path / "g.tflite", SIZE, model, representative=rep)
    assert block["quantization"] == "int8, calibrated on 4 images"
    from desktop.general import GeneralNetwork

    net = GeneralNetwork(GeneralSpec.from_dict(block), tmp_path)
    got = net.features(np.repeat(rep[:1], 2, axis=0).astype(np.uint8))
    np.testing.assert_allclose(got, rep[0].mean(axis=(0, 1)), rtol=0.05, atol=2.0)


def test_the_scope_rows_take_the_general_features_from_the_rows_or_beside_them(
    tmp_path: Path,
) -> None:
    from benchmarks.scope_sides import cut, load_rows

    card = ModelCard.from_dict(json.loads((ASSETS / "model.json").read_text(encoding="utf-8")))
    c = len(card.cam_weights)
    n = 5
    rng = np.random.default_rng(0)
    rows = {
        "labels": np.array(["nevus"] * n),
        "origins": np.array(["o1", "o1", "o2", "clinical-photos", "clinical-photos"]),
        "groups": np.array([f"g{i}" for i in range(n)]),
        "names": np.array([f"i{i}.jpg" for i in range(n)]),
        "probabilities": np.full((n, card.num_classes), 1 / card.num_classes),
        "pooled": rng.random((n, c)),
        "descriptors": rng.random((n, 4 * c)),
    }
    np.savez(tmp_path / "plain.npz", **rows)
    beside = rng.random((n, FEATURES))
    s = load_rows(tmp_path / "plain.npz", card, "mean+spatial+general", beside)
    assert s.x.shape == (n, 4 * c + FEATURES) and np.allclose(s.x[:, 4 * c :], beside)
    assert s.y.tolist() == [1, 1, 1, 0, 0]
    with pytest.raises(ValueError, match="no general network's features"):
        load_rows(tmp_path / "plain.npz", card, "mean+spatial+general")
    np.savez(tmp_path / "wide.npz", **rows, general=beside, general_sha256=np.array("0" * 64))
    s = load_rows(tmp_path / "wide.npz", card, "mean+spatial+general")
    assert np.allclose(s.x[:, 4 * c :], beside)
    assert load_rows(tmp_path / "wide.npz", card, "mean+spatial").x.shape == (n, 4 * c)
    row = np.arange(4 * c + FEATURES, dtype=float)[None]
    assert cut(row, "mean", card).shape == (1, c)
    assert cut(row, "mean+spatial", card).shape == (1, 4 * c)
    assert cut(row, "mean+spatial+general", card).shape == (1, 4 * c + FEATURES)
