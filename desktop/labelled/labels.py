"""One label map: every source vocabulary onto the nine ISIC classes, in one place.

Each term maps to a *default* class and the set of classes it *allows*. A term that is
coarser than the nine classes allows several (HAM10000's ``akiec`` and ``bkl``); when the
same image is labelled elsewhere with a finer compatible class, the finer one wins
(see :func:`trainer.identity.resolve_label`).

Decisions, and why:

- ``akiec`` (actinic keratosis + intraepithelial carcinoma / Bowen's disease) defaults to
  **actinic keratosis**, the name the ISIC 2018/2019 challenges give this class; it also
  allows squamous cell carcinoma, because Bowen's disease is SCC in situ and isic-9class files
  most of these very images under "squamous cell carcinoma". Never to nevus.
- ``bkl`` (seborrheic keratosis + solar lentigo + lichen-planus-like keratosis) defaults to
  **pigmented benign keratosis**, the folder isic-9class files these images under; it also
  allows seborrheic keratosis (a bkl image that a finer source calls SK stays SK).
- ISIC 2020 ``unknown`` (benign, no specific diagnosis) is a *partial* label,
  :data:`BENIGN_UNSPECIFIED`: it allows every class but melanoma. It is known not to be
  melanoma, so the melanoma decision, clinic adaptation and the "is this dermoscopy"
  statistics use it; nine-class training leaves it out, since any one class would be a guess.
  ISIC 2020 ``lentigo NOS`` is filed with solar lentigo, as pigmented benign keratosis.
- ISIC 2018/2019 ``UNK`` and anything not listed map to nothing: the image is reported and
  left out, never guessed.

Override with a JSON file (``--label-map``): ``{"term": "class"}`` or
``{"term": {"default": "class", "allows": ["class", ...]}}``; ``null`` drops a term.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

CLASSES: tuple[str, ...] = (
    "actinic keratosis",
    "basal cell carcinoma",
    "dermatofibroma",
    "melanoma",
    "nevus",
    "pigmented benign keratosis",
    "seborrheic keratosis",
    "squamous cell carcinoma",
    "vascular lesion",
)


# The partial label of an image known to be benign but given no class (ISIC 2020 ``unknown``).
BENIGN_UNSPECIFIED = "benign, unspecified"
MELANOMA = "melanoma"


@dataclass(frozen=True)
class Mapping:
    default: str
    allows: frozenset[str]


def _one(name: str) -> Mapping:
    return Mapping(name, frozenset({name}))


_BASE: dict[str, Mapping | None] = {
    # The nine class names themselves (isic-9class folders, plain CSVs, ISIC 2017 names).
    **{c: _one(c) for c in CLASSES},
    "naevus": _one("nevus"),
    # HAM10000 `dx` and ISIC 2018/2019 one-hot column names (lower-cased).
    "mel": _one("melanoma"),
    "nv": _one("nevus"),
    "bcc": _one("basal cell carcinoma"),
    "df": _one("dermatofibroma"),
    "vasc": _one("vascular lesion"),
    "scc": _one("squamous cell carcinoma"),
    "ak": _one("actinic keratosis"),
    "akiec": Mapping(
        "actinic keratosis", frozenset({"actinic keratosis", "squamous cell carcinoma"})
    ),
    "bkl": Mapping(
        "pigmented benign keratosis",
        frozenset({"pigmented benign keratosis", "seborrheic keratosis"}),
    ),
    "sk": _one("seborrheic keratosis"),
    "seborrheic_keratosis": _one("seborrheic keratosis"),
    "unk": None,
    # ISIC 2020 `diagnosis`.
    "lentigo nos": Mapping(
        "pigmented benign keratosis",
        frozenset({"pigmented benign keratosis", "seborrheic keratosis"}),
    ),
    "solar lentigo": Mapping(
        "pigmented benign keratosis",
        frozenset({"pigmented benign keratosis", "seborrheic keratosis"}),
    ),
    "unknown": Mapping(BENIGN_UNSPECIFIED, frozenset(c for c in CLASSES if c != MELANOMA)),
}


def allowed(label: str) -> frozenset[str]:
    """The classes a record's label allows: itself, or every non-melanoma for the partial one."""
    if label == BENIGN_UNSPECIFIED:
        return frozenset(c for c in CLASSES if c != MELANOMA)
    return frozenset({label})


def normalise(term: str) -> str:
    """'Basal_Cell  Carcinoma' and 'basal cell carcinoma' are one term."""
    return re.sub(r"[\s_]+", " ", term.strip().lower())


class LabelMap:
    """Term -> :class:`Mapping` (or ``None`` = left out on purpose)."""

    def __init__(self, overrides: dict[str, object] | None = None) -> None:
        self.terms: dict[str, Mapping | None] = {normalise(k): v for k, v in _BASE.items()}
        for term, value in (overrides or {}).items():
            self.terms[normalise(term)] = _parse_override(term, value)

    @classmethod
    def from_file(cls, path: str | Path | None) -> LabelMap:
        if not path:
            return cls()
        try:
            data = json.loads(Path(path).read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise ValueError(f"label map {path}: {exc}") from None
        if not isinstance(data, dict):
            raise ValueError(f"label map {path}: expected a JSON object of term -> class")
        return cls(data)

    def lookup(self, term: str) -> Mapping | None:
        """The mapping of a term, or None when it is unknown or left out."""
        return self.terms.get(normalise(term))

    def to_json(self) -> dict[str, object]:
        return {
            t: None if m is None else {"default": m.default, "allows": sorted(m.allows)}
            for t, m in sorted(self.terms.items())
        }


def _parse_override(term: str, value: object) -> Mapping | None:
    if value is None:
        return None
    if isinstance(value, str):
        value = {"default": value, "allows": [value]}
    if not isinstance(value, dict) or "default" not in value:
        raise ValueError(
            f"label map: {term!r} must map to a class name, null or {{default, allows}}"
        )
    default = str(value["default"])
    allows = frozenset(str(a) for a in value.get("allows", [default])) | {default}
    unknown = sorted(a for a in allows if a not in CLASSES)
    if unknown:
        raise ValueError(f"label map: {term!r} maps to unknown class(es) {', '.join(unknown)}")
    return Mapping(default, allows)
