"""The general-purpose network beside the lesion model: its card block and its forward pass.

ImageNet's EfficientNet-Lite0, untouched by dermoscopy (``trainer.general`` exports it). The
"is this dermoscopy" decision reads its 1,280 pooled numbers and, where the card names style
maps, how evenly each channel of those inner layers fires (:func:`style_statistics`), all averaged
over the same test-time views as the lesion model, after the lesion model's descriptor
(``desktop.descriptor``): it still sees what marks a clinical photo (a face, a fold of skin, a
room, a flash's glare), which the lesion backbone learnt to ignore. Its file is sealed by
SHA-256 in the card, like the model's own, and checked before LiteRT parses it. No Qt, no
TensorFlow.
"""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from desktop.hashing import sha256_file
from desktop.lanes import Lanes

INPUT_NAME = "image"
FEATURES_OUTPUT = "general"
KEY = "general"  # the card's block
_FILE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*\.tflite")
_SHA = re.compile(r"[0-9a-f]{64}")


class GeneralError(ValueError):
    """The ``general`` block or its file cannot be used; ``str(err)`` names the problem."""


@dataclass(frozen=True)
class GeneralSpec:
    """The card's ``general`` block: which file (beside the model), its hash, its width."""

    file: str
    sha256: str
    features: int
    size: int  # its input side: the views are shrunk to it by averaging (a whole factor)
    input: str = INPUT_NAME
    output: str = FEATURES_OUTPUT
    # Inner layers' feature maps whose spread per channel follows the pooled features
    # (:func:`style_statistics`).
    style: tuple[str, ...] = ()

    @classmethod
    def from_dict(cls, data: Any) -> GeneralSpec:
        if not isinstance(data, Mapping):
            raise GeneralError("'general' must be an object")
        file, sha, n = data.get("file"), data.get("sha256"), data.get("features")
        if not (isinstance(file, str) and _FILE.fullmatch(file)):
            raise GeneralError("'general' 'file' must be a plain .tflite file name")
        if not (isinstance(sha, str) and _SHA.fullmatch(sha)):
            raise GeneralError("'general' 'sha256' must be 64 lower-case hex digits")
        if not (isinstance(n, int) and not isinstance(n, bool) and n > 0):
            raise GeneralError("'general' 'features' must be a positive whole number")
        size = data.get("size")
        if not (isinstance(size, int) and not isinstance(size, bool) and size >= 32):
            raise GeneralError("'general' 'size' must be a whole number of pixels, 32 or more")
        names = (data.get("input", INPUT_NAME), data.get("output", FEATURES_OUTPUT))
        if not all(isinstance(v, str) and v for v in names):
            raise GeneralError("'general' 'input' and 'output' must be tensor names")
        style = data.get("style", [])
        if not (
            isinstance(style, list)
            and all(isinstance(v, str) and v and v not in names for v in style)
            and len(set(style)) == len(style)
        ):
            raise GeneralError("'general' 'style' must be a list of other tensor names")
        return cls(file, sha, n, size, *names, tuple(style))


