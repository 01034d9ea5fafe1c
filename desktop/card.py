"""The model card (``model.json``): the only contract between trainer and app.

The trainer writes it, the app reads it; neither hard-codes class order, input
size, preprocessing, temperature or the melanoma threshold. Qt- and TF-free.
"""

from __future__ import annotations

import json
import numbers
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from desktop import alert_card
from desktop.alert_card import MELANOMA, AlertError, Borderline, is_name
from desktop.descriptor import DESCRIPTOR
from desktop.general import KEY as GENERAL_KEY
from desktop.general import GeneralError, GeneralSpec
from desktop.head import HeadError, LinearHead
from desktop.imaging import VIEW_SETS
from desktop.integrity import KEY as INTEGRITY_KEY
from desktop.integrity import Seal, is_number, parse_seal
from desktop.preprocessing import Preprocessing, brief
from desktop.quality import QualityError, SoftFocus
from desktop.scope import AnyScope, ScopeError, load_scope

FORMAT_VERSION = 1

T = TypeVar("T")

REQUIRED_KEYS = (
    "format_version",
    "model_version",
    "classes",
    "melanoma_index",
    "input",
    "preprocessing",
    "outputs",
    "calibration",
    "alert",
    "uncertainty",
    "cam",
    "metrics",
    "training_data",
    "trainer_version",
    "created",
    "intended_use",
    "limitations",
)


class CardError(Exception):
    """A missing, unreadable or inconsistent model card; ``str(err)`` says what is wrong."""


@dataclass(frozen=True)
class ModelCard:
    """Validated view of ``model.json``; ``raw`` keeps everything for the About dialog."""

    classes: tuple[str, ...]
    melanoma_index: int
    preprocessing: Preprocessing
    input_name: str
    probabilities_output: str
    features_output: str
    temperature: float
    melanoma_threshold: float
    min_top_probability: float
    cam_weights: tuple[tuple[float, ...], ...]  # (channels, classes)
    cam_bias: tuple[float, ...]
    model_version: str
    raw: dict[str, Any] = field(repr=False, compare=False)
    # The fitted "is this dermoscopy at all?" decision; None for older cards, which then
    # rely on pixel checks alone (said in the model-card text, see desktop.verdict).
    scope: AnyScope | None = field(default=None, repr=False, compare=False)
    # Test-time views the probabilities are averaged over (desktop.imaging.VIEW_SETS); older
    # cards have none, and their thresholds were chosen on single views.
    test_time_views: str = "none"
    # A head refitted on a clinic's images (desktop.head); None: the network's own output.
    head: LinearHead | None = field(default=None, repr=False, compare=False)
    # The seal on the model file (its SHA-256) and the check images (desktop.integrity);
    # None for older cards, which are accepted unsealed.
    integrity: Seal | None = field(default=None, repr=False, compare=False)
    # The melanoma alert's "high" grade (``alert.melanoma_high.threshold``, chosen for
    # specificity on validation); None for older cards, whose alert has one grade.
    melanoma_high_threshold: float | None = None
    # (class, threshold) of each referral prompt (``alert.referrals``): other skin cancers
    # and actinic keratosis, each at its own measured point; empty for older cards.
    referral_thresholds: tuple[tuple[str, float], ...] = ()
    # The band around the melanoma alert where a re-take often changes it, with its measured
    # figures; None for older cards and where it was measured at another threshold (adapted).
    borderline: Borderline | None = None
    # The general-purpose network the scope also reads (desktop.general): its file beside the
    # model, sealed by SHA-256; None for cards whose scope reads the lesion model alone.
    general: GeneralSpec | None = field(default=None, repr=False, compare=False)
    # What blurred copies kept (desktop.quality.SoftFocus), quoted by the soft-focus caution.
    soft_focus: SoftFocus | None = None

    @property
    def adaptation(self) -> dict[str, Any] | None:
        """The ``adaptation`` block of a card written by ``adapt``; None for a base model."""
        block = self.raw.get("adaptation")
        return dict(block) if isinstance(block, dict) else None

    @property
    def input_size(self) -> int:
        return int(self.preprocessing.size)

    @property
    def num_classes(self) -> int:
        return len(self.classes)

    @property
    def descriptor_width(self) -> int:
        """Numbers of the lesion model's descriptor (desktop.descriptor), before any general
        network's features: a row of the scope's fits and of the feature cache starts with it."""
        return len(self.cam_weights) * len(DESCRIPTOR)

    @property
    def metrics(self) -> dict[str, Any]:
        return dict(self.raw.get("metrics", {}))

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ModelCard:
        """Validate a card dict; raises :class:`CardError` naming the first problem."""
        validate(data)
        cam = data["cam"]
        return cls(
            classes=tuple(data["classes"]),
            melanoma_index=int(data["melanoma_index"]),
            preprocessing=Preprocessing.from_dict(data["preprocessing"]),
            input_name=str(data["input"]["name"]),
            probabilities_output=str(data["outputs"]["probabilities"]),
            features_output=str(data["outputs"]["features"]),
            temperature=float(data["calibration"]["temperature"]),
            melanoma_threshold=float(data["alert"]["melanoma_threshold"]),
            min_top_probability=float(data["uncertainty"]["min_top_probability"]),
            cam_weights=tuple(tuple(float(v) for v in row) for row in cam["weights"]),
            cam_bias=tuple(float(v) for v in cam["bias"]),
            model_version=str(data["model_version"]),
            raw=data,
            scope=_scope(data),
            test_time_views=str(data.get("test_time_views", "none")),
            head=_head(data),
            integrity=_integrity(data),
            melanoma_high_threshold=_alert(alert_card.melanoma_high, data),
            referral_thresholds=_alert(alert_card.referrals, data),
            borderline=_alert(alert_card.borderline, data),
            general=_general(data),
            soft_focus=_soft_focus(data),
        )


