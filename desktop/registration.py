"""Line up a later photo of a lesion with an earlier one: rotation, scale and shift.

Two dermoscopy photos of one lesion months apart are never taken at the same angle or
distance, and a change in size or border is only visible when the two lie on top of each
other. OpenCV does the work (no hand-written registration): ORB features on both photos,
matched with Lowe's ratio test, then a similarity transform fitted with RANSAC
(``cv2.estimateAffinePartial2D``). A fit that too few matches agree on is refused, never
guessed: the caller then shows the photos as taken and says why.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np

WORK_PX = 800  # the longer side the photos are registered at (full-size is slow, no better)
FEATURES = 4000
RATIO = 0.8  # Lowe's ratio test: a match must be clearly better than the runner-up
MIN_INLIERS = 12  # fewer agreeing matches than this and the fit is a guess
MIN_CONFIDENCE = 0.3
SCALE_RANGE = (0.5, 2.0)  # the same lesion photographed from a very different distance: refuse
RANSAC_PX = 3.0  # at WORK_PX


@dataclass(frozen=True)
class Registration:
    """Where the later photo lies on the earlier one.

    ``matrix`` (2x3) maps a pixel of the later photo to the earlier photo's pixels; it is
    None when the fit was refused, and ``reason`` then says why in words.
    """

    matrix: np.ndarray | None
    confidence: float  # 0..1: share of matches the fit agrees with, discounted when few
    inliers: int
    reason: str = ""

    @property
    def ok(self) -> bool:
        return self.matrix is not None

    @property
    def angle_deg(self) -> float:
        """Turn from the later photo to the earlier one: positive is clockwise on screen
        (image rows run downwards)."""
        if self.matrix is None:
            return 0.0
        return math.degrees(math.atan2(self.matrix[1, 0], self.matrix[0, 0]))

    @property
    def scale(self) -> float:
        if self.matrix is None:
            return 1.0
        return math.hypot(self.matrix[0, 0], self.matrix[1, 0])

    @property
    def shift(self) -> tuple[float, float]:
        if self.matrix is None:
            return 0.0, 0.0
        return float(self.matrix[0, 2]), float(self.matrix[1, 2])


def _grey(image: np.ndarray) -> tuple[np.ndarray, float]:
    """8-bit grey copy no longer than WORK_PX, contrast-equalised; and the factor applied."""
    arr = np.asarray(image)
    if arr.ndim == 3:
        arr = cv2.cvtColor(np.ascontiguousarray(arr[..., :3]), cv2.COLOR_RGB2GRAY)
    arr = arr.astype(np.uint8, copy=False)
    factor = min(1.0, WORK_PX / max(arr.shape[:2]))
    if factor < 1.0:
        size = (max(1, round(arr.shape[1] * factor)), max(1, round(arr.shape[0] * factor)))
        arr = cv2.resize(arr, size, interpolation=cv2.INTER_AREA)
    clahe = cv2.createCLAHE(clipLimit=2.0, tileGridSize=(8, 8))
    return clahe.apply(arr), factor


def _matches(fixed: np.ndarray, moving: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Matched point pairs (moving, fixed) that pass the ratio test."""
    orb = cv2.ORB_create(nfeatures=FEATURES)
    kp_f, des_f = orb.detectAndCompute(fixed, None)
    kp_m, des_m = orb.detectAndCompute(moving, None)
    if des_f is None or des_m is None or len(kp_f) < 2 or len(kp_m) < 2:
        return np.empty((0, 2), np.float32), np.empty((0, 2), np.float32)
    pairs = cv2.BFMatcher(cv2.NORM_HAMMING).knnMatch(des_m, des_f, k=2)
    good = [p[0] for p in pairs if len(p) == 2 and p[0].distance < RATIO * p[1].distance]
    src = np.float32([kp_m[m.queryIdx].pt for m in good]).reshape(-1, 2)
    dst = np.float32([kp_f[m.trainIdx].pt for m in good]).reshape(-1, 2)
    return src, dst


def register(fixed: np.ndarray, moving: np.ndarray) -> Registration:
    """The similarity transform taking ``moving`` (later photo) onto ``fixed`` (earlier).

    Both are HxW or HxWx3 uint8 arrays (RGB) of any size; the matrix is in their full-size
    pixels. Refused (``ok`` False, with a reason) when the photos have too little in common.
    """
    grey_f, f_fixed = _grey(fixed)
    grey_m, f_moving = _grey(moving)
    src, dst = _matches(grey_f, grey_m)
    if len(src) < MIN_INLIERS:
        return Registration(None, 0.0, 0, "too few details in common")
    small, mask = cv2.estimateAffinePartial2D(
        src, dst, method=cv2.RANSAC, ransacReprojThreshold=RANSAC_PX, maxIters=5000,
        confidence=0.999,
    )  # fmt: skip
    inliers = int(mask.sum()) if mask is not None else 0
    confidence = (inliers / len(src)) * min(1.0, inliers / (3 * MIN_INLIERS))
    if small is None or inliers < MIN_INLIERS or confidence < MIN_CONFIDENCE:
        return Registration(None, confidence, inliers, "too few details agree")
    # Back to full-size pixels: p_fixed = (A * f_moving * p_moving + t) / f_fixed.
    matrix = np.array(small, dtype=np.float64)
    matrix[:, :2] *= f_moving / f_fixed
    matrix[:, 2] /= f_fixed
    found = Registration(matrix, confidence, inliers)
    if not SCALE_RANGE[0] <= found.scale <= SCALE_RANGE[1]:
        return Registration(None, confidence, inliers, "the sizes differ too much")
    return found


def warp(moving: np.ndarray, registration: Registration, size: tuple[int, int]) -> np.ndarray:
    """``moving`` redrawn in the earlier photo's frame, ``size`` = (width, height) of it."""
    if registration.matrix is None:
        raise ValueError("the photos were not aligned: " + registration.reason)
    return cv2.warpAffine(
        np.ascontiguousarray(moving),
        registration.matrix,
        size,
        flags=cv2.INTER_LINEAR,
        borderMode=cv2.BORDER_CONSTANT,
        borderValue=(0, 0, 0),
    )


def self_check() -> str:
    """One line for ``--self-check``: OpenCV loads and recovers a known 10 degree turn.

    Raises RuntimeError when it does not, so a bundle missing a library fails loudly."""
    rng = np.random.default_rng(7)
    noise = cv2.GaussianBlur(rng.integers(0, 255, (320, 320), dtype=np.uint8), (0, 0), 2.0)
    fixed = cv2.normalize(noise, None, 0, 255, cv2.NORM_MINMAX)
    turn = cv2.getRotationMatrix2D((160.0, 160.0), 10.0, 1.0)
    moving = cv2.warpAffine(fixed, turn, (320, 320), borderMode=cv2.BORDER_REFLECT)
    found = register(fixed, moving)
    if not found.ok or abs(found.angle_deg - 10.0) > 1.0:
        raise RuntimeError(f"registration of a test pattern failed ({found.reason or 'off'})")
    return f"OpenCV {cv2.__version__}, a 10\u00b0 turn found as {found.angle_deg:.1f}\u00b0"
