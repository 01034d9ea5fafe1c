"""Training configuration: one frozen dataclass, saved as JSON with every run and checkpoint."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, fields, replace
from pathlib import Path
from typing import Any

from desktop.imaging import VIEW_SETS

QUANTIZATIONS = ("int8", "float32")
STRATEGIES = ("default", "mirrored", "multiworker")
ARCHS = ("lite0", "resnet")


@dataclass(frozen=True)
class TrainConfig:
    """Every knob of a run. Defaults are the ones used for the shipped model."""

    data: tuple[str, ...] = ()  # one or more sources, each in its native layout
    out: str = ""
    label_map: str = ""  # JSON file overriding desktop.labelled.labels (term -> class)
    # keep this source, or origin (a HAM10000 `dataset` value), out of training; score on it
    holdout_source: str = ""
    seed: int = 1337
    # data
    image_size: int = 128
    color_constancy: str = "shades_of_gray"
    crop: float = 1.0  # share of the centre square the model sees (the rest is rim and camera)
    val_fraction: float = 0.15
    test_fraction: float = 0.15
    balance_target: str = "600"  # "max", "none" or a per-class count
    balance_max_factor: int = 4  # no class grows beyond this many times its own images
    near_duplicates: bool = True
    harmonise: bool = True  # training images to a common resolution and JPEG quality first
    harmonise_side: int = 150  # shorter side, px (HAM10000's native 200x150)
    harmonise_quality: int = 80
    # model
    arch: str = (
        "lite0"  # "lite0" (ImageNet EfficientNet-Lite0 blocks) or "resnet" (small CNN from scratch)
    )
    pretrained: bool = True  # start lite0 from ImageNet weights
    lite_blocks: int = 11  # MBConv blocks of Lite0 kept (11 of 16: int8 file under 1 MB)
    freeze_blocks: int = 0  # lite0: the stem and this many first blocks keep their ImageNet weights
    extra_blocks: int = 0  # resnet: extra stride-1 blocks at the last (smallest) stage
    width: int = (
        0  # 0 = the architecture's own (lite0: 192 CAM feature channels; resnet: 24 first-stage)
    )
    dropout: float = 0.3
    weight_decay: float = 5e-4
    augment: bool = True
    vignette_rate: float = 0.35  # share of training images given a random dark rim
    quality_rate: float = 0.5  # share re-encoded as JPEG / blurred or sharpened (each)
    # optimisation
    epochs: int = 8
    batch_size: int = 32
    learning_rate: float = 5e-4
    warmup_epochs: int = 1
    label_smoothing: float = 0.05
    class_weights: bool = True
    patience: int = 8
    ema: float = 0.995  # weight averaging per step, e.g. 0.995; 0 = off
    monitor: str = "val_balanced_accuracy"  # or "val_loss"
    # calibration, alert, export
    prior_correction: bool = True  # add back part of the class prior, weight chosen on validation
    target_sensitivity: float = 0.90
    min_top_probability: float = 0.45
    test_time_views: str = "dihedral"  # the app averages over these (desktop.imaging.VIEW_SETS)
    quantization: str = "int8"
    max_int8_drop: float = 0.02
    strategy: str = "default"

    def __post_init__(self) -> None:
        if isinstance(self.data, str | Path):
            object.__setattr__(self, "data", (str(self.data),) if str(self.data) else ())
        else:
            object.__setattr__(self, "data", tuple(str(d) for d in self.data))
        if self.quantization not in QUANTIZATIONS:
            raise ValueError(f"quantization must be one of {QUANTIZATIONS}")
        if self.strategy not in STRATEGIES:
            raise ValueError(f"strategy must be one of {STRATEGIES}")
        if not 0.0 <= self.ema < 1.0:
            raise ValueError("ema must be in [0, 1)")
        if self.arch not in ARCHS:
            raise ValueError(f"arch must be one of {ARCHS}")
        if not 1 <= self.lite_blocks <= 16:
            raise ValueError("lite_blocks must be in 1..16")
        if not 0 <= self.freeze_blocks <= self.lite_blocks:
            raise ValueError("freeze_blocks must be in 0..lite_blocks")
        if self.freeze_blocks and not (self.arch == "lite0" and self.pretrained):
            raise ValueError("freeze_blocks needs --arch lite0 with its ImageNet weights")
        if self.test_time_views not in VIEW_SETS:
            raise ValueError(f"test_time_views must be one of {tuple(VIEW_SETS)}")
        if self.monitor not in ("val_balanced_accuracy", "val_loss"):
            raise ValueError("monitor must be val_balanced_accuracy or val_loss")
        if not 0.0 < self.val_fraction < 0.5 or not 0.0 <= self.test_fraction < 0.5:
            raise ValueError("val_fraction must be in (0, 0.5) and test_fraction in [0, 0.5)")
        if self.balance_target not in ("max", "none") and not str(self.balance_target).isdigit():
            raise ValueError("balance_target must be 'max', 'none' or a number")
        if self.balance_max_factor < 1:
            raise ValueError("balance_max_factor must be at least 1")
        for name in ("vignette_rate", "quality_rate"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise ValueError(f"{name} must be in [0, 1]")
        if not 0 <= self.extra_blocks <= 8:
            raise ValueError("extra_blocks must be in [0, 8]")
        if not 0.5 <= self.crop <= 1.0:
            raise ValueError("crop must be in [0.5, 1]")
        if self.image_size < 32 or self.epochs < 1 or self.batch_size < 1:
            raise ValueError("image_size >= 32, epochs >= 1 and batch_size >= 1 are required")

    @property
    def model_width(self) -> int:
        """``width``, or the architecture's default when it is 0."""
        return self.width or (192 if self.arch == "lite0" else 24)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def save(self, path: Path) -> None:
        path.write_text(json.dumps(self.to_dict(), indent=2) + "\n", encoding="utf-8")

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TrainConfig:
        names = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in names})

    @classmethod
    def load(cls, path: Path) -> TrainConfig:
        return cls.from_dict(json.loads(Path(path).read_text(encoding="utf-8")))

    def replace(self, **changes: Any) -> TrainConfig:
        return replace(self, **changes)
