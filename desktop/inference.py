"""Run the exported TFLite model with ai-edge-litert; no Qt, no TensorFlow.

Everything the model needs to know comes from the card. Outputs are read by
name through the signature runner (TFLite reorders outputs) and dequantized
per output (int8 models carry a scale and zero point per tensor).
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from desktop.card import CardError, ModelCard, card_path_for, load_card
from desktop.imaging import VIEW_SETS, preprocess, view_stack
from desktop.integrity import IntegrityError, verify_model_file
from desktop.lanes import Lanes
from desktop.quality import MIN_PIXEL_STD, MIN_SIDE_PX, assess_quality
from desktop.scope import ScopeFinding, judge, pool
from desktop.verdict import (
    ALERT,
    CANNOT_ASSESS,
    CLASS_GROUPS,
    HIGH,
    NO_ALERT,
    RAISED,
    REFER,
    REFERRAL_CLASSES,
    percent_under,
)

DEFAULT_MODEL = Path(__file__).resolve().parent.parent / "assets" / "model.tflite"

# Image-quality limits (desktop.quality) below which the answer is "cannot assess".
__all__ = ["MIN_PIXEL_STD", "MIN_SIDE_PX", "assess_quality"]


class ModelLoadError(Exception):
    """The model or its card cannot be used; ``str(err)`` is a clear one-line reason."""


@dataclass(frozen=True)
class Prediction:
    """One image's result, derived entirely from probabilities and the card."""

    classes: tuple[str, ...]
    probabilities: np.ndarray  # calibrated, sums to 1, card class order
    melanoma_index: int
    melanoma_threshold: float
    min_top_probability: float
    quality_issues: tuple[str, ...] = ()
    cam: np.ndarray | None = field(default=None, repr=False)  # (size, size) in [0, 1], top class
    elapsed_ms: float = 0.0
    # (classes, h, w) at the feature map's own resolution, each class scaled to [0, 1]: tiny, so
    # a batch can keep every class's map and the window can upsample smoothly to any size.
    cams: np.ndarray | None = field(default=None, repr=False, compare=False)
    # Out-of-scope findings (not a dermoscopy image), plain words; empty when in scope.
    scope_issues: tuple[str, ...] = ()
    # Distance to the training images over the card's limit (<= 1 in scope); None: not measured.
    scope_score: float | None = None
    # Assessed, but less reliable than usual (unlike the training images), plain words.
    cautions: tuple[str, ...] = ()
    # The two-sided "is this dermoscopy" score (log-odds); None: the card has no such decision.
    dermoscopy_score: float | None = None
    # The card's other operating points (desktop.card): the melanoma alert's "high" grade and
    # a referral threshold per class; None / empty for older cards (one grade, no referrals).
    melanoma_high_threshold: float | None = None
    referral_thresholds: tuple[tuple[str, float], ...] = ()

    @classmethod
    def for_card(cls, card: ModelCard, probabilities: np.ndarray, **findings: Any) -> Prediction:
        """A prediction whose classes and decision thresholds are the card's; ``findings``
        are the per-image fields (issues, maps, time). The one place the card's decision
        settings are copied, for the classifier and its test stand-in alike."""
        return cls(
            classes=card.classes,
            probabilities=probabilities,
            melanoma_index=card.melanoma_index,
            melanoma_threshold=card.melanoma_threshold,
            min_top_probability=card.min_top_probability,
            melanoma_high_threshold=card.melanoma_high_threshold,
            referral_thresholds=card.referral_thresholds,
            **findings,
        )

    @property
    def top_index(self) -> int:
        return int(np.argmax(self.probabilities))

    @property
    def label(self) -> str:
        return self.classes[self.top_index]

    @property
    def top_probability(self) -> float:
        return float(self.probabilities[self.top_index])

    @property
    def melanoma_probability(self) -> float:
        return float(self.probabilities[self.melanoma_index])

    @property
    def cannot_assess_reasons(self) -> tuple[str, ...]:
        """Why this image gets no class and no alert, in plain words: the image-quality
        findings (tiny, blank) when there are any, as they are the plainest, else scope."""
        return tuple(self.quality_issues) or tuple(self.scope_issues)

    @property
    def assessable(self) -> bool:
        return not self.cannot_assess_reasons

    @property
    def melanoma_alert(self) -> bool:
        """On when melanoma reaches the card's threshold, or is the most likely class (so
        "most likely: melanoma" never sits next to "no alert" whatever the card's threshold).
        Only ever on for an assessable image: an unusable picture never raises an alert."""
        if not self.assessable:
            return False
        return (
            self.melanoma_probability >= self.melanoma_threshold
            or self.top_index == self.melanoma_index
        )

    @property
    def melanoma_level(self) -> str | None:
        """The alert's grade: 'high' at the card's high threshold, else 'raised'; None when
        the alert is off. A card without a high threshold has only 'raised'."""
        if not self.melanoma_alert:
            return None
        high = self.melanoma_high_threshold
        return HIGH if high is not None and self.melanoma_probability >= high else RAISED

    @property
    def referrals(self) -> tuple[str, ...]:
        """Classes at or over their referral threshold (cancers before pre-cancerous, then
        most likely first); empty for an image that cannot be assessed."""
        if not self.assessable:
            return ()
        p = dict(zip(self.classes, self.probabilities.tolist(), strict=True))
        fired = [c for c, t in self.referral_thresholds if c in p and p[c] >= t]
        return tuple(sorted(fired, key=lambda c: (self._referral_kind(c) != REFER, -p[c])))

    @staticmethod
    def _referral_kind(cls: str) -> str:
        return REFERRAL_CLASSES.get(cls, REFER)  # a class the app does not know: refer

    @property
    def referral_level(self) -> str | None:
        """'refer' or 'precancerous' for the most serious referral, None when none fired."""
        fired = self.referrals
        return self._referral_kind(fired[0]) if fired else None

    @property
    def alert_level(self) -> str:
        """'alert' (melanoma leads), 'refer', 'precancerous', 'no_alert' or 'cannot_assess'
        (see :mod:`desktop.verdict`)."""
        if not self.assessable:
            return CANNOT_ASSESS
        if self.melanoma_alert:
            return ALERT
        return self.referral_level or NO_ALERT

    @property
    def top_group(self) -> tuple[str, float] | None:
        """(group name, summed probability) when the most likely class belongs to a group of
        classes read as one kind of lesion (``desktop.verdict.CLASS_GROUPS``), else None."""
        for name, members in CLASS_GROUPS.items():
            idx = [self.classes.index(c) for c in members if c in self.classes]
            if len(idx) > 1 and self.top_index in idx:
                return name, float(self.probabilities[idx].sum())
        return None

    @property
    def shown_probability(self) -> float:
        """The most likely class's probability, or its group's when it belongs to one."""
        group = self.top_group
        return group[1] if group else self.top_probability

    @property
    def low_confidence_reason(self) -> str | None:
        """Set when no class (or group of classes, e.g. the benign keratoses) is clearly most
        likely (the card's 'uncertain' limit)."""
        if self.shown_probability < self.min_top_probability:
            top, limit = percent_under(self.shown_probability, self.min_top_probability)
            return (
                f"no class is clearly most likely (the most likely has only {top}, under {limit})"
            )
        return None

    @property
    def uncertain_reasons(self) -> tuple[str, ...]:
        """Every reason not to take the class at face value, cannot-assess reasons first."""
        low = self.low_confidence_reason
        cautions = tuple(self.cautions) if self.assessable else ()
        return self.cannot_assess_reasons + ((low,) if low else ()) + cautions

    @property
    def uncertain(self) -> bool:
        return bool(self.uncertain_reasons)

    def ranked(self) -> list[tuple[str, float]]:
        """(class, probability) pairs, most likely first."""
        # Stable on -p: a tie keeps argmax's order, so the first bar is always the top class.
        order = np.argsort(-self.probabilities, kind="stable")
        return [(self.classes[i], float(self.probabilities[i])) for i in order]

    def to_json(self) -> dict[str, object]:
        """The command line's record; an image that cannot be assessed has no class at all."""
        record: dict[str, object] = {
            "assessable": self.assessable,
            "label": self.label,
            "probabilities": {
                c: float(p) for c, p in zip(self.classes, self.probabilities, strict=True)
            },
            "melanoma_probability": self.melanoma_probability,
            "melanoma_alert": self.melanoma_alert,
            "alert_level": self.alert_level,
            "melanoma_level": self.melanoma_level,
            "referral": self._referral_json(),
            "label_group": self._group_json(),
            "melanoma_threshold": self.melanoma_threshold,
            "uncertain": self.uncertain,
            "uncertain_reasons": list(self.uncertain_reasons),
            "cautions": list(self.cautions) if self.assessable else [],
            "reason": None,
        }
        if not self.assessable:
            reasons = self.cannot_assess_reasons
            record.update(
                label=None, probabilities=None, melanoma_probability=None, label_group=None
            )
            record["reason"] = "Cannot assess: " + "; ".join(reasons) + "."
        return record

    def _referral_json(self) -> dict[str, object] | None:
        """``{"level": "refer" | "precancerous", "classes": [...]}``, or None."""
        fired = self.referrals
        if not fired:
            return None
        return {"level": self.referral_level, "classes": list(fired)}

    def _group_json(self) -> dict[str, object] | None:
        group = self.top_group
        return {"name": group[0], "probability": group[1]} if group else None


