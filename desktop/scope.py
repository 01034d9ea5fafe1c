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
nearest class, compared with the threshold. Plus cheap pixel cues (:mod:`desktop.pixel_cues`)
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

from desktop.descriptor import GENERAL_INPUTS, INPUTS, describe, read_parts
from desktop.pixel_cues import pixel_cues
from desktop.verdict import CLINIC_SCOPE_REASON, NOT_DERMOSCOPY_REASON, UNFAMILIAR_CAUTION

METHOD = "mahalanobis-ppca"
DEFAULT_KEEP = 0.98
DEFAULT_COMPONENTS = 48
SHRINK_FLOOR = 1e-6  # relative to the mean variance: keeps a degenerate covariance invertible

OUT_OF_SCOPE_REASON = NOT_DERMOSCOPY_REASON  # the words live in desktop.verdict


class ScopeError(ValueError):
    """A ``scope`` block that cannot be used; ``str(err)`` names the problem."""


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
        """Squared Mahalanobis distance to the nearest class mean, for ``(D,)`` or ``(N, D)``
        pooled features (or whole descriptors, :func:`describe`: their mean part is read)."""
        x = read_parts(pooled, self.dim)
        single = x.ndim == 1
        x = np.atleast_2d(x)
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


# The two-sided decision ---------------------------------------------------------------------------
# A distance fitted on dermoscopy alone cannot tell "another dermatoscope" from "not dermoscopy":
# both are far. A logistic regression fitted on both sides (every dermoscopy origin against
# clinical photos and pictures of anything else) can; the one-sided distance stays as a caution
# ("unlike the images the model learnt from"), never a refusal.
TWO_SIDED = "dermoscopy-vs-other-logistic"
# The same decision with one hidden layer (tanh) between the standardised features and the
# log-odds: clinical photos and dermoscopy from an unseen dermatoscope are not linearly apart.
TWO_SIDED_MLP = "dermoscopy-vs-other-mlp"
TWO_SIDED_METHODS = (TWO_SIDED, TWO_SIDED_MLP)
TRANSFORMS = ("identity", "sqrt")


@dataclass(frozen=True)
class ScopeFinding:
    """What the scope says about one image: refusal reasons, cautions and the two scores."""

    issues: tuple[str, ...] = ()  # not a dermoscopy image: no class, no alert
    cautions: tuple[str, ...] = ()  # assessable, but less reliable than usual
    distance: float | None = None  # one-sided distance over its limit (<= 1: familiar)
    score: float | None = None  # two-sided dermoscopy score (log-odds; higher: dermoscopy)


def _transform(x: np.ndarray, kind: str) -> np.ndarray:
    x = np.asarray(x, dtype=np.float64)
    return np.sqrt(np.maximum(x, 0.0)) if kind == "sqrt" else x


@dataclass(frozen=True)
class ClinicLimit:
    """An adapted card's own, higher refusal limit: just under the clinic's dermoscopy
    (``desktop.adapt.scope_limits``), with what cross-validation on its images measured."""

    threshold: float
    images: int
    kept: float  # share of the clinic's images kept, out of fold
    melanomas: int
    melanomas_kept: float | None  # None: no melanoma among them

    @classmethod
    def from_dict(cls, data: Any, threshold: float) -> ClinicLimit:
        _require(isinstance(data, Mapping), "scope 'clinic' must be an object")
        limit = _number(data.get("threshold"), "clinic threshold")
        _require(limit >= threshold, "the clinic's limit must not lie below 'threshold'")
        counts = [data.get(k) for k in ("images", "melanomas")]
        _require(
            all(isinstance(n, int) and not isinstance(n, bool) and n >= 0 for n in counts),
            "scope 'clinic' must count its images and melanomas",
        )
        kept = _share(data, "kept")
        _require(kept is not None, "scope 'clinic' must say how many images it kept")
        return cls(limit, counts[0], kept, counts[1], _share(data, "melanomas_kept"))


