"""Run the exported TFLite model with ai-edge-litert; no Qt, no TensorFlow.

Everything the model needs to know comes from the card. Outputs are read by
name through the signature runner (TFLite reorders outputs) and dequantized
per output (int8 models carry a scale and zero point per tensor).
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from desktop.card import CardError, ModelCard, card_path_for, load_card
from desktop.descriptor import describe
from desktop.general import GeneralError, GeneralNetwork
from desktop.imaging import VIEW_SETS, preprocess, view_stack
from desktop.integrity import IntegrityError, verify_model_file
from desktop.lanes import Lanes
from desktop.prediction import Prediction
from desktop.quality import (
    MIN_PIXEL_STD,
    MIN_SIDE_PX,
    assess_quality,
    check_quality,
    quality_cautions,
)
from desktop.scope import DermoscopyScope, ScopeFinding, judge

DEFAULT_MODEL = Path(__file__).resolve().parent.parent / "assets" / "model.tflite"

# Image-quality limits (desktop.quality) below which the answer is "cannot assess", and the
# result itself (desktop.prediction), which many callers import from here.
__all__ = ["MIN_PIXEL_STD", "MIN_SIDE_PX", "Prediction", "assess_quality"]


class ModelLoadError(Exception):
    """The model or its card cannot be used; ``str(err)`` is a clear one-line reason."""


@dataclass(frozen=True)
class ViewOutputs:
    """One image over the card's test-time views (see :meth:`Classifier.views`)."""

    probabilities: np.ndarray  # (classes,) calibrated, averaged over the views
    # (4 channels,) desktop.descriptor.describe over the views: what the "is this dermoscopy"
    # decision reads; its first part is the pooled features. A card with a general network
    # appends that network's view-mean features (desktop.general).
    descriptor: np.ndarray
    feature_map: np.ndarray  # (h, w, channels) of the unchanged view
    elapsed_ms: float = 0.0  # time the views took

    @property
    def pooled(self) -> np.ndarray:
        """(channels,): the pooled features averaged over the views, which the head reads."""
        return self.descriptor[: self.feature_map.shape[-1]]


def assess_scope(
    arr: np.ndarray, descriptor: np.ndarray | None, card: ModelCard
) -> tuple[tuple[str, ...], float | None]:
    """Out-of-scope reasons (plain words) and the one-sided distance score (<= 1: familiar).

    Kept for callers that only need the refusal; :func:`scope_finding` also gives the
    cautions and the two-sided score.
    """
    found = scope_finding(arr, descriptor, card)
    return found.issues, found.distance


def scope_finding(arr: np.ndarray, descriptor: np.ndarray | None, card: ModelCard) -> ScopeFinding:
    """The card's scope on one image: refusal, cautions and scores (:func:`desktop.scope.judge`).

    It judges the image's descriptor (:attr:`ViewOutputs.descriptor`): statistics of the
    feature map averaged over the test-time views, the same views the probabilities average,
    so a flip cannot change it; a feature map is described first. A card without a scope
    gets the pixel cues only.
    """
    return judge(arr, descriptor, card.scope)


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
        self.general = self._load_general()
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

    def _load_general(self) -> GeneralNetwork | None:
        """The card's general-purpose network (beside the model), checked against its seal."""
        spec = self.card.general
        if spec is None:
            return None
        try:
            return GeneralNetwork(spec, self.model_path.parent, self.num_threads)
        except GeneralError as exc:
            raise ModelLoadError(f"model cannot be used: {exc}") from None
        except Exception as exc:  # LiteRT raises ValueError/RuntimeError for bad flatbuffers
            raise ModelLoadError(
                f"general network cannot be loaded: {spec.file} ({_first_line(exc)})"
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

    def views(self, arr: np.ndarray, *, full: bool = False) -> ViewOutputs:
        """One preprocessed image through every test-time view of the card, on one lane.

        The probabilities and the pooled features are both means over the views, so a flip
        or quarter turn of the photo changes neither; a card with an adapted ``head`` gets its
        probabilities from the mean pooled features (:mod:`desktop.head`), the network's own
        otherwise. The feature map is the unchanged view's (the heat-map is drawn on it).
        The card's general network runs unless the scope's gate already says dermoscopy on
        the lesion model alone; ``full`` runs it always (features kept for fits and adapt).
        """
        start = time.perf_counter()
        head = self.card.head
        stack = view_stack(arr, self.card.test_time_views)
        probs_all, feats_all = self._forward(stack, probabilities=head is None)
        descriptor = describe(feats_all)
        if self.general is not None and (full or not self._gated(descriptor)):
            descriptor = np.concatenate([descriptor, self.general.features(stack)])
        if probs_all is not None:  # the network's own head
            probs = probs_all.mean(axis=0)
        else:  # from the pooled features: the descriptor's first part
            pooled = descriptor[: feats_all.shape[-1]]
            probs = self.card.head.probabilities(pooled)  # type: ignore[union-attr]
        ms = (time.perf_counter() - start) * 1000.0
        return ViewOutputs(probs, descriptor, feats_all[0], ms)

    def _gated(self, descriptor: np.ndarray) -> bool:
        """Whether the scope's gate passes the lesion descriptor (desktop.scope), so the
        general network's features would change nothing."""
        scope = self.card.scope
        return isinstance(scope, DermoscopyScope) and scope.gated(descriptor)

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
        cautions: tuple[str, ...] | None = None,
    ) -> Prediction:
        """The prediction for one preprocessed image; ``outputs``: its :meth:`views`, when
        they were run already (on another thread, :func:`desktop.results.prepare_image`);
        ``cautions``: its image-quality cautions, when checked already
        (:func:`desktop.quality.check_quality`)."""
        start = time.perf_counter()
        out = outputs if outputs is not None else self.views(arr)
        probs, feats = out.probabilities, out.feature_map
        found = scope_finding(arr, out.descriptor, self.card)
        # No heat-map for an image that cannot be assessed: it has no class to explain.
        with_cam = with_cam and not (quality_issues or found.issues)
        cam = self.cam(feats, int(np.argmax(probs))) if with_cam else None
        cams = self.class_maps(feats) if with_cam else None
        if cautions is None:
            cautions = () if quality_issues else quality_cautions(arr, self.card.soft_focus)
        return Prediction.for_card(
            self.card,
            probs,
            quality_issues=quality_issues,
            cam=cam,
            elapsed_ms=(time.perf_counter() - start) * 1000.0 + out.elapsed_ms * (out is outputs),
            cams=cams,
            scope_issues=found.issues,
            scope_score=found.distance,
            cautions=found.cautions + cautions,
            dermoscopy_score=found.score,
        )

    def predict_image(self, img: Image.Image, with_cam: bool = True) -> Prediction:
        """Classify an already-decoded RGB image (clipboard paste, samples)."""
        arr = preprocess(img.convert("RGB"), self.card.preprocessing)
        reasons, cautions = check_quality(img, arr, self.card.soft_focus)
        return self.predict_array(arr, reasons, with_cam=with_cam, cautions=cautions)

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
