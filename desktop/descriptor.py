"""What the model's feature maps say about one image, averaged over the test-time views: the
pooled features the head reads, and the descriptor the "is this dermoscopy" decision reads.

The descriptor is, per channel of the feature map, these statistics in this order: the mean
(so its first C numbers are the pooled features), the maximum, the spread (standard deviation)
and the mean of the central square half the map's side, each averaged over the views. Each is
unchanged by a flip or quarter turn of the map (the centre is a square about the middle), so the
view average is too. Why more than the mean: clinical photos and dermoscopy differ in where and
how strongly the features fire, not only in their average (docs/scope.md).

A card with a general-purpose network (``desktop.general``) appends that network's view-mean
features after these parts: a row is then ``4 C + G`` numbers long.

numpy only: no TensorFlow, no Qt.
"""

from __future__ import annotations

import numpy as np

DESCRIPTOR = ("mean", "max", "spread", "centre")
# The parts a scope block reads (its ``inputs``): a prefix of DESCRIPTOR; "+general" also reads
# the general network's features after the whole DESCRIPTOR (the block says how many).
INPUTS = {"mean": 1, "mean+spatial": len(DESCRIPTOR), "mean+spatial+general": len(DESCRIPTOR)}
GENERAL_INPUTS = frozenset({"mean+spatial+general"})


def pool(features: np.ndarray) -> np.ndarray:
    """Global average pooling of a feature map: ``(..., H, W, C)`` -> ``(..., C)`` float64.

    This is exactly what the model's head sees, so the scope lives in the space the
    classes are separated in.
    """
    f = np.asarray(features, dtype=np.float64)
    if f.ndim < 3:
        raise ValueError(f"expected a feature map (..., H, W, C), got shape {f.shape}")
    return f.mean(axis=(-3, -2))


def describe(feature_maps: np.ndarray) -> np.ndarray:
    """The :data:`DESCRIPTOR` of one image: ``(views, H, W, C)`` (or one ``(H, W, C)`` map)
    -> ``(4 C,)`` float64: spatial mean, maximum, standard deviation and the mean of the
    central square half the map's side, per channel, each averaged over the views."""
    f = np.asarray(feature_maps, dtype=np.float64)
    if f.ndim == 3:
        f = f[None]
    if f.ndim != 4:
        raise ValueError(f"expected feature maps (views, H, W, C), got shape {f.shape}")
    h, w = f.shape[1:3]
    centre = f[:, h // 4 : h - h // 4, w // 4 : w - w // 4]
    parts = (f.mean(axis=(1, 2)), f.max(axis=(1, 2)), f.std(axis=(1, 2)), centre.mean(axis=(1, 2)))
    return np.concatenate([part.mean(axis=0) for part in parts])


def read_parts(x: np.ndarray, dim: int, parts: int = 1, general: int = 0) -> np.ndarray:
    """The first ``dim`` numbers of each row (the ``parts`` of the descriptor a scope reads,
    then ``general`` features of the general network): a row holds exactly those, or the
    whole :data:`DESCRIPTOR` of the same channels, or that and a general network's features."""
    x = np.asarray(x, dtype=np.float64)
    whole = (dim - general) // parts * len(DESCRIPTOR)
    n = x.shape[-1]
    if general:
        if n != dim:
            raise ValueError(f"expected {dim} features (with the general network's), got {n}")
    elif n != dim and n < whole:
        raise ValueError(f"expected {dim} features (or {whole}), got {n}")
    return x[..., :dim]