@dataclass(frozen=True)
class DermoscopyScope:
    """Two-sided "is this dermoscopy" decision plus the optional one-sided familiarity.

    ``score`` is the log-odds of a logistic regression on standardised (optionally
    square-rooted) pooled features, or, with a ``hidden`` layer, on their ``tanh`` hidden
    units (a one-hidden-layer network). Below ``threshold``: not a dermoscopy image (refused).
    From ``threshold`` up to ``caution``, or beyond the ``familiar`` distance: assessed,
    with a caution that the image is unlike the training images.
    """

    mean: np.ndarray  # (D,) of the transformed features
    scale: np.ndarray  # (D,) > 0
    weights: np.ndarray  # (D,) on standardised features, or (H,) on the hidden units
    bias: float
    threshold: float
    caution: float
    transform: str = "identity"
    familiar: ScopeModel | None = None
    held_out_assessable_rate: float | None = None  # worst held-out origin, when measured
    hidden: tuple[np.ndarray, np.ndarray] | None = None  # (D, H) weights, (H,) bias: MLP only
    # Share of clinical photos (no dermatoscope) refused, out-of-fold, when measured: the
    # model-card text says how far "not dermoscopy" reaches, not only that it exists.
    clinical_photos_refused: float | None = None
    inputs: str = "mean"  # which parts of the DESCRIPTOR it reads (INPUTS)
    clinic: ClinicLimit | None = None  # an adapted card's own limit, when the clinic chose one
    general: int = 0  # features of the card's general network it reads (desktop.general)
    # A decision on the lesion model's descriptor alone, for a scope that also reads the general
    # network: an image at or above the gate's threshold is dermoscopy without running that
    # network (benchmarks.scope_gate sets the threshold above the negatives, out of fold).
    gate: DermoscopyScope | None = None

    @property
    def dim(self) -> int:
        return int(self.mean.shape[0])

    @property
    def validation_assessable_rate(self) -> float | None:
        """The share of real dermoscopy kept, as the one-sided scope names it."""
        return self.held_out_assessable_rate

    @classmethod
    def from_dict(cls, data: Any, channels: int | None = None) -> DermoscopyScope:
        """Validate a two-sided ``scope`` block; raises :class:`ScopeError` naming the problem."""
        _require(isinstance(data, Mapping), "scope must be an object")
        method = data.get("method")
        _require(method in TWO_SIDED_METHODS, f"scope method must be one of {TWO_SIDED_METHODS}")
        transform = data.get("transform", "identity")
        _require(transform in TRANSFORMS, f"scope 'transform' must be one of {TRANSFORMS}")
        inputs = data.get("inputs", "mean")
        _require(
            isinstance(inputs, str) and inputs in INPUTS,
            f"scope 'inputs' must be one of {tuple(INPUTS)}",
        )
        parts = INPUTS[inputs]
        general = 0
        if inputs in GENERAL_INPUTS:
            general = data.get("general_features")
            _require(
                isinstance(general, int) and not isinstance(general, bool) and general > 0,
                "scope 'general_features' must be a positive whole number",
            )
        want = None if channels is None else channels * parts + general
        mean = _array(data.get("mean"), "mean", (want,))
        dim = mean.shape[0]
        _require(
            dim > general and (dim - general) % parts == 0,
            f"scope 'mean' must have {parts} numbers per channel",
        )
        channels = (dim - general) // parts
        scale = _array(data.get("scale"), "scale", (dim,))
        _require(bool(np.all(scale > 0)), "scope 'scale' must be positive")
        hidden = None
        if method == TWO_SIDED_MLP:
            h = data.get("hidden")
            _require(isinstance(h, Mapping), "scope 'hidden' must be an object")
            h_bias = _array(h.get("bias"), "hidden bias", (None,))
            h_weights = _array(h.get("weights"), "hidden weights", (dim, h_bias.shape[0]))
            hidden = (h_weights, h_bias)
        weights = _array(data.get("weights"), "weights", (dim if hidden is None else None,))
        if hidden is not None:
            _require(weights.shape == hidden[1].shape, "scope 'weights' must match 'hidden'")
        bias = _number(data.get("bias"), "bias")
        threshold = _number(data.get("threshold"), "threshold")
        caution = _number(data.get("caution", threshold), "caution")
        _require(caution >= threshold, "scope 'caution' must not lie below 'threshold'")
        familiar = None
        if data.get("familiar") is not None:
            try:
                familiar = ScopeModel.from_dict(data["familiar"], channels=channels)
            except ScopeError as exc:
                raise ScopeError(f"'familiar': {exc}") from None
        rate = _share(data, "held_out_assessable_rate")
        clinical = _share(data, "clinical_photos_refused")
        clinic = None
        if data.get("clinic") is not None:
            clinic = ClinicLimit.from_dict(data["clinic"], threshold)
        gate = _gate(data.get("gate"), channels, general)
        return cls(
            mean,
            scale,
            weights,
            bias,
            threshold,
            caution,
            transform,
            familiar,
            rate,
            hidden,
            clinical,
            inputs,
            clinic,
            general,
            gate,
        )

    def score(self, descriptor: np.ndarray) -> np.ndarray:
        """Dermoscopy log-odds of descriptors ``(D,)`` or ``(N, D)`` (:func:`describe`; only the
        parts this decision reads are used, so pooled features do for ``inputs`` "mean");
        higher: dermoscopy."""
        x = read_parts(descriptor, self.dim, INPUTS[self.inputs], self.general)
        x = _transform(x, self.transform)
        z = (x - self.mean) / self.scale
        if self.hidden is not None:
            z = np.tanh(z @ self.hidden[0] + self.hidden[1])
        return z @ self.weights + self.bias

    def assessable(self, descriptor: np.ndarray) -> bool:
        return bool(self.score(descriptor) >= self.threshold)

    def gated(self, descriptor: np.ndarray) -> bool:
        """Whether the lesion model's descriptor alone already says dermoscopy (the gate)."""
        return self.gate is not None and self.gate.assessable(descriptor)


