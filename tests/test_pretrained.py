"""ImageNet Lite0/Lite1 weights: read without torch, refused when tampered, mapped onto the
right layers."""

from __future__ import annotations

import os
import pickle
from pathlib import Path

import keras
import numpy as np
import pytest

from trainer.model_spec import build_lite, build_model, lite_blocks_total
from trainer.pretrained import lite_weight_file, load_lite, read_legacy_torch


@pytest.fixture(scope="module")
def state() -> dict[str, np.ndarray]:
    return read_legacy_torch(lite_weight_file())


def test_packaged_weights_are_read_without_torch(state) -> None:
    import sys

    assert "torch" not in sys.modules
    assert state["_conv_stem.weight"].shape == (32, 3, 3, 3)
    assert state["_blocks.15._project_conv.weight"].shape == (320, 1152, 1, 1)
    assert state["_fc.weight"].shape == (1000, 1280)
    conv_and_bn = [v for k, v in state.items() if v.dtype == np.float32]
    assert (
        sum(v.size for v in conv_and_bn) == 4_694_024
    )  # EfficientNet-Lite0: 4.69 M floats with BN statistics
    assert all(np.isfinite(v).all() for v in conv_and_bn)
    assert min(v.min() for k, v in state.items() if k.endswith("running_var")) >= 0


def _legacy_file(path: Path, payload: object) -> Path:
    with path.open("wb") as f:
        for header in (0x1950A86A20F9469CFC6C, 1001, {"little_endian": True}):
            pickle.dump(header, f)
        pickle.dump(payload, f)
        pickle.dump([], f)
    return path


class _Evil:
    def __reduce__(self):
        return (os.system, ("echo pwned",))


def test_a_tampered_weight_file_runs_no_code(tmp_path: Path) -> None:
    with pytest.raises(pickle.UnpicklingError, match="unexpected object"):
        read_legacy_torch(_legacy_file(tmp_path / "evil.pth", {"x": _Evil()}))


