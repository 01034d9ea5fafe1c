"""A classification head refitted on the model's pooled features (clinic adaptation).

The network's last layer is a linear map from the globally pooled feature map to nine
logits. An adapted card replaces it with one fitted on a clinic's own images, applied in
numpy to the features *averaged over the card's test-time views*, so every part of the app
(window, ``--classify``, history, PDF) reads the same probabilities::

    probabilities = softmax((mean_view_pooled_features @ weights + bias) / temperature)

The block in the card (``head``) holds ``weights`` (channels x classes), ``bias``
(classes), ``temperature`` and a plain-words ``method``. numpy only: no TensorFlow, no Qt.
"""

from __future__ import annotations

import math
import numbers
from dataclasses import dataclass
from typing import Any

import numpy as np

METHOD = (
    "multinomial logistic regression on the model's pooled features averaged over the "
    "test-time views, fitted on this clinic's labelled images"
)


class HeadError(ValueError):
    """A ``head`` block that cannot be used; ``str(err)`` names the problem."""


def softmax(logits: np.ndarray) -> np.ndarray:
    """Row-wise softmax, stable for large logits."""
    z = np.asarray(logits, dtype=np.float64)
    z = z - z.max(axis=-1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=-1, keepdims=True)


@dataclass(frozen=True)
class LinearHead:
    """``softmax((features @ weights + bias) / temperature)``."""

    weights: np.ndarray  # (channels, classes)
    bias: np.ndarray  # (classes,)
    temperature: float = 1.0

    def logits(self, pooled: np.ndarray) -> np.ndarray:
        return np.asarray(pooled, dtype=np.float64) @ self.weights + self.bias

    def probabilities(self, pooled: np.ndarray) -> np.ndarray:
        """Calibrated probabilities of one ``(C,)`` or many ``(N, C)`` pooled feature rows."""
        return softmax(self.logits(pooled) / self.temperature)

    def to_dict(self) -> dict[str, Any]:
        return {
            "method": METHOD,
            "weights": [[round(float(v), 7) for v in row] for row in self.weights],
            "bias": [round(float(v), 7) for v in self.bias],
            "temperature": float(self.temperature),
        }

    @classmethod
    def from_dict(cls, data: Any, channels: int, classes: int) -> LinearHead:
        """Checked against the model's feature channels and the card's class count."""
        if not isinstance(data, dict):
            raise HeadError("expected an object with weights, bias and temperature")
        try:
            weights = np.asarray(data["weights"], dtype=np.float64)
            bias = np.asarray(data["bias"], dtype=np.float64)
        except KeyError as exc:
            raise HeadError(f"missing {exc.args[0]!r}") from None
        except (TypeError, ValueError, OverflowError, RecursionError):
            raise HeadError("weights and bias must be numbers") from None
        if weights.shape != (channels, classes):
            raise HeadError(f"weights are {weights.shape}, expected ({channels}, {classes})")
        if bias.shape != (classes,):
            raise HeadError(f"bias has shape {bias.shape}, expected ({classes},)")
        if not (np.isfinite(weights).all() and np.isfinite(bias).all()):
            raise HeadError("weights and bias must be finite")
        t = data.get("temperature", 1.0)
        if isinstance(t, bool) or not isinstance(t, numbers.Real) or not math.isfinite(t) or t <= 0:
            raise HeadError("temperature must be a positive number")
        return cls(weights=weights, bias=bias, temperature=float(t))