def _gate(data: Any, channels: int, general: int) -> DermoscopyScope | None:
    """The optional ``gate`` of a scope that reads the general network: a two-sided decision
    on the lesion model's descriptor alone, with its own threshold."""
    if data is None:
        return None
    _require(general > 0, "scope 'gate' is only for a scope that reads a general network")
    try:
        gate = DermoscopyScope.from_dict(data, channels)
    except ScopeError as exc:
        raise ScopeError(f"'gate': {exc}") from None
    _require(
        gate.general == 0 and gate.gate is None, "scope 'gate' must read the lesion model only"
    )
    return gate


def _share(data: Mapping[str, Any], key: str) -> float | None:
    """An optional measured share of a scope block, in [0, 1]."""
    value = data.get(key)
    if value is None:
        return None
    value = _number(value, key)
    _require(0.0 <= value <= 1.0, f"scope '{key}' must lie in [0, 1]")
    return value


AnyScope = ScopeModel | DermoscopyScope


def load_scope(data: Any, channels: int | None = None) -> AnyScope:
    """A card's ``scope`` block of either method (the two-sided one, or the older distance)."""
    _require(isinstance(data, Mapping), "scope must be an object")
    if data.get("method") in TWO_SIDED_METHODS:
        return DermoscopyScope.from_dict(data, channels)
    return ScopeModel.from_dict(data, channels)


def judge(arr: np.ndarray, descriptor: np.ndarray | None, scope: AnyScope | None) -> ScopeFinding:
    """Refusal reasons and cautions for one preprocessed image and its :func:`describe`
    (view-mean pooled features do for a scope that reads only the mean).

    Pixel cues refuse on their own. A two-sided scope refuses below its threshold (an
    adapted card also below the clinic's own limit, for its own reason) and cautions between
    it and its caution limit, or when the one-sided distance is over its limit; an image its
    gate passes is assessable on the lesion model alone (no two-sided score). An older
    one-sided card refuses on the distance, as it always did.
    """
    issues = pixel_cues(arr)
    if scope is None or descriptor is None:
        return ScopeFinding(issues)
    vec = describe(descriptor) if np.ndim(descriptor) >= 3 else np.asarray(descriptor, np.float64)
    familiar = scope.familiar if isinstance(scope, DermoscopyScope) else scope
    distance = None
    if familiar is not None:
        distance = float(familiar.distance(vec) / familiar.threshold)
    if not isinstance(scope, DermoscopyScope):
        if not distance <= 1.0 and not issues:  # NaN counts as out of scope
            issues = (OUT_OF_SCOPE_REASON,)
        return ScopeFinding(issues, (), distance, None)
    far = distance is not None and not distance <= 1.0
    if scope.gated(vec):  # dermoscopy on the lesion model alone: no general network needed
        return ScopeFinding(issues, (UNFAMILIAR_CAUTION,) if far and not issues else (), distance)
    score = float(scope.score(vec))
    if not score >= scope.threshold and not issues:  # NaN counts as out of scope
        issues = (OUT_OF_SCOPE_REASON,)
    if scope.clinic is not None and not score >= scope.clinic.threshold and not issues:
        issues = (CLINIC_SCOPE_REASON,)
    unlike = score < scope.caution or far
    cautions = (UNFAMILIAR_CAUTION,) if unlike and not issues else ()
    return ScopeFinding(issues, cautions, distance, score)
