"""The general network's style maps: per-channel statistics of inner layers appended to its pooled
features (desktop.general.style_statistics), exported as outputs of their own (trainer.general)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from desktop.general import GeneralError, GeneralNetwork, GeneralSpec, style_statistics
from desktop.imaging import preprocess, view_stack
from tests.general_card import SIZE, card_data, image

CHANNELS = 5


def test_style_statistics_are_the_spread_of_each_channel_whatever_the_turn() -> None:
    rng = np.random.default_rng(0)
    maps = rng.normal(0.3, 1.0, (2, 6, 6, CHANNELS)) * np.arange(1, CHANNELS + 1)
    got = style_statistics(maps)
    assert got.shape == (2, CHANNELS)
    np.testing.assert_allclose(got, maps.std(axis=(1, 2)))
    assert np.all(np.diff(got, axis=1) > 0)  # each channel its own spread, in order
    # where a channel fires moves under a flip or a quarter turn; how evenly does not
    turned = np.rot90(maps[:, ::-1], axes=(1, 2))
    np.testing.assert_allclose(style_statistics(turned), got)
    with pytest.raises(GeneralError, match="views, h, w, channels"):
        style_statistics(maps[0])


def _two_output_network(folder: Path):
    """A tiny network from images to [6 pooled features, a 5-channel map], and its export."""
    import keras

    from trainer.general import export

    keras.utils.set_random_seed(1)
    inputs = keras.Input((SIZE, SIZE, 3))
    x = keras.layers.Rescaling(1 / 255.0)(inputs)
    inner = keras.layers.Conv2D(CHANNELS, 3, strides=2, name="inner")(x)
    top = keras.layers.Conv2D(6, 3, activation="relu")(inner)
    pooled = keras.layers.GlobalAveragePooling2D()(top)
    model = keras.Model(inputs, [pooled, inner], name="tiny_style")
    block = export(folder / "general.tflite", SIZE, model, style=["inner"])
    return model, block


@pytest.fixture(scope="module")
def style_network(tmp_path_factory):
    folder = tmp_path_factory.mktemp("style")
    model, block = _two_output_network(folder)
    return folder, model, block


def test_the_export_names_its_style_maps_and_the_app_reads_their_statistics(
    style_network,
) -> None:
    from desktop.card import ModelCard
    from desktop.general import shrink

    folder, model, block = style_network
    assert block["style"] == ["inner"] and block["features"] == 6 + CHANNELS
    net = GeneralNetwork(GeneralSpec.from_dict(block), folder)
    card = ModelCard.from_dict(card_data())
    views = view_stack(preprocess(image(), card.preprocessing), card.test_time_views)
    got = net.features(views)
    assert got.shape == (block["features"],)
    pooled, inner = (np.asarray(v) for v in model.predict(shrink(views, SIZE), verbose=0))
    want = np.concatenate([pooled.mean(axis=0), style_statistics(inner).mean(axis=0)])
    np.testing.assert_allclose(got, want, rtol=0.02, atol=2e-3)  # float16 weights
    # a mirror image has the same eight views: the same numbers, the style's included
    mirror = view_stack(preprocess(image().transpose(0), card.preprocessing), card.test_time_views)
    np.testing.assert_allclose(net.features(mirror), got, rtol=1e-4, atol=1e-5)


def test_a_style_map_the_file_lacks_or_a_bad_style_list_is_refused(style_network) -> None:
    folder, _, block = style_network
    with pytest.raises(GeneralError, match="has no output 'deeper'"):
        GeneralNetwork(GeneralSpec.from_dict({**block, "style": ["deeper"]}), folder)
    with pytest.raises(GeneralError, match="gives 6 features"):  # the card's width without it
        GeneralNetwork(GeneralSpec.from_dict({**block, "style": []}), folder)
    for bad in ("inner", ["inner", "inner"], [block["output"]], [""], [3]):
        with pytest.raises(GeneralError, match="'style' must be a list of other tensor names"):
            GeneralSpec.from_dict({**block, "style": bad})


def test_a_scope_fitted_on_another_width_gives_way_to_its_own_distance(
    tmp_path: Path, tiny_general, style_network
) -> None:
    """A new general network of another width: the card's two-sided scope cannot read it, so it
    gives way to the one-sided distance it keeps until it is fitted again; the card still loads."""
    import json
    import shutil

    from desktop.inference import Classifier
    from tests.general_card import ASSETS, assets_with, general_scope
    from trainer.general import attach

    model = assets_with(tmp_path, tiny_general)
    card = tmp_path / "model.json"
    shipped = json.loads((ASSETS / "model.json").read_text(encoding="utf-8"))["scope"]
    familiar = shipped.get("familiar", shipped)  # the one-sided distance the shipped scope keeps
    data = json.loads(card.read_text(encoding="utf-8"))
    data["scope"] = {**general_scope(data), "familiar": familiar}
    card.write_text(json.dumps(data), encoding="utf-8")
    assert Classifier(model).card.scope.general == 6
    assert not attach(card, tiny_general[1])  # the same width: the scope stays
    assert json.loads(card.read_text(encoding="utf-8"))["scope"]["general_features"] == 6
    folder, _, block = style_network
    shutil.copy(folder / "general.tflite", tmp_path / "general.tflite")
    assert attach(card, block)
    assert json.loads(card.read_text(encoding="utf-8"))["scope"] == familiar
    clf = Classifier(model)
    from desktop.scope import ScopeModel

    assert clf.card.general.features == block["features"] and isinstance(clf.card.scope, ScopeModel)