@dataclass(frozen=True)
class ViewOutputs:
    """One image over the card's test-time views (see :meth:`Classifier.views`)."""

    probabilities: np.ndarray  # (classes,) calibrated, averaged over the views
    pooled: np.ndarray  # (channels,) pooled features averaged over the views
    feature_map: np.ndarray  # (h, w, channels) of the unchanged view
    elapsed_ms: float = 0.0  # time the views took


def assess_scope(
    arr: np.ndarray, pooled: np.ndarray | None, card: ModelCard
) -> tuple[tuple[str, ...], float | None]:
    """Out-of-scope reasons (plain words) and the one-sided distance score (<= 1: familiar).

    Kept for callers that only need the refusal; :func:`scope_finding` also gives the
    cautions and the two-sided score.
    """
    found = scope_finding(arr, pooled, card)
    return found.issues, found.distance


def scope_finding(arr: np.ndarray, pooled: np.ndarray | None, card: ModelCard) -> ScopeFinding:
    """The card's scope on one image: refusal, cautions and scores (:func:`desktop.scope.judge`).

    It judges the model's pooled features averaged over the test-time views, the same views
    the probabilities average, so a flip cannot change it; a feature map is pooled first.
    A card without a scope gets the pixel cues only.
    """
    return judge(arr, pooled, card.scope)