def test_a_truncated_weight_file_is_refused(tmp_path: Path) -> None:
    original = lite_weight_file().read_bytes()
    cut = tmp_path / "cut.pth"
    cut.write_bytes(original[: len(original) // 2])
    with pytest.raises(ValueError, match="truncated"):
        read_legacy_torch(cut)


def _smooth_images(rng: np.random.Generator, size: int = 96) -> np.ndarray:
    low = rng.uniform(0, 255, (16, 6, 6, 3)).astype("float32")  # smooth colour blobs
    return np.clip(
        keras.ops.convert_to_numpy(keras.ops.image.resize(low, (size, size), "bicubic")), 0, 255
    )


def _bn_mean_agreement(backbone, x: np.ndarray) -> float:
    """Median correlation between each BN layer's input channel means and its running mean.

    With ImageNet weights in the right layers and the right axis order, the activations
    on image-like input follow the statistics the network was trained with; weights in
    the wrong place or with scrambled channels do not.
    """
    bns = [
        layer
        for layer in backbone.layers
        if isinstance(layer, keras.layers.BatchNormalization) and layer.name != "head_bn"
    ]
    outs = keras.Model(backbone.input, [b.input for b in bns])(x, training=False)
    r = [
        np.corrcoef(np.asarray(o).mean(axis=(0, 1, 2)), b.get_weights()[2])[0, 1]
        for b, o in zip(bns, outs, strict=True)
    ]
    return float(np.median(r))


def test_weights_land_on_the_right_layers(state) -> None:
    rng = np.random.default_rng(0)
    x = _smooth_images(rng)

    right = build_lite(96, 11, 16)
    assert load_lite(right, state) == 11
    assert _bn_mean_agreement(right, x) > 0.7

    # Same tensors, channels scrambled: the statistics no longer agree.
    perm = {
        k: (v[rng.permutation(v.shape[0])] if v.ndim == 4 and v.shape[0] > 3 else v)
        for k, v in state.items()
    }
    wrong = build_lite(96, 11, 16)
    load_lite(wrong, perm)
    assert _bn_mean_agreement(wrong, x) < 0.5


def test_all_blocks_and_the_model_wrapper(state) -> None:
    full = build_lite(64, lite_blocks_total("lite0"), 8)
    assert load_lite(full, state) == lite_blocks_total("lite0") == 16
    assert full.output_shape == (None, 2, 2, 8)  # 1/32 resolution after all 16 blocks
    parts = build_model(3, 64, 8, 0.0, augment=False, arch="lite0", lite_blocks=11)
    assert parts.backbone.output_shape == (None, 4, 4, 8)  # 1/16 after 11 blocks
    with pytest.raises(ValueError, match="blocks"):
        build_lite(64, 0)
    with pytest.raises(ValueError, match="architecture"):
        build_model(3, 64, 8, 0.0, arch="vgg")


def test_frozen_blocks_keep_their_weights_and_statistics_through_training() -> None:
    import keras

    from trainer.config import TrainConfig
    from trainer.model_spec import build_model_for

    config = TrainConfig(image_size=32, width=8, lite_blocks=4, freeze_blocks=2, augment=False)
    parts = build_model_for(config, 3)
    layers = parts.backbone.layers
    frozen = {layer.name for layer in layers if not layer.trainable and layer.weights}
    assert frozen and all(n.startswith(("lite_stem", "lite_b0_", "lite_b1_")) for n in frozen)
    assert any(n.startswith("lite_b1_") for n in frozen)
    assert all(layer.trainable for layer in layers if layer.name.startswith("lite_b2_"))

    def snapshot(prefix: str) -> list[np.ndarray]:
        """Weights and batch-norm moving statistics of the layers named ``prefix…``."""
        return [
            w.numpy().copy() for lay in layers if lay.name.startswith(prefix) for w in lay.weights
        ]

    before = {p: snapshot(p) for p in ("lite_stem", "lite_b0_", "lite_b2_")}
    parts.model.compile(optimizer=keras.optimizers.Adam(1e-2), loss="categorical_crossentropy")
    rng = np.random.default_rng(0)
    x = rng.uniform(0, 255, (8, 32, 32, 3)).astype(np.float32)
    parts.model.train_on_batch(x, keras.utils.to_categorical(rng.integers(0, 3, 8), 3))
    for prefix in ("lite_stem", "lite_b0_"):
        after = snapshot(prefix)
        assert all(np.array_equal(a, b) for a, b in zip(before[prefix], after, strict=True))
    after = snapshot("lite_b2_")
    assert not all(np.array_equal(a, b) for a, b in zip(before["lite_b2_"], after, strict=True))
    with pytest.raises(ValueError, match="freeze_blocks"):
        TrainConfig(lite_blocks=4, freeze_blocks=5)
    with pytest.raises(ValueError, match="freeze_blocks"):
        TrainConfig(arch="resnet", freeze_blocks=1)


def test_lite1_weights_land_on_its_deeper_stages() -> None:
    """Lite1: Lite0's channels with more blocks per middle stage (21 in all). Its first 15 end
    at 1/16 resolution with 112 channels, as Lite0's 11 do, and its ImageNet statistics agree
    with its activations only when every block gets its own weights."""
    from trainer.config import LITE_BLOCKS, TrainConfig

    state1 = read_legacy_torch(lite_weight_file("lite1"))
    assert lite_blocks_total("lite1") == LITE_BLOCKS["lite1"] == 21
    assert lite_blocks_total("lite0") == LITE_BLOCKS["lite0"] == 16
    assert state1["_blocks.20._project_conv.weight"].shape == (320, 1152, 1, 1)
    net = build_lite(96, 15, 16, "lite1")
    assert net.get_layer("lite_b14_project").output.shape[-1] == 112
    assert net.output_shape == (None, 6, 6, 16)  # 1/16 resolution
    assert load_lite(net, state1, "lite1") == 15
    assert _bn_mean_agreement(net, _smooth_images(np.random.default_rng(1))) > 0.7
    with pytest.raises(ValueError, match="not compatible"):  # Lite0's weights do not fit Lite1
        load_lite(build_lite(64, 15, 8, "lite1"), read_legacy_torch(lite_weight_file()), "lite1")
    with pytest.raises(ValueError, match="blocks must be in 1..21"):
        build_lite(64, 22, 8, "lite1")
    with pytest.raises(ValueError, match="lite_blocks must be in 1..16"):
        TrainConfig(arch="lite0", lite_blocks=17)
    assert TrainConfig(arch="lite1", lite_blocks=21).model_width == 192


def test_imagenet_features_are_the_whole_network_with_its_own_head(state) -> None:
    """All 16 blocks and ImageNet's 1,280-channel head, every layer loaded: what the scope probe
    reads (benchmarks.scope_general)."""
    from trainer.pretrained import imagenet_features

    model = imagenet_features(64)
    assert model.output_shape == (None, 1280)
    bn = model.get_layer("head_bn").get_weights()
    assert np.array_equal(bn[2], state["_bn1.running_mean"])
    head = model.get_layer("head_conv").get_weights()[0]
    assert np.array_equal(head, state["_conv_head.weight"].transpose(2, 3, 1, 0))
    x = _smooth_images(np.random.default_rng(2), 64)
    assert np.all(np.asarray(model(x)) >= 0)  # after ReLU6
