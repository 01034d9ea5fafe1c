"""The CNNs: small enough for int8 at the edge, shaped for class-activation maps.

The shipped one is the small residual CNN trained from scratch (``arch="resnet"``);
``arch="lite0"`` (or ``"lite1"``) keeps the first blocks of EfficientNet-Lite0 (Lite1) and
starts from ImageNet weights (``trainer.pretrained``). docs/experiments.md compares them.

Raw 0-255 RGB goes in; rescaling lives inside the model. Random augmentation
layers run only in training. The backbone ends in a convolutional feature map
(named output "features") followed by global average pooling and one dense
layer, so CAM = features . dense weights, computed in the app without TF.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

import keras
import numpy as np
from keras import layers

if TYPE_CHECKING:
    from trainer.config import TrainConfig

INPUT_NAME = "image"
FEATURES = "features"
PROBABILITIES = "probabilities"


@dataclass(frozen=True)
class ModelParts:
    """The training model and the pieces the exporter reassembles without augmentation."""

    model: keras.Model  # image -> logits, with augmentation
    backbone: keras.Model  # image -> feature map (rescaling included)
    head: layers.Dense  # pooled features -> logits


RIM_SOFTNESS = 0.12  # width of the rim's edge, in half-image units


def gaussian_kernel(sigma: float) -> np.ndarray:
    """A normalised 2-D Gaussian, ``(2r+1, 2r+1)`` with ``r = ceil(2 sigma)``."""
    r = max(1, math.ceil(2.0 * sigma))
    t = np.arange(-r, r + 1, dtype=np.float64)
    g = np.exp(-0.5 * (t / sigma) ** 2)
    k = np.outer(g, g)
    return (k / k.sum()).astype(np.float32)


def low_pass(x, sigma: float):
    """A fixed Gaussian blur of ``sigma`` model-input pixels on every channel, never trained.

    Why: inside the backbone it runs after every augmentation in training and on every view in
    the app, so what a re-take changes most (JPEG blocks, resampling, a slight blur: fine
    detail) reaches the network already smoothed, in training as at test time."""
    if sigma <= 0:
        return x
    k = gaussian_kernel(sigma)
    channels = int(x.shape[-1])
    layer = layers.DepthwiseConv2D(
        k.shape[0], padding="same", use_bias=False, trainable=False, name="low_pass"
    )
    y = layer(x)
    layer.set_weights([np.repeat(k[:, :, None, None], channels, axis=2)])
    return y


def rim_mask(yy, xx, cx, cy, radius, floor, softness: float = RIM_SOFTNESS):
    """1 inside a circle, ``floor`` outside, with a soft edge; works on numpy arrays and tensors.

    ``yy``/``xx`` are coordinates from -1 to 1; the other arguments broadcast against them.
    """
    from keras import ops

    dist = ops.sqrt(ops.square(xx - cx) + ops.square(yy - cy))
    inside = ops.clip((radius - dist) / softness + 0.5, 0.0, 1.0)
    return floor + (1.0 - floor) * inside


@keras.saving.register_keras_serializable(package="lesionlens")
class RandomVignette(layers.Layer):
    """Darken everything outside a random circle, on a random share of training images.

    Images from the older ISIC archives often show the dermoscope's round field of
    view (dark corners); HAM10000 images rarely do. A dark rim therefore says
    "archive", which a CNN learns as "melanoma or nevus". Painting rims at random on
    every class makes the rim carry no label information.
    """

    def __init__(
        self,
        rate: float = 0.35,
        radius: tuple[float, float] = (0.85, 1.35),
        softness: float = RIM_SOFTNESS,
        seed: int | None = None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.rate = float(rate)
        self.radius = (float(radius[0]), float(radius[1]))
        self.softness = float(softness)
        self.seed = seed
        self.seed_generator = keras.random.SeedGenerator(seed)

    def call(self, images, training=None):
        if not training or self.rate <= 0:
            return images
        from keras import ops

        shape = ops.shape(images)  # dynamic: earlier random layers may hide the static size
        batch = shape[0]

        def axis(n):  # n points from -1 to 1
            return ops.cast(ops.arange(n), "float32") * (2.0 / ops.cast(n - 1, "float32")) - 1.0

        yy, xx = ops.meshgrid(axis(shape[1]), axis(shape[2]), indexing="ij")

        def uniform(lo: float, hi: float):
            return keras.random.uniform((batch, 1, 1), lo, hi, seed=self.seed_generator)

        cx, cy = uniform(-0.1, 0.1), uniform(-0.1, 0.1)
        r = uniform(*self.radius)
        floor = uniform(0.0, 0.15)  # rims are black to dark grey
        mask = rim_mask(yy[None], xx[None], cx, cy, r, floor, self.softness)
        mask = ops.where(uniform(0.0, 1.0) < self.rate, mask, ops.ones_like(mask))
        return images * ops.cast(mask[..., None], images.dtype)

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {
            **super().get_config(),
            "rate": self.rate,
            "radius": self.radius,
            "softness": self.softness,
            "seed": self.seed,
        }


def image_quality_augment(image, rate: float = 0.5):
    """Per-image change of JPEG quality and sharpness, for the tf.data training pipeline.

    Archives differ in compression and sharpness, and the first models leaned on it:
    re-encoding held-out melanoma/nevus images at JPEG quality 30 moved a fifth of
    them to other classes. Random re-encoding (quality 30-95) and a random blur or
    unsharp mask make image quality carry no label. Runs outside the model because
    JPEG coding is not a layer; the exported model never sees it. ``image`` is uint8.
    """
    import tensorflow as tf

    shape = image.shape
    image = tf.cond(
        tf.random.uniform(()) < rate,
        lambda: tf.image.random_jpeg_quality(image, 30, 95),
        lambda: image,
    )
    x = tf.ensure_shape(tf.cast(image, tf.float32), shape)
    blurred = tf.nn.avg_pool2d(x[None], 3, 1, "SAME")[0]
    # amount -1 is a 3x3 blur, 0 nothing, > 0 an unsharp mask
    amount = tf.where(tf.random.uniform(()) < rate, tf.random.uniform((), -1.0, 1.5), 0.0)
    # JPEG decoding hides the static size; give it back so the model's layers see it.
    return tf.ensure_shape(tf.clip_by_value(x + amount * (x - blurred), 0.0, 255.0), shape)


def augmentation(
    strength: float = 1.0,
    vignette_rate: float = 0.35,
    stretch: float = 0.0,
    zoom_in: float = 0.25,
    zoom_out: float = 0.1,
    colour: float = 1.0,
) -> keras.Sequential:
    """Label-preserving changes for dermoscopy, chosen to break archive shortcuts.

    Lesions have no canonical orientation (flips, any rotation); archives differ in
    crop, scale, colour and field of view (zoom, translation, colour jitter, vignette), and
    some squeeze non-square photos into squares (``stretch``: the width zooms on its own,
    changing the aspect ratio by up to that share). ``colour`` scales the colour jitter on
    its own (dermatoscopes differ in light and sensor more than in geometry).
    """
    s = strength
    c = strength * colour
    zoom = (-zoom_in * s, zoom_out * s)
    width_zoom = None if stretch <= 0 else (zoom[0] - stretch / 2, zoom[1] + stretch / 2)
    return keras.Sequential(
        [
            layers.RandomFlip("horizontal_and_vertical"),
            layers.RandomRotation(0.5, fill_mode="reflect"),
            layers.RandomZoom(zoom, width_zoom, fill_mode="reflect"),
            layers.RandomTranslation(0.08 * s, 0.08 * s, fill_mode="reflect"),
            RandomVignette(vignette_rate),
            layers.RandomColorJitter(
                value_range=(0, 255),
                brightness_factor=0.15 * c,
                contrast_factor=0.2 * c,
                saturation_factor=(max(0.0, 0.5 - 0.25 * c), min(1.0, 0.5 + 0.25 * c)),
                hue_factor=0.04 * c,
            ),
        ],
        name="augment",
    )


def _conv_bn(x, filters: int, stride: int = 1, name: str = ""):
    x = layers.Conv2D(
        filters, 3, strides=stride, padding="same", use_bias=False, name=f"{name}_conv"
    )(x)
    x = layers.BatchNormalization(name=f"{name}_bn")(x)
    return layers.ReLU(name=f"{name}_relu")(x)


def _res_block(x, filters: int, stride: int, name: str):
    """Two 3x3 convolutions with a projection shortcut (ResNet basic block)."""
    shortcut = x
    y = _conv_bn(x, filters, stride, f"{name}_a")
    y = layers.Conv2D(filters, 3, padding="same", use_bias=False, name=f"{name}_b_conv")(y)
    y = layers.BatchNormalization(name=f"{name}_b_bn")(y)
    if stride != 1 or shortcut.shape[-1] != filters:
        shortcut = layers.Conv2D(filters, 1, strides=stride, use_bias=False, name=f"{name}_proj")(
            shortcut
        )
        shortcut = layers.BatchNormalization(name=f"{name}_proj_bn")(shortcut)
    return layers.ReLU(name=f"{name}_out")(layers.Add(name=f"{name}_add")([y, shortcut]))


def build_backbone(
    image_size: int, width: int, extra_blocks: int = 0, blur: float = 0.0
) -> keras.Model:
    """image (0-255) -> feature map at 1/16 resolution with 6*width channels.

    ``extra_blocks`` adds stride-1 blocks at the last stage: capacity where the map
    is smallest (8x8 at 128 px), so parameters grow much faster than compute.
    """
    inputs = keras.Input((image_size, image_size, 3), name=INPUT_NAME)
    x = layers.Rescaling(1.0 / 127.5, offset=-1.0, name="rescale")(inputs)
    x = low_pass(x, blur)
    x = _conv_bn(x, width, 2, "stem")
    x = _conv_bn(x, width, 1, "stem2")
    x = _res_block(x, 2 * width, 2, "block1")
    x = _res_block(x, 4 * width, 2, "block2")
    x = _res_block(x, 6 * width, 2, "block3")
    for i in range(extra_blocks):
        x = _res_block(x, 6 * width, 1, f"block3_{i + 1}")
    return keras.Model(inputs, x, name="backbone")


# EfficientNet-Lite0 stages: (repeats, kernel, first stride, expansion, output channels)
LITE0_STAGES = (
    (1, 3, 1, 1, 16),
    (2, 3, 2, 6, 24),
    (2, 5, 2, 6, 40),
    (3, 3, 2, 6, 80),
    (3, 5, 1, 6, 112),
    (4, 5, 2, 6, 192),
    (1, 3, 1, 6, 320),
)
# Lite1 has Lite0's channels and kernels with more blocks per middle stage (depth x1.1, the
# first and last stages fixed, as the Lite variants keep them): 21 blocks, the 1/16 cut at 15.
LITE_STAGES = {
    "lite0": LITE0_STAGES,
    "lite1": tuple(
        (r, *rest) for r, (_, *rest) in zip((1, 3, 3, 4, 4, 5, 1), LITE0_STAGES, strict=True)
    ),
}
LITE_ARCHS = tuple(LITE_STAGES)


def lite_blocks_total(variant: str) -> int:
    """How many MBConv blocks the whole ``variant`` network has (16 for Lite0, 21 for Lite1)."""
    return sum(s[0] for s in LITE_STAGES[variant])


def _bn(name: str):
    return layers.BatchNormalization(epsilon=1e-3, momentum=0.99, name=name)


def _mbconv(x, i: int, kernel: int, stride: int, expand: int, out: int):
    """Inverted residual block of EfficientNet-Lite (ReLU6, no squeeze-excitation)."""
    p = f"lite_b{i}"
    inp = x.shape[-1]
    y = x
    if expand != 1:
        y = layers.Conv2D(inp * expand, 1, use_bias=False, name=f"{p}_expand")(y)
        y = layers.ReLU(6.0, name=f"{p}_relu0")(_bn(f"{p}_bn0")(y))
    y = layers.DepthwiseConv2D(kernel, stride, padding="same", use_bias=False, name=f"{p}_dw")(y)
    y = layers.ReLU(6.0, name=f"{p}_relu1")(_bn(f"{p}_bn1")(y))
    y = layers.Conv2D(out, 1, use_bias=False, name=f"{p}_project")(y)
    y = _bn(f"{p}_bn2")(y)
    if stride == 1 and inp == out:
        y = layers.Add(name=f"{p}_add")([x, y])
    return y


def build_lite(
    image_size: int,
    blocks: int = 11,
    features: int = 192,
    variant: str = "lite0",
    blur: float = 0.0,
) -> keras.Model:
    """image (0-255) -> feature map: the first ``blocks`` MBConv blocks of EfficientNet-Lite0
    (``variant`` "lite1": of Lite1).

    Eleven Lite0 blocks end at 1/16 resolution with 112 channels (~0.6 M parameters, an int8
    file under 1 MB, a CAM grid of 10x10 at 160 px); the full network's later stages
    hold 3.5 M more parameters. Lite1's first 15 blocks end at the same place, deeper.
    A fresh 1x1 convolution makes the CAM feature map.
    """
    if variant not in LITE_STAGES:
        raise ValueError(f"unknown architecture {variant!r}")
    total = lite_blocks_total(variant)
    if not 1 <= blocks <= total:
        raise ValueError(f"blocks must be in 1..{total}")
    inputs = keras.Input((image_size, image_size, 3), name=INPUT_NAME)
    x = layers.Rescaling(1.0 / 127.5, offset=-1.0, name="rescale")(inputs)  # Lite: (x-127)/128
    x = low_pass(x, blur)
    x = layers.Conv2D(32, 3, 2, padding="same", use_bias=False, name="lite_stem")(x)
    x = layers.ReLU(6.0, name="lite_stem_relu")(_bn("lite_stem_bn")(x))
    i = 0
    for repeats, kernel, stride, expand, out in LITE_STAGES[variant]:
        for j in range(repeats):
            if i < blocks:
                x = _mbconv(x, i, kernel, stride if j == 0 else 1, expand, out)
                i += 1
    x = layers.Conv2D(features, 1, use_bias=False, name="head_conv")(x)
    x = layers.ReLU(6.0, name="head_relu")(_bn("head_bn")(x))
    return keras.Model(inputs, x, name="backbone")


def build_model(
    num_classes: int,
    image_size: int,
    width: int,
    dropout: float,
    augment: bool = True,
    vignette_rate: float = 0.35,
    arch: str = "resnet",
    lite_blocks: int = 11,
    extra_blocks: int = 0,
    stretch: float = 0.0,
    zoom: tuple[float, float] = (0.25, 0.1),
    colour: float = 1.0,
    blur: float = 0.0,
) -> ModelParts:
    """``arch`` "lite0"/"lite1" is EfficientNet-Lite0/Lite1 (``width`` = feature channels),
    "resnet" the small CNN. ``blur``: sigma of the backbone's fixed :func:`low_pass`
    (``--low-pass``; 0, the shipped recipe: none)."""
    if arch in LITE_ARCHS:
        backbone = build_lite(image_size, lite_blocks, width, arch, blur)
    elif arch == "resnet":
        backbone = build_backbone(image_size, width, extra_blocks, blur)
    else:
        raise ValueError(f"unknown architecture {arch!r}")
    head = layers.Dense(num_classes, name="logits")
    inputs = keras.Input((image_size, image_size, 3), name=INPUT_NAME)
    x = (
        augmentation(
            vignette_rate=vignette_rate,
            stretch=stretch,
            zoom_in=zoom[0],
            zoom_out=zoom[1],
            colour=colour,
        )(inputs)
        if augment
        else inputs
    )
    x = backbone(x)
    x = layers.GlobalAveragePooling2D(name="gap")(x)
    x = layers.Dropout(dropout, name="dropout")(x)
    logits = head(x)
    model = keras.Model(inputs, logits, name="lesion_cnn")
    return ModelParts(model=model, backbone=backbone, head=head)


def freeze_lite(backbone: keras.Model, blocks: int) -> int:
    """Keep the stem and the first ``blocks`` MBConv blocks as loaded (weights and batch-norm
    statistics: a frozen BatchNormalization runs in inference mode). Returns the layers frozen."""
    if blocks <= 0:
        return 0
    prefixes = ("lite_stem", *(f"lite_b{i}_" for i in range(blocks)))
    frozen = [layer for layer in backbone.layers if layer.name.startswith(prefixes)]
    for layer in frozen:
        layer.trainable = False
    return len(frozen)


def build_model_for(config: TrainConfig, num_classes: int) -> ModelParts:
    """The model a run's configuration describes (training and benchmarks build the same one)."""
    parts = build_model(
        num_classes,
        config.image_size,
        config.model_width,
        config.dropout,
        config.augment,
        config.vignette_rate,
        arch=config.arch,
        lite_blocks=config.lite_blocks,
        extra_blocks=config.extra_blocks,
        stretch=config.stretch,
        zoom=(config.zoom_in, config.zoom_out),
        colour=config.colour_strength,
        blur=config.low_pass,
    )
    if config.arch in LITE_ARCHS:
        freeze_lite(parts.backbone, config.freeze_blocks)
    return parts