def _alert(parse: Callable[[dict[str, Any]], T], data: dict[str, Any]) -> T:
    """One optional block of the card's ``alert`` (``desktop.alert_card``), its error ours."""
    try:
        return parse(data)
    except AlertError as exc:
        raise CardError(str(exc)) from None


def _scope(data: dict[str, Any]) -> AnyScope | None:
    """The optional ``scope`` block (two-sided or one-sided), checked against the channels."""
    if data.get("scope") is None:
        return None
    try:
        return load_scope(data["scope"], channels=len(data["cam"]["weights"]))
    except ScopeError as exc:
        raise CardError(f"model card 'scope' is invalid: {exc}") from None
    except (TypeError, ValueError, OverflowError, RecursionError, KeyError):
        raise CardError("model card 'scope' is invalid") from None


def _soft_focus(data: dict[str, Any]) -> SoftFocus | None:
    try:
        return SoftFocus.from_card(data)
    except QualityError as exc:
        raise CardError(f"model card {exc}") from None


def _general(data: dict[str, Any]) -> GeneralSpec | None:
    """The optional ``general`` block; a scope that reads the general network needs it, with
    the same number of features."""
    spec = None
    if data.get(GENERAL_KEY) is not None:
        try:
            spec = GeneralSpec.from_dict(data[GENERAL_KEY])
        except GeneralError as exc:
            raise CardError(f"model card {exc}") from None
    scope = data.get("scope")
    wants = scope.get("general_features") if isinstance(scope, dict) else None
    if wants is not None and (spec is None or spec.features != wants):
        raise CardError(
            "model card 'scope' reads a general network's features the card does not name"
        )
    return spec


def _head(data: dict[str, Any]) -> LinearHead | None:
    """The optional adapted ``head`` block, checked against channels and classes."""
    if data.get("head") is None:
        return None
    try:
        return LinearHead.from_dict(
            data["head"], channels=len(data["cam"]["weights"]), classes=len(data["classes"])
        )
    except HeadError as exc:
        raise CardError(f"model card 'head' is invalid: {exc}") from None


def _integrity(data: dict[str, Any]) -> Seal | None:
    """The optional ``integrity`` block (the seal on the model file), checked when present."""
    if data.get(INTEGRITY_KEY) is None:
        return None
    try:
        return parse_seal(data[INTEGRITY_KEY], data["classes"])
    except ValueError as exc:
        raise CardError(f"model card 'integrity' is invalid: {exc}") from None
    except Exception:  # whatever the block holds, only CardError escapes
        raise CardError("model card 'integrity' is invalid") from None


def _is_index(value: Any) -> bool:
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def _is_sequence(value: Any) -> bool:
    return isinstance(value, list | tuple)


def validate(data: Any) -> None:
    """Raise :class:`CardError` unless ``data`` is a complete, self-consistent card.

    Only :class:`CardError` ever escapes, whatever ``data`` holds, so a damaged
    ``model.json`` is reported to the user instead of crashing the app. The checks run in
    the order a reader needs them: the card's own format, then the classes, then what the
    model is fed and gives back, then the numbers the verdict uses, then the heat-map.
    """
    if not isinstance(data, dict):
        raise CardError("model card is not a JSON object")
    missing = [k for k in REQUIRED_KEYS if k not in data]
    if missing:
        raise CardError(f"model card is incomplete: missing {', '.join(missing)}")
    version = data["format_version"]
    if not _is_index(version) or version != FORMAT_VERSION:
        raise CardError(
            f"model card format {brief(version)} is not supported (expected {FORMAT_VERSION})"
        )
    if not is_name(data["model_version"]):
        raise CardError("model card 'model_version' must be a non-empty string")
    classes = _classes(data)
    _model_interface(data)
    _decision_numbers(data)
    _cam(data, classes)
    if not isinstance(data["metrics"], dict):
        raise CardError("model card 'metrics' must be an object")
    _scope(data)  # optional; validated whenever present
    _alert(alert_card.melanoma_high, data)
    _alert(alert_card.referrals, data)
    _integrity(data)  # optional (older cards); validated whenever present
    _head(data)
    _general(data)


