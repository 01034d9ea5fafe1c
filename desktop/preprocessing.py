"""How a decoded image becomes model input (the card's ``preprocessing`` section), checked
as a card is: one owner for the settings every reader of an image shares."""

from __future__ import annotations

import math
import numbers
from dataclasses import asdict, dataclass
from typing import Any


@dataclass(frozen=True)
class Preprocessing:
    """How a decoded image becomes model input; saved in the model card.

    Validated on construction (``ValueError``) so a bad card can never reach
    :func:`preprocess` and fail there with a division by zero or a NaN.
    """

    size: int = 128
    # The only mode: the centre square. Kept as a card field (cards name it) so that a card
    # asking for a mode this app does not have is refused rather than silently misread.
    resize: str = "center_crop"
    color_constancy: str = "shades_of_gray"  # or "none"
    constancy_power: int = 6
    crop: float = 1.0  # share of the (square) view's side kept around its centre, 0.5..1
    # 0: the exposure as taken. Else the colour constancy also levels it: each channel's
    # Minkowski norm becomes this value (169 is typical of the training images), so a
    # brighter or darker photo of the same lesion reaches the model alike. Needs shades_of_gray.
    level: int = 0

    @property
    def draft_size(self) -> int:
        """Smallest decode size that still leaves twice the input size inside the crop."""
        return math.ceil(2 * self.size / self.crop)

    def __post_init__(self) -> None:
        for name in ("size", "constancy_power", "level"):
            value = getattr(self, name)
            if not isinstance(value, numbers.Integral) or isinstance(value, bool):
                raise ValueError(f"{name} must be an integer, not {brief(value)}")
            object.__setattr__(self, name, int(value))  # numpy ints -> plain int for JSON
        if not 8 <= self.size <= 1024:
            raise ValueError(f"input size {self.size} out of range 8..1024")
        if not isinstance(self.resize, str) or self.resize != "center_crop":
            raise ValueError(f"unknown resize mode {brief(self.resize)}")
        if not isinstance(self.color_constancy, str) or self.color_constancy not in (
            "shades_of_gray",
            "none",
        ):
            raise ValueError(f"unknown colour constancy {brief(self.color_constancy)}")
        if not 1 <= self.constancy_power <= 20:
            raise ValueError(f"constancy_power {self.constancy_power} out of range 1..20")
        if self.level and not 32 <= self.level <= 240:
            raise ValueError(f"exposure level {self.level} out of range: 0 (off) or 32..240")
        if self.level and self.color_constancy != "shades_of_gray":
            raise ValueError("an exposure level needs shades_of_gray colour constancy")
        if not isinstance(self.crop, numbers.Real) or isinstance(self.crop, bool):
            raise ValueError(f"crop must be a number, not {brief(self.crop)}")
        object.__setattr__(self, "crop", float(self.crop))
        if not 0.5 <= self.crop <= 1.0:  # also refuses NaN
            raise ValueError(f"crop {self.crop} out of range 0.5..1")

    def to_dict(self) -> dict[str, Any]:
        """The card's section. ``level`` only where set, so a card without it (every card
        before it) reads, and hashes, as it did."""
        out = asdict(self)
        if not self.level:
            del out["level"]
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Preprocessing:
        """Build from a card section; unknown keys are ignored (newer trainers may add some)."""
        if not isinstance(data, dict):
            raise ValueError("preprocessing must be an object")
        known = {
            k: data[k]
            for k in ("size", "resize", "color_constancy", "constancy_power", "crop", "level")
            if k in data
        }
        return cls(**known)


def brief(value: Any) -> str:
    """A short one-line repr for error messages (card values can be huge or deeply nested)."""
    try:
        text = repr(value)
    except RecursionError:
        return type(value).__name__
    return text if len(text) <= 40 else text[:37] + "..."
