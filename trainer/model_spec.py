"""The custom CNN: small enough for int8 at the edge, shaped for class-activation maps.

Raw 0-255 RGB goes in; rescaling lives inside the model. Random augmentation
layers run only in training. The backbone ends in a convolutional feature map
(named output "features") followed by global average pooling and one dense
layer, so CAM = features . dense weights, computed in the app without TF.
"""

from __future__ import annotations

from dataclasses import dataclass

import keras
from keras import layers

INPUT_NAME = "image"
FEATURES = "features"
PROBABILITIES = "probabilities"


@dataclass(frozen=True)
class ModelParts:
    """The training model and the pieces the exporter reassembles without augmentation."""

    model: keras.Model  # image -> logits, with augmentation
    backbone: keras.Model  # image -> feature map (rescaling included)
    head: layers.Dense  # pooled features -> logits


def augmentation(strength: float = 1.0) -> keras.Sequential:
    """Label-preserving changes for dermoscopy, chosen to break archive shortcuts.

    Lesions have no canonical orientation (flips, any rotation); archives differ in
    crop, scale and colour (zoom, translation, colour jitter).
    """
    s = strength
    return keras.Sequential(
        [
            layers.RandomFlip("horizontal_and_vertical"),
            layers.RandomRotation(0.5, fill_mode="reflect"),
            layers.RandomZoom((-0.25 * s, 0.1 * s), fill_mode="reflect"),
            layers.RandomTranslation(0.08 * s, 0.08 * s, fill_mode="reflect"),
            layers.RandomColorJitter(
                value_range=(0, 255),
                brightness_factor=0.15 * s,
                contrast_factor=0.2 * s,
                saturation_factor=(0.5 - 0.25 * s, 0.5 + 0.25 * s),
                hue_factor=0.04 * s,
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


def build_backbone(image_size: int, width: int) -> keras.Model:
    """image (0-255) -> feature map at 1/16 resolution with 6*width channels."""
    inputs = keras.Input((image_size, image_size, 3), name=INPUT_NAME)
    x = layers.Rescaling(1.0 / 127.5, offset=-1.0, name="rescale")(inputs)
    x = _conv_bn(x, width, 2, "stem")
    x = _conv_bn(x, width, 1, "stem2")
    x = _res_block(x, 2 * width, 2, "block1")
    x = _res_block(x, 4 * width, 2, "block2")
    x = _res_block(x, 6 * width, 2, "block3")
    return keras.Model(inputs, x, name="backbone")


def build_model(
    num_classes: int, image_size: int, width: int, dropout: float, augment: bool = True
) -> ModelParts:
    backbone = build_backbone(image_size, width)
    head = layers.Dense(num_classes, name="logits")
    inputs = keras.Input((image_size, image_size, 3), name=INPUT_NAME)
    x = augmentation()(inputs) if augment else inputs
    x = backbone(x)
    x = layers.GlobalAveragePooling2D(name="gap")(x)
    x = layers.Dropout(dropout, name="dropout")(x)
    logits = head(x)
    model = keras.Model(inputs, logits, name="lesion_cnn")
    return ModelParts(model=model, backbone=backbone, head=head)
