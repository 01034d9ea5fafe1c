"""Adapt the model to a clinic's own dermatoscope from its labelled images, on the clinic PC.

``python -m desktop adapt --data DIR [--data DIR ...] --out OUT`` (and ``LesionLens adapt``
from the bundle): the base model's features averaged over its test-time views are computed
once per image (cached in ``OUT``), a corrected head, temperature and melanoma threshold are
fitted by cross-validation (:mod:`desktop.adapt.fit`), and ``OUT/model.tflite`` +
``OUT/model.json`` form a complete model the window and ``--classify`` load like any other.
No TensorFlow, no Qt; nothing is ever written into the clinic's folders.
"""
