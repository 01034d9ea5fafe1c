"""Is this a dermoscopy image at all? The out-of-scope decision, built on the model itself.

A classifier trained only on dermoscopy gives *some* class to anything it is shown: a
page of text, a chart, a holiday photo. Its softmax cannot say "none of these", so the
decision is made in the model's own feature space instead: an image whose pooled
features lie far from every class of the training images (a Mahalanobis distance) is
"not assessable" and gets no class and no alert.

Fit side (the trainer, :func:`fit`): class means and one shared within-class covariance
of the pooled features of training images. The covariance is kept small and stable as
a probabilistic PCA: the ``k`` largest directions are kept exactly and every other
direction gets their average variance, so the distance still sees features that
dermoscopy never uses (that is where ordinary images tend to land). The threshold is the
distance that keeps a chosen share (98 %) of the *validation* images assessable; the
measured share is stored next to it.

Score side (the app, :class:`ScopeModel`): distance of one image's features to the
nearest class, compared with the threshold. Plus cheap pixel cues (:func:`pixel_cues`)
that catch what is obviously not a photo of skin (large flat areas of one colour: text,
charts, screenshots). A card without a ``scope`` block gets the pixel cues only.

numpy only: no TensorFlow, no Qt.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

METHOD = "mahalanobis-ppca"
DEFAULT_KEEP = 0.98
DEFAULT_COMPONENTS = 48
SHRINK_FLOOR = 1e-6  # relative to the mean variance: keeps a degenerate covariance invertible

OUT_OF_SCOPE_REASON = (
    "it does not look like a dermoscopy image of a skin lesion "
    "(it is unlike every image the model was trained on)"
)
FLAT_REASON = (
    "large parts of the image are one flat colour, as in text, charts or screenshots, "
    "not a photo of skin"
)

# Pixel cue (:func:`flat_share`): above this share of exactly flat pixels an image is
# rendered, not photographed. Dermoscopy photos stay far below it and rendered text,
# charts and screenshots lie above it (python -m benchmarks.scope measures both sides).
MAX_FLAT_SHARE = 0.15
DARK_LEVEL = 48  # pixels darker than this in every channel are ignored (vignette, rim)


class ScopeError(ValueError):
    """A ``scope`` block that cannot be used; ``str(err)`` names the problem."""


def pool(features: np.ndarray) -> np.ndarray:
    """Global average pooling of a feature map: ``(..., H, W, C)`` -> ``(..., C)`` float64.

    This is exactly what the model's head sees, so the scope lives in the space the
    classes are separated in.
    """
    f = np.asarray(features, dtype=np.float64)
    if f.ndim < 3:
        raise ValueError(f"expected a feature map (..., H, W, C), got shape {f.shape}")
    return f.mean(axis=(-3, -2))


def _require(ok: bool, message: str) -> None:
    if not ok:
        raise ScopeError(message)


def _array(value: Any, name: str, shape: tuple[int | None, ...]) -> np.ndarray:
    """A finite, non-empty float array of ``len(shape)`` dimensions; ``None`` = any size."""
    what = "matrix" if len(shape) == 2 else "list"
    try:
        arr = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError, OverflowError, RecursionError):
        raise ScopeError(f"scope '{name}' must be a {what} of numbers") from None
    _require(arr.ndim == len(shape) and arr.size > 0, f"scope '{name}' must be a non-empty {what}")
    _require(bool(np.all(np.isfinite(arr))), f"scope '{name}' must hold finite numbers")
    for axis, (want, unit) in enumerate(zip(shape, ("rows", "columns"), strict=False)):
        if want is not None:
            unit = "entries" if len(shape) == 1 else unit
            _require(arr.shape[axis] == want, f"scope '{name}' must have {want} {unit}")
    return arr


def _number(value: Any, name: str) -> float:
    try:
        ok = isinstance(value, numbers.Real) and not isinstance(value, bool)
        ok = ok and math.isfinite(float(value))
    except (OverflowError, ValueError, TypeError):
        ok = False
    _require(ok, f"scope '{name}' must be a finite number")
    return float(value)


@dataclass(frozen=True)
class ScopeModel:
    """A fitted scope: class means, kept directions, their variances, the rest, threshold."""

    means: np.ndarray  # (classes, D)
    components: np.ndarray  # (D, k) orthonormal columns
    variances: np.ndarray  # (k,) variance along each kept direction
    residual_variance: float  # average variance of every other direction
    threshold: float  # squared distance above which an image is not assessable
    validation_assessable_rate: float | None = None

    @property
    def dim(self) -> int:
        return int(self.means.shape[1])

    @classmethod
    def from_dict(cls, data: Any, channels: int | None = None) -> ScopeModel:
        """Validate a card's ``scope`` block; raises :class:`ScopeError` naming the problem."""
        _require(isinstance(data, Mapping), "scope must be an object")
        _require(data.get("method") == METHOD, f"scope method must be {METHOD!r}")
        means = _array(data.get("means"), "means", (None, channels))
        dim = means.shape[1]
        comps = _array(data.get("components"), "components", (dim, None))
        _require(comps.shape[1] <= dim, "scope 'components' has more columns than features")
        variances = _array(data.get("variances"), "variances", (comps.shape[1],))
        _require(bool(np.all(variances > 0)), "scope 'variances' must be positive")
        residual = _number(data.get("residual_variance"), "residual_variance")
        _require(residual > 0, "scope 'residual_variance' must be positive")
        threshold = _number(data.get("threshold"), "threshold")
        _require(threshold > 0, "scope 'threshold' must be positive")
        rate = data.get("validation_assessable_rate")
        if rate is not None:
            rate = _number(rate, "validation_assessable_rate")
            _require(0.0 <= rate <= 1.0, "scope 'validation_assessable_rate' must lie in [0, 1]")
        return cls(means, comps, variances, residual, threshold, rate)

    def distance(self, pooled: np.ndarray) -> np.ndarray:
        """Squared Mahalanobis distance to the nearest class mean, for ``(D,)`` or ``(N, D)``."""
        x = np.asarray(pooled, dtype=np.float64)
        single = x.ndim == 1
        x = np.atleast_2d(x)
        if x.shape[1] != self.dim:
            raise ValueError(f"expected {self.dim} features, got {x.shape[1]}")
        diff = x[:, None, :] - self.means[None, :, :]  # (N, C, D)
        proj = diff @ self.components  # (N, C, k)
        kept = np.sum(proj**2 / self.variances, axis=-1)
        rest = np.sum(diff**2, axis=-1) - np.sum(proj**2, axis=-1)
        d2 = kept + np.maximum(rest, 0.0) / self.residual_variance
        out = d2.min(axis=1)
        return out[0] if single else out

    def assessable(self, pooled: np.ndarray) -> bool:
        return bool(self.distance(pooled) <= self.threshold)


