"""The fixed low-pass inside the backbone (``--low-pass``): smooths, never trains, loads the
ImageNet weights as before, and survives a checkpoint."""

from __future__ import annotations

from pathlib import Path

import keras
import numpy as np
import pytest

from trainer.config import TrainConfig
from trainer.model_spec import build_model, build_model_for, gaussian_kernel, low_pass
from trainer.pretrained import lite_weight_file, load_lite, read_legacy_torch


def _checkerboard(size: int = 32) -> np.ndarray:
    yy, xx = np.mgrid[:size, :size]
    board = ((yy + xx) % 2).astype(np.float32) * 2.0 - 1.0
    return np.repeat(board[None, :, :, None], 3, axis=3)


def test_the_kernel_is_a_normalised_gaussian() -> None:
    k = gaussian_kernel(1.0)
    assert k.shape == (5, 5)
    assert k.sum() == pytest.approx(1.0, abs=1e-6)
    assert k[2, 2] == k.max() and np.allclose(k, k.T) and np.allclose(k, k[::-1, ::-1])


def test_it_removes_pixel_scale_detail_and_keeps_flat_colour() -> None:
    inputs = keras.Input((32, 32, 3))
    model = keras.Model(inputs, low_pass(inputs, 1.0))
    board = _checkerboard()
    out = np.asarray(model(board))
    inner = (slice(None), slice(4, -4), slice(4, -4))
    assert out[inner].std() < 0.05 * board[inner].std()  # a one-pixel pattern is gone
    flat = np.full((1, 32, 32, 3), 0.4, np.float32)
    assert np.allclose(np.asarray(model(flat))[inner], 0.4, atol=1e-5)  # flat colour kept
    # every channel alone: a red-only pattern does not leak into green
    red = np.zeros((1, 32, 32, 3), np.float32)
    red[..., 0] = board[..., 0]
    assert np.abs(np.asarray(model(red))[..., 1:]).max() == 0.0
    assert low_pass(inputs, 0.0) is inputs  # off: nothing added


def test_it_is_in_the_backbone_and_never_trained() -> None:
    parts = build_model(3, 64, 8, 0.0, augment=False, arch="lite0", blur=1.0)
    layer = parts.backbone.get_layer("low_pass")
    before = [w.copy() for w in layer.get_weights()]
    assert not layer.trainable and not layer.trainable_weights
    assert all(w.path != layer.weights[0].path for w in parts.model.trainable_weights)
    # one training step moves the network, not the blur
    parts.model.compile(optimizer=keras.optimizers.SGD(0.5), loss="mse")
    x = np.random.default_rng(0).uniform(0, 255, (4, 64, 64, 3)).astype(np.float32)
    parts.model.fit(x, np.eye(3, dtype=np.float32)[[0, 1, 2, 0]], epochs=1, verbose=0)
    assert np.array_equal(layer.get_weights()[0], before[0])
    # without the knob the backbone has no such layer (the shipped recipe is unchanged)
    plain = build_model(3, 64, 8, 0.0, augment=False, arch="lite0")
    assert "low_pass" not in {layer.name for layer in plain.backbone.layers}


def test_imagenet_weights_still_land_and_a_checkpoint_keeps_the_blur(tmp_path: Path) -> None:
    config = TrainConfig(arch="lite0", image_size=64, width=8, augment=False, low_pass=1.0)
    parts = build_model_for(config, 3)
    assert load_lite(parts.backbone, read_legacy_torch(lite_weight_file())) == 11
    path = tmp_path / "m.keras"
    parts.model.save(path)
    again = keras.models.load_model(path)
    x = np.random.default_rng(1).uniform(0, 255, (2, 64, 64, 3)).astype(np.float32)
    assert np.allclose(np.asarray(again(x)), np.asarray(parts.model(x)), atol=1e-5)


def test_the_knob_is_checked_and_travels_with_the_config() -> None:
    with pytest.raises(ValueError, match="low_pass"):
        TrainConfig(low_pass=4.0)
    with pytest.raises(ValueError, match="low_pass"):
        TrainConfig(low_pass=-0.5)
    config = TrainConfig(low_pass=1.2)
    assert TrainConfig.from_dict(config.to_dict()).low_pass == 1.2
    assert TrainConfig().low_pass == 0.0  # the shipped recipe has none


@pytest.mark.slow
def test_a_run_with_it_exports_an_int8_model_that_reads_as_the_float_one(tmp_path: Path) -> None:
    import json

    from desktop.card import load_card
    from desktop.imaging import load_image
    from desktop.inference import Classifier
    from tests.conftest import tiny_lite_run
    from trainer.evaluate import softmax
    from trainer.train import run

    cfg = tiny_lite_run(tmp_path, low_pass=1.0)
    out, data = tmp_path / "run", tmp_path / "data"
    run(cfg)
    assert json.loads((out / "config.json").read_text())["low_pass"] == 1.0
    model = keras.models.load_model(out / "model.keras")
    assert "low_pass" in {layer.name for layer in model.get_layer("backbone").layers}
    card = load_card(out / "model.json")
    files = sorted(data.rglob("*.jpg"))[:8]
    images = np.stack([load_image(p, card.preprocessing) for p in files])
    keras_probs = softmax(model.predict(images.astype(np.float32), verbose=0), card.temperature)
    lite_probs = np.stack([Classifier(out / "model.tflite").run(x)[0] for x in images])
    assert np.abs(keras_probs - lite_probs).max() < 0.1  # the blur made it into the int8 file