def _classes(data: dict[str, Any]) -> list[str]:
    """The class names, distinct, with melanoma where ``melanoma_index`` says: every alert
    depends on that one index."""
    classes = data["classes"]
    if (
        not isinstance(classes, list)
        or len(classes) < 2
        or not all(is_name(c) for c in classes)
        or len(set(classes)) != len(classes)
    ):
        raise CardError("model card 'classes' must be a list of at least two distinct names")
    mi = data["melanoma_index"]
    if not _is_index(mi) or not 0 <= mi < len(classes):
        raise CardError("model card 'melanoma_index' does not point into 'classes'")
    if classes[mi] != MELANOMA:
        raise CardError(
            f"model card 'melanoma_index' points at {brief(classes[mi])}, not {MELANOMA!r}"
        )
    return classes


def _model_interface(data: dict[str, Any]) -> None:
    """What the model is fed (preprocessing, test-time views, the input tensor, whose size
    must be the preprocessing's) and the two outputs the app reads."""
    try:
        pre = Preprocessing.from_dict(data["preprocessing"])
    except (TypeError, ValueError, AttributeError) as exc:
        raise CardError(f"model card 'preprocessing' is invalid: {exc}") from None
    views = data.get("test_time_views", "none")
    if not isinstance(views, str) or views not in VIEW_SETS:
        raise CardError(
            f"model card 'test_time_views' must be one of {', '.join(VIEW_SETS)}, "
            f"not {brief(views)}"
        )
    inp = data["input"]
    if (
        not isinstance(inp, dict)
        or not is_name(inp.get("name"))
        or not _is_index(inp.get("size"))
        or inp["size"] != pre.size
    ):
        raise CardError("model card 'input' must name the input and match the preprocessing size")
    outs = data["outputs"]
    if not isinstance(outs, dict) or not all(
        is_name(outs.get(k)) for k in ("probabilities", "features")
    ):
        raise CardError("model card 'outputs' must name 'probabilities' and 'features'")


def _decision_numbers(data: dict[str, Any]) -> None:
    """The temperature (positive), the melanoma alert and the uncertainty limit
    (probabilities, in [0, 1]) that turn the model's outputs into a verdict."""
    for section, key in (
        ("calibration", "temperature"),
        ("alert", "melanoma_threshold"),
        ("uncertainty", "min_top_probability"),
    ):
        value = data[section].get(key) if isinstance(data[section], dict) else None
        if not is_number(value):
            raise CardError(f"model card '{section}.{key}' must be a number")
    if data["calibration"]["temperature"] <= 0:
        raise CardError("model card temperature must be positive")
    for section, key in (("alert", "melanoma_threshold"), ("uncertainty", "min_top_probability")):
        if not 0.0 <= data[section][key] <= 1.0:
            raise CardError(f"model card '{section}.{key}' must lie in [0, 1]")


def _cam(data: dict[str, Any], classes: list[str]) -> None:
    """The heat-map's weights (channels x classes) and bias (one per class), finite."""
    cam = data["cam"]
    weights = cam.get("weights") if isinstance(cam, dict) else None
    bias = cam.get("bias") if isinstance(cam, dict) else None
    ok = (
        _is_sequence(weights)
        and len(weights) > 0
        and all(_is_sequence(row) and len(row) == len(classes) for row in weights)
        and _is_sequence(bias)
        and len(bias) == len(classes)
    )
    if not ok:
        raise CardError(
            "model card 'cam' must hold weights (channels x classes) and bias (classes)"
        )
    if not all(is_number(v) for row in weights for v in row) or not all(is_number(v) for v in bias):
        raise CardError("model card 'cam' weights and bias must be finite numbers")


def load_card(path: str | os.PathLike[str]) -> ModelCard:
    """Read and validate a card file; every failure is a :class:`CardError`.

    A UTF-8 byte-order mark (Windows Notepad adds one) is accepted.
    """
    p = Path(path)
    shown = _show(p)
    try:
        text = p.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise CardError(f"model card not found: {shown}") from None
    except UnicodeDecodeError as exc:
        raise CardError(
            f"model card cannot be read: {shown} (not UTF-8 text: byte {exc.start})"
        ) from None
    except (OSError, ValueError) as exc:  # folders, permissions, NUL bytes in the path
        raise CardError(f"model card cannot be read: {shown} ({_one_line(exc)})") from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise CardError(f"model card is not valid JSON: {shown} (line {exc.lineno})") from None
    except (ValueError, RecursionError) as exc:  # 5000-digit numbers, absurd nesting
        raise CardError(f"model card is not usable JSON: {shown} ({_one_line(exc)})") from None
    return ModelCard.from_dict(data)


def _show(p: Path) -> str:
    """The path for a message, control characters escaped so it stays on one line."""
    return "".join(ch if ch.isprintable() else repr(ch)[1:-1] for ch in str(p))


def _one_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return (text.splitlines()[0] if text else type(exc).__name__)[:120]


def card_path_for(model_path: str | os.PathLike[str]) -> Path:
    """The card lives beside the model: ``model.tflite`` -> ``model.json``."""
    return Path(model_path).with_suffix(".json")