def _short(values: np.ndarray) -> list[Any]:
    """Seven significant digits: float32 precision, a card a third the size, same decisions."""
    return np.vectorize(lambda v: float(f"{v:.7g}"), otypes=[float])(values).tolist()


def fit(
    features: np.ndarray,
    labels: np.ndarray,
    val_features: np.ndarray,
    *,
    keep: float = DEFAULT_KEEP,
    components: int = DEFAULT_COMPONENTS,
) -> dict[str, Any]:
    """Fit the scope on pooled training features; threshold it on validation features.

    ``features``/``val_features`` are pooled ``(N, D)`` (see :func:`pool`), ``labels``
    the class index of each training row. The threshold is the smallest distance that
    keeps at least ``keep`` of the validation images assessable. Returns the JSON-able
    ``scope`` block for the model card.
    """
    x = np.asarray(features, dtype=np.float64)
    y = np.asarray(labels).astype(np.int64).ravel()
    v = np.asarray(val_features, dtype=np.float64)
    if x.ndim != 2 or v.ndim != 2 or x.shape[1] != v.shape[1]:
        raise ValueError("features and val_features must be (N, D) with the same D")
    if len(y) != len(x):
        raise ValueError("one label per training row is needed")
    if len(v) == 0:
        raise ValueError("validation features are needed to set the threshold")
    if not 0.5 <= keep < 1.0:
        raise ValueError("keep must lie in [0.5, 1)")
    if not (np.all(np.isfinite(x)) and np.all(np.isfinite(v))):
        raise ValueError("features must be finite")
    classes = np.unique(y)
    if len(classes) < 1 or len(x) < 2:
        raise ValueError("need at least two training rows")
    means = np.stack([x[y == c].mean(axis=0) for c in classes])
    centred = x - means[np.searchsorted(classes, y)]
    dim = x.shape[1]
    dof = max(len(x) - len(classes), 1)
    cov = centred.T @ centred / dof
    eigval, eigvec = np.linalg.eigh(cov)
    order = np.argsort(eigval)[::-1]
    eigval, eigvec = np.clip(eigval[order], 0.0, None), eigvec[:, order]
    floor = max(float(eigval.mean()), 1e-12) * SHRINK_FLOOR
    k = int(min(components, dim - 1, dof)) if dim > 1 else 1
    k = max(k, 1)
    rest = eigval[k:]
    residual = max(float(rest.mean()) if rest.size else floor, floor)
    block: dict[str, Any] = {
        "method": METHOD,
        "features": "global average of the model's feature map (the head's input)",
        "means": _short(means),
        "classes_fitted": [int(c) for c in classes],
        "components": _short(eigvec[:, :k]),
        "variances": _short(np.maximum(eigval[:k], floor)),
        "residual_variance": residual,
        "threshold": 1.0,  # replaced below once distances can be computed
    }
    model = ScopeModel.from_dict(block)
    d_val = model.distance(v)
    threshold = float(np.quantile(d_val, keep, method="higher"))
    threshold = max(threshold, np.finfo(np.float64).tiny)
    block["threshold"] = threshold
    block["keep_target"] = float(keep)
    block["validation_images"] = int(len(v))
    block["validation_assessable_rate"] = float(np.mean(d_val <= threshold))
    block["training_images"] = int(len(x))
    return block


def flat_share(arr: np.ndarray) -> float:
    """Share of the image's pixels that are exactly equal to all four neighbours (not dark).

    Photographs, dermoscopy included, carry sensor noise and shading, so exact runs of one
    colour are rare in them; rendered text, charts and screenshots are mostly such runs.
    Dark pixels never count: many dermatoscopes leave black corners around the field.
    """
    a = np.asarray(arr).astype(np.int16)
    if a.ndim != 3 or a.shape[0] < 3 or a.shape[1] < 3:
        return 0.0
    c = a[1:-1, 1:-1]
    same = np.ones(c.shape[:2], dtype=bool)
    for n in (a[:-2, 1:-1], a[2:, 1:-1], a[1:-1, :-2], a[1:-1, 2:]):
        same &= np.all(n == c, axis=-1)
    lit = c.max(axis=-1) >= DARK_LEVEL
    return float(np.mean(same & lit))


def pixel_cues(arr: np.ndarray) -> tuple[str, ...]:
    """Plain-words reasons the pixels alone rule out a dermoscopy photo (empty when none).

    ``arr`` is the preprocessed model input (uint8, H x W x 3). One cue, chosen to be
    safe for real dermoscopy: much of the picture is exactly one flat colour.
    """
    return (FLAT_REASON,) if flat_share(arr) > MAX_FLAT_SHARE else ()