class GeneralNetwork:
    """The sealed general network, run on a batch of preprocessed views; thread-safe (lanes)."""

    def __init__(self, spec: GeneralSpec, folder: str | os.PathLike[str], num_threads: int = 1):
        self.spec = spec
        self.path = Path(folder) / spec.file
        if not self.path.is_file():
            raise GeneralError(f"general network file not found: {spec.file}")
        if sha256_file(self.path) != spec.sha256:
            raise GeneralError(
                f"{spec.file} does not match the card's seal (damaged or replaced file)"
            )
        self.lanes = Lanes(self.path, num_threads)
        lane = self.lanes.new()
        if spec.input not in lane.inputs or spec.output not in lane.outputs:
            raise GeneralError(f"{spec.file} has no input {spec.input!r} / output {spec.output!r}")
        missing = [name for name in spec.style if name not in lane.outputs]
        if missing:
            raise GeneralError(f"{spec.file} has no output {missing[0]!r}")
        width = output_width(lane.outputs, spec.output, spec.style)
        if width != spec.features:
            raise GeneralError(f"{spec.file} gives {width} features, the card says {spec.features}")
        side = tuple(int(v) for v in lane.inputs[spec.input]["shape"][1:])
        if side != (spec.size, spec.size, 3):
            raise GeneralError(f"{spec.file} takes {side}, the card says {spec.size} pixels")
        self.lanes.give_back(lane)
        self._batched = True  # the views as one batch, until a graph refuses it

    def features(self, views: np.ndarray) -> np.ndarray:
        """``(views, side, side, 3)`` uint8 -> ``(features,)`` float64: the pooled features and
        each style map's spread per channel (:func:`style_statistics`), each the mean over the views
        (shrunk to the network's size), run as one batch."""
        x = shrink(np.asarray(views, dtype=np.float32), self.spec.size)
        names = (self.spec.output, *self.spec.style)
        outs: list[np.ndarray] | None = None
        if self._batched:
            try:
                with self.lanes.lend(len(x)) as lane:
                    outs = [np.asarray(o) for o in lane(self.spec.input, x, names)]
            except (ValueError, RuntimeError):  # a graph that fixes its batch: one by one
                self._batched = False
        if outs is None:
            with self.lanes.lend(1) as lane:
                rows = [lane(self.spec.input, x[i : i + 1], names) for i in range(len(x))]
            outs = [np.concatenate([np.asarray(r[k]) for r in rows]) for k in range(len(names))]
        parts = [outs[0].astype(np.float64).reshape(len(x), -1)]
        parts += [style_statistics(m) for m in outs[1:]]
        return np.concatenate(parts, axis=1).mean(axis=0)


def output_width(outputs: Mapping[str, Any], output: str, style: Sequence[str]) -> int:
    """How many numbers :meth:`GeneralNetwork.features` makes of a file with these ``outputs``
    (a lane's, by name): the pooled output's width and one number per channel of each style map."""
    width = int(outputs[output]["shape"][-1])
    return width + sum(int(outputs[name]["shape"][-1]) for name in style)


def style_statistics(maps: np.ndarray) -> np.ndarray:
    """``(views, h, w, channels)`` -> ``(views, channels)``: each channel's spatial standard
    deviation. How evenly an early layer fires is the picture's texture and lighting (its
    "style"): a phone's flash on skin and a room behind differ from a dermatoscope's even light
    through fluid or polarisers. A flip or quarter turn of a view moves only where a channel fires,
    not how evenly: the eight views' mean is the same. The spatial mean beside it refused no more
    clinical photos in the probe of docs/scope.md "The general network's texture"."""
    m = np.asarray(maps, dtype=np.float64)
    if m.ndim != 4:
        raise GeneralError(f"a style map must be (views, h, w, channels), got {m.shape}")
    return m.std(axis=(1, 2))


def shrink(x: np.ndarray, size: int) -> np.ndarray:
    """``(n, side, side, 3)`` -> ``(n, size, size, 3)`` float32 by averaging whole blocks of pixels
    (exact, and a flip or quarter turn of the views commutes with it)."""
    n, side = x.shape[0], x.shape[1]
    if side == size:
        return np.ascontiguousarray(x, dtype=np.float32)
    if side % size:
        raise GeneralError(f"views of {side} pixels cannot shrink to {size} by whole blocks")
    k = side // size
    return np.ascontiguousarray(x.reshape(n, size, k, size, k, 3).mean(axis=(2, 4)), np.float32)


def copy_beside(card: Mapping[str, Any], src: str | os.PathLike[str], dst: str | os.PathLike[str]):
    """Copy the general network a card names (if any) from folder ``src`` to folder ``dst``, for
    whoever writes a model and its card elsewhere: the card is unusable without it. Atomic per
    file; returns the copy's path, or None when the card names none."""
    block = card.get(KEY)
    if not block:
        return None
    name = GeneralSpec.from_dict(block).file
    target = Path(dst) / name
    part = target.with_name(name + ".part")
    shutil.copyfile(Path(src) / name, part)
    os.replace(part, target)
    return target