class Classifier:
    """A loaded model plus its card. Thread-safe, and parallel: each call runs on a lane of
    its own (:mod:`desktop.lanes`, one interpreter of ``num_threads`` threads), so threads
    classifying at once keep every core busy. The test-time views of an image go through
    their lane as one batch, one call; were a model's graph to fix its batch at 1 (or answer
    a batch differently from one image at a time: checked at load), one by one.
    """

    def __init__(
        self,
        model_path: str | os.PathLike[str] = DEFAULT_MODEL,
        card: ModelCard | None = None,
        num_threads: int = 1,
    ) -> None:
        self.model_path = Path(model_path)
        try:
            self.card = card if card is not None else load_card(card_path_for(self.model_path))
        except CardError as exc:
            raise ModelLoadError(str(exc)) from None
        if not self.model_path.is_file():
            raise ModelLoadError(f"model file not found: {self.model_path}")
        self._verify_seal()
        self.num_threads = max(1, int(num_threads))
        self.lanes = Lanes(self.model_path, self.num_threads)
        try:
            first = self.lanes.new()
        except Exception as exc:  # LiteRT raises ValueError/RuntimeError for bad flatbuffers
            raise ModelLoadError(
                f"model file cannot be loaded: {self.model_path.name} ({_first_line(exc)})"
            ) from None
        self._check_against_card(first.inputs, first.outputs)
        self.lanes.give_back(first)
        self._in = first.inputs[self.card.input_name]
        self._out = first.outputs
        self._cam_weights = np.asarray(self.card.cam_weights, dtype=np.float32)
        self._raw_input = np.dtype(self._in["dtype"]) == np.uint8 and (
            _qparams(self._in) in _NO_SCALING
        )  # uint8 pixels are the model's own input: no quantizing (it would copy twice)
        self._batch = 1
        self._warm_up()
        self._batch = self._views_batch()

    def _views_batch(self) -> int:
        """The card's number of views when the model answers them as one batch exactly as
        one by one (checked on an image whose views all differ), else 1."""
        n = len(VIEW_SETS[self.card.test_time_views])
        if n == 1:
            return 1
        size = self.card.input_size
        ramp = np.arange(size * size * 3, dtype=np.int64).reshape(size, size, 3)
        views = view_stack((ramp * 7 % 251).astype(np.uint8), self.card.test_time_views)
        want = self._forward(views)
        try:
            self._batch = n
            got = self._forward(views)
        except Exception:  # a graph that fixes its batch: resizing or invoking fails
            return 1
        finally:
            self._batch = 1
        same = all(np.allclose(g, w, rtol=0, atol=1e-6) for g, w in zip(got, want, strict=True))
        return n if same else 1

    def _verify_seal(self) -> None:
        """Hash the file before LiteRT parses it: a damaged or swapped model still loads and
        answers, wrongly, so a sealed card's SHA-256 must match. Unsealed (older) cards pass."""
        if self.card.integrity is None:
            return
        try:
            verify_model_file(self.card.integrity, self.model_path)
        except IntegrityError as exc:
            raise ModelLoadError(f"model file cannot be loaded: {exc}") from None
        except OSError as exc:
            raise ModelLoadError(
                f"model file cannot be read: {self.model_path.name} ({_first_line(exc)})"
            ) from None

    def _warm_up(self) -> None:
        """Run once now: a model that loads but cannot run fails here, with a reason, and the
        runtime's one-off start-up log lines come out at load time, not amid the results."""
        size = self.card.input_size
        try:
            self.run(np.zeros((size, size, 3), dtype=np.uint8))
        except Exception as exc:
            raise ModelLoadError(
                f"model file cannot be run: {self.model_path.name} ({_first_line(exc)})"
            ) from None

    def _check_against_card(self, in_details: dict, out_details: dict) -> None:
        card = self.card
        if card.input_name not in in_details:
            raise ModelLoadError(
                f"model has no input named {card.input_name!r} (card and model do not match)"
            )
        shape = tuple(int(v) for v in in_details[card.input_name]["shape"])
        if len(shape) != 4 or shape[1:] != (card.input_size, card.input_size, 3):
            raise ModelLoadError(
                f"model input is {shape[1:]} but the card says {card.input_size}x{card.input_size}x3"
            )
        for name in (card.probabilities_output, card.features_output):
            if name not in out_details:
                raise ModelLoadError(
                    f"model has no output named {name!r} (card and model do not match)"
                )
        n_out = int(out_details[card.probabilities_output]["shape"][-1])
        if n_out != card.num_classes:
            raise ModelLoadError(
                f"model predicts {n_out} classes but the card lists {card.num_classes}"
            )
        channels = int(out_details[card.features_output]["shape"][-1])
        if channels != len(card.cam_weights):
            raise ModelLoadError("model feature channels do not match the card's CAM weights")

    @property
    def model_name(self) -> str:
        return f"{self.model_path.name} ({self.card.model_version})"

    def run(self, arr: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Raw forward pass on one preprocessed ``uint8`` image: (probabilities, feature map)."""
        probs, feats = self._forward(arr[None])
        return probs[0], feats[0]  # type: ignore[index]

    def _forward(
        self, images: np.ndarray, probabilities: bool = True
    ) -> tuple[np.ndarray | None, np.ndarray]:
        """A batch ``(n, size, size, 3)`` through one lane, in one call when ``n`` is the
        views' batch, else one call per image: the probabilities (renormalised after
        dequantizing; None when not wanted) and feature maps, row for row."""
        p_name, f_name = self.card.probabilities_output, self.card.features_output
        wanted = (f_name, p_name) if probabilities else (f_name,)
        x = self._model_input(images)
        batch = len(x) if len(x) == self._batch else 1
        with self.lanes.lend(batch) as lane:
            outs = [
                lane(self.card.input_name, x[i : i + batch], wanted)
                for i in range(0, len(x), batch)
            ]
        feats = _dequantize(np.concatenate([o[0] for o in outs]), self._out[f_name])
        if not probabilities:
            return None, feats
        probs = _dequantize(np.concatenate([o[1] for o in outs]), self._out[p_name])
        probs = np.clip(probs.astype(np.float64), 0.0, None)
        total = probs.sum(axis=-1, keepdims=True)
        uniform = np.full_like(probs, 1.0 / probs.shape[-1])
        probs = np.divide(probs, total, out=uniform, where=total > 0)
        return probs, feats

    def _model_input(self, batch: np.ndarray) -> np.ndarray:
        if self._raw_input and batch.dtype == np.uint8:
            return np.ascontiguousarray(batch)
        return _quantize(np.ascontiguousarray(batch, dtype=np.float32), self._in)

    def views(self, arr: np.ndarray) -> ViewOutputs:
        """One preprocessed image through every test-time view of the card, on one lane.

        The probabilities and the pooled features are both means over the views, so a flip
        or quarter turn of the photo changes neither; a card with an adapted ``head`` gets its
        probabilities from the mean pooled features (:mod:`desktop.head`), the network's own
        otherwise. The feature map is the unchanged view's (the heat-map is drawn on it).
        """
        start = time.perf_counter()
        head = self.card.head
        probs_all, feats_all = self._forward(
            view_stack(arr, self.card.test_time_views), probabilities=head is None
        )
        pooled = pool(feats_all).mean(axis=0)
        if probs_all is not None:  # the network's own head
            probs = probs_all.mean(axis=0)
        else:
            probs = self.card.head.probabilities(pooled)  # type: ignore[union-attr]
        ms = (time.perf_counter() - start) * 1000.0
        return ViewOutputs(probs, pooled, feats_all[0], ms)

    def probabilities(self, arr: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """What the app reports for one preprocessed image: the probabilities averaged over
        the card's test-time views, and the unchanged view's feature map."""
        out = self.views(arr)
        return out.probabilities, out.feature_map

    def predict_array(
        self,
        arr: np.ndarray,
        quality_issues: tuple[str, ...] = (),
        with_cam: bool = True,
        outputs: ViewOutputs | None = None,
    ) -> Prediction:
        """The prediction for one preprocessed image; ``outputs``: its :meth:`views`, when
        they were run already (on another thread, :func:`desktop.results.prepare_image`)."""
        start = time.perf_counter()
        out = outputs if outputs is not None else self.views(arr)
        probs, feats = out.probabilities, out.feature_map
        found = scope_finding(arr, out.pooled, self.card)
        # No heat-map for an image that cannot be assessed: it has no class to explain.
        with_cam = with_cam and not (quality_issues or found.issues)
        cam = self.cam(feats, int(np.argmax(probs))) if with_cam else None
        cams = self.class_maps(feats) if with_cam else None
        return Prediction.for_card(
            self.card,
            probs,
            quality_issues=quality_issues,
            cam=cam,
            elapsed_ms=(time.perf_counter() - start) * 1000.0 + out.elapsed_ms * (out is outputs),
            cams=cams,
            scope_issues=found.issues,
            scope_score=found.distance,
            cautions=found.cautions,
            dermoscopy_score=found.score,
        )

    def predict_image(self, img: Image.Image, with_cam: bool = True) -> Prediction:
        """Classify an already-decoded RGB image (clipboard paste, samples)."""
        arr = preprocess(img.convert("RGB"), self.card.preprocessing)
        return self.predict_array(arr, assess_quality(img, arr), with_cam=with_cam)

    def class_maps(self, features: np.ndarray) -> np.ndarray:
        """Every class's activation map at feature resolution, ``(classes, h, w)`` in [0, 1].

        Kept low-resolution so the viewer upsamples once, smoothly, to the size it paints.
        """
        heat = np.maximum(features.astype(np.float32) @ self._cam_weights, 0.0)  # (h, w, n)
        peak = heat.max(axis=(0, 1), keepdims=True)
        heat = np.divide(heat, peak, out=np.zeros_like(heat), where=peak > 0)
        return np.ascontiguousarray(np.moveaxis(heat, -1, 0))

    def cam(self, features: np.ndarray, class_index: int) -> np.ndarray:
        """Class-activation map of one class, upsampled to input size, scaled to [0, 1]."""
        heat = features.astype(np.float32) @ self._cam_weights[:, class_index]
        heat = np.maximum(heat, 0.0)
        peak = float(heat.max())
        heat = heat / peak if peak > 0 else heat
        size = self.card.input_size
        img = Image.fromarray((heat * 255).astype(np.uint8), mode="L").resize(
            (size, size), Image.Resampling.BILINEAR
        )
        return np.asarray(img, dtype=np.float32) / 255.0


_NO_SCALING = ((1.0, 0.0), (0.0, 0.0))


def _quantize(x: np.ndarray, detail: dict) -> np.ndarray:
    dtype = np.dtype(detail["dtype"])
    if dtype.kind == "f":
        return x.astype(dtype)
    scale, zero = _qparams(detail)
    info = np.iinfo(dtype)
    q = np.round(x / scale + zero) if scale else x
    return np.clip(q, info.min, info.max).astype(dtype)


def _dequantize(y: np.ndarray, detail: dict) -> np.ndarray:
    if np.dtype(detail["dtype"]).kind == "f":
        return y.astype(np.float32)
    scale, zero = _qparams(detail)
    return ((y.astype(np.float32) - zero) * scale) if scale else y.astype(np.float32)


def _qparams(detail: dict) -> tuple[float, float]:
    qp = detail.get("quantization_parameters") or {}
    scales, zeros = qp.get("scales"), qp.get("zero_points")
    if scales is not None and len(scales):
        return float(scales[0]), float(zeros[0])
    scale, zero = detail.get("quantization", (0.0, 0))
    return float(scale), float(zero)


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return (text.splitlines()[0] if text else type(exc).__name__)[:160]
