"""Per-image results shared by the command line and the window (no Qt, no TensorFlow).

One :class:`ImageResult` per input, whether it was classified or not: a batch
never stops at an unreadable file, it records the one-line reason and goes on.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol, cast

import numpy as np
from PIL import Image

from desktop import verdict
from desktop.card import ModelCard
from desktop.imaging import (
    CRASHED_READER,
    ImageLoadError,
    is_image_path,
    open_image,
    preprocess,
)
from desktop.inference import ViewOutputs
from desktop.pipeline import ChildDied
from desktop.prediction import Prediction
from desktop.quality import check_quality

THUMBNAIL_PX = 96
# Photos a folder often holds that this app cannot decode (iPhone HEIC/HEIF). They are listed
# as unreadable rows rather than skipped, so nobody thinks a lesion photo was looked at.
UNREADABLE_PHOTO_EXTENSIONS = frozenset({".heic", ".heif"})


def unsupported_photo(path: Path) -> str:
    """Why a HEIC/HEIF photo has no result, and what to do about it."""
    return (
        f"{path.name}: HEIC/HEIF photos cannot be read by this app; export it as JPEG "
        "(on an iPhone: Settings \u25b8 Camera \u25b8 Formats \u25b8 Most Compatible) and "
        "open that"
    )


def crashed_reader(path: Path) -> str:
    """Why a file that crashed the image reader has no result (the batch went on without it)."""
    return (
        f"{path.name}: {CRASHED_READER}, so it was set aside and the other files were read; "
        "open it in another program and save it again as JPEG or PNG"
    )


def now_utc() -> str:
    """When a result was made, in UTC (the case-history CSV's format, to the second)."""
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class SupportsClassify(Protocol):
    """What the app needs from a classifier; :class:`desktop.inference.Classifier` fits."""

    card: ModelCard

    @property
    def model_name(self) -> str: ...

    def predict_image(self, img: Image.Image, with_cam: bool = True) -> Prediction: ...


@dataclass(frozen=True)
class ImageResult:
    """The outcome for one input: a prediction, or an error saying why there is none.

    ``cam`` is kept apart from the prediction as ``uint8`` so a batch of
    thousands of images stays small in memory; ``image`` is kept only for
    inputs that have no file to re-read (a pasted clipboard image).
    """

    name: str
    path: Path | None
    prediction: Prediction | None = None
    error: str | None = None
    cam: np.ndarray | None = field(default=None, repr=False, compare=False)
    cams: np.ndarray | None = field(default=None, repr=False, compare=False)  # uint8, per class
    thumbnail: np.ndarray | None = field(default=None, repr=False, compare=False)
    image: Image.Image | None = field(default=None, repr=False, compare=False)
    created: str = field(default_factory=now_utc, compare=False)  # when it was classified

    @property
    def ok(self) -> bool:
        return self.prediction is not None

    @property
    def alert_level(self) -> str:
        """'alert', 'refer', 'precancerous', 'no_alert', 'cannot_assess', or 'error' for an
        input that could not be read.

        :mod:`desktop.verdict` holds the words, colours and sort order for each level.
        """
        return verdict.alert_level(self.prediction) if self.prediction is not None else "error"

    def cam_float(self) -> np.ndarray | None:
        return None if self.cam is None else self.cam.astype(np.float32) / 255.0

    def cam_for(self, class_index: int) -> np.ndarray | None:
        """One class's activation map in [0, 1]; the top class's map when only that one was kept."""
        if self.cams is not None and 0 <= class_index < len(self.cams):
            return self.cams[class_index].astype(np.float32) / 255.0
        if self.prediction is not None and class_index == self.prediction.top_index:
            return self.cam_float()
        return None

    def to_json(self) -> dict[str, Any]:
        """The command line's schema: every key always present, null when unreadable.

        ``assessable`` is true only for an image that got a class; ``reason`` says in plain
        words why one did not (not a dermoscopy image, too small, unreadable).
        """
        record: dict[str, Any] = {
            "path": str(self.path) if self.path is not None else self.name,
            "assessable": False,
            "label": None,
            "probabilities": None,
            "melanoma_probability": None,
            "melanoma_alert": None,
            "alert_level": "error",
            "melanoma_level": None,
            "referral": None,
            "label_group": None,
            "melanoma_threshold": None,
            "near_alert_threshold": None,
            "uncertain": None,
            "uncertain_reasons": None,
            "reason": self.error,
            "error": self.error,
        }
        if self.prediction is not None:
            record.update(verdict.prediction_record(self.prediction))
            record["error"] = None
        return record


def expand_paths(paths: Iterable[str | os.PathLike[str]]) -> list[Path]:
    """Folders become their image files (recursive, sorted); named files are kept as given.

    Hidden files inside folders (``.DS_Store``, ``._IMG.jpg`` from macOS) are
    skipped; a file named explicitly is always attempted, whatever its name. HEIC/HEIF
    photos in a folder are kept, to become rows that say they cannot be read.
    Symlinked folders are not followed, so a link loop cannot hang the batch.
    """
    out: list[Path] = []
    for raw in paths:
        p = Path(raw)
        if p.is_dir():
            found: list[Path] = []
            for root, dirs, files in os.walk(p, followlinks=False):
                dirs[:] = [d for d in dirs if not d.startswith(".")]
                found.extend(
                    Path(root) / f
                    for f in files
                    if not f.startswith(".")
                    and (is_image_path(f) or Path(f).suffix.lower() in UNREADABLE_PHOTO_EXTENSIONS)
                )
            out.extend(sorted(found))
        else:
            out.append(p)
    return out


def _thumbnail(img: Image.Image, size: int) -> np.ndarray:
    thumb = img.copy()
    thumb.thumbnail((size, size), Image.Resampling.BILINEAR)
    return np.ascontiguousarray(np.asarray(thumb.convert("RGB"), dtype=np.uint8))


class SupportsArrays(SupportsClassify, Protocol):
    """A classifier that also takes a preprocessed array and runs the model's views apart
    (:class:`desktop.inference.Classifier`), so each image's work can run on any thread
    (:func:`prepare_image`) and only the finishing in the caller's."""

    def views(self, arr: np.ndarray) -> ViewOutputs: ...

    def predict_array(
        self,
        arr: np.ndarray,
        quality_issues: tuple[str, ...] = (),
        with_cam: bool = True,
        outputs: ViewOutputs | None = None,
        cautions: tuple[str, ...] | None = None,
    ) -> Prediction: ...


@dataclass(frozen=True)
class Prepared:
    """One decoded input with the model's outputs, made on any thread (:func:`prepare_image`).

    ``arr``, ``quality`` and ``outputs`` are None when the classifier takes images only (it
    then does it all in :func:`classify_prepared`, as it always did).
    """

    img: Image.Image
    arr: np.ndarray | None = field(default=None, repr=False)
    quality: tuple[str, ...] | None = None
    thumbnail: np.ndarray | None = field(default=None, repr=False)
    outputs: ViewOutputs | None = field(default=None, repr=False)
    cautions: tuple[str, ...] = ()  # image-quality cautions of a usable picture


def _takes_arrays(classifier: SupportsClassify) -> bool:
    return callable(getattr(classifier, "predict_array", None)) and callable(
        getattr(classifier, "views", None)
    )


def prepare_image(
    classifier: SupportsClassify, img: Image.Image, thumbnail: int = 0, views: bool = True
) -> Prepared:
    """Preprocess and quality-check an RGB image (exactly as ``predict_image`` would), run
    the model's test-time views on it (unless ``views`` is False: :func:`with_views` later),
    and make its thumbnail: an image's own work, which any thread may do (the classifier
    lends each caller an interpreter of its own)."""
    rgb = img if img.mode == "RGB" else img.convert("RGB")
    arr = quality = None
    cautions: tuple[str, ...] = ()
    if _takes_arrays(classifier):
        arr = preprocess(rgb, classifier.card.preprocessing)
        quality, cautions = check_quality(img, arr, classifier.card.soft_focus)
    thumb = _thumbnail(img, thumbnail) if thumbnail else None
    ready = Prepared(rgb, arr, quality, thumb, cautions=cautions)
    return with_views(classifier, ready) if views else ready


def with_views(classifier: SupportsClassify, ready: Prepared) -> Prepared:
    """``ready`` with the model's outputs (a classifier that takes images only: as it is)."""
    if ready.arr is None or ready.outputs is not None:
        return ready
    return replace(ready, outputs=cast(SupportsArrays, classifier).views(ready.arr))


def prepare_path(
    classifier: SupportsClassify,
    path: str | os.PathLike[str],
    thumbnail: int = 0,
    views: bool = True,
) -> Prepared:
    """Decode a file (raising ImageLoadError) and :func:`prepare_image` it."""
    if Path(path).suffix.lower() in UNREADABLE_PHOTO_EXTENSIONS:
        raise ImageLoadError(unsupported_photo(Path(path)))  # not even tried
    img = open_image(path, draft_size=classifier.card.preprocessing.draft_size)
    return prepare_image(classifier, img, thumbnail, views)


def _finish(
    name: str,
    path: Path | None,
    ready: Prepared,
    classifier: SupportsClassify,
    keep_image: bool,
    with_cam: bool = True,
) -> ImageResult:
    if ready.arr is not None and ready.quality is not None:
        arrays = cast(SupportsArrays, classifier)
        pred = arrays.predict_array(
            ready.arr,
            ready.quality,
            with_cam=with_cam,
            outputs=ready.outputs,
            cautions=ready.cautions,
        )
    else:
        pred = classifier.predict_image(ready.img, with_cam=with_cam)
    cam = cams = None
    if pred.cam is not None:
        cam = (np.clip(pred.cam, 0.0, 1.0) * 255).round().astype(np.uint8)
        pred = replace(pred, cam=None)
    if pred.cams is not None:
        cams = (np.clip(pred.cams, 0.0, 1.0) * 255).round().astype(np.uint8)
        pred = replace(pred, cams=None)
    return ImageResult(
        name=name,
        path=path,
        prediction=pred,
        cam=cam,
        cams=cams,
        thumbnail=ready.thumbnail,
        image=ready.img if keep_image else None,
    )


def classify_prepared(
    classifier: SupportsClassify,
    path: str | os.PathLike[str],
    ready: Prepared | BaseException,
    with_cam: bool = True,
) -> ImageResult:
    """The result for one file from its :func:`prepare_path` outcome (or the exception it
    raised); never raises for a bad file, it becomes an error result."""
    p = Path(path)
    if p.suffix.lower() in UNREADABLE_PHOTO_EXTENSIONS:
        return ImageResult(name=p.name, path=p, error=unsupported_photo(p))
    try:
        if isinstance(ready, BaseException):
            raise ready
        return _finish(p.name, p, ready, classifier, keep_image=False, with_cam=with_cam)
    except ImageLoadError as exc:
        return ImageResult(name=p.name, path=p, error=_one_line(str(exc)))
    except MemoryError:
        return ImageResult(name=p.name, path=p, error=f"{p.name}: not enough memory")
    except ChildDied:
        return ImageResult(name=p.name, path=p, error=_one_line(crashed_reader(p)))
    except Exception as exc:  # a batch must go on whatever one file does to the runtime
        return ImageResult(
            name=p.name, path=p, error=_one_line(f"{p.name}: could not be classified ({exc})")
        )


def classify_path(
    classifier: SupportsClassify,
    path: str | os.PathLike[str],
    thumbnail: int = 0,
    with_cam: bool = True,
) -> ImageResult:
    """Classify one file; never raises for a bad file, it becomes an error result.

    The one path from a file to a result (window, command line, history and the
    trainer-app parity test), so they all give identical answers; the thumbnail
    reuses the one decode instead of reading the file twice.
    """
    try:
        ready: Prepared | BaseException = prepare_path(classifier, path, thumbnail)
    except Exception as exc:  # MemoryError included; classify_prepared words it
        ready = exc
    return classify_prepared(classifier, path, ready, with_cam=with_cam)


def classify_image(
    classifier: SupportsClassify,
    img: Image.Image,
    name: str = "Pasted image",
    thumbnail: int = 0,
    with_cam: bool = True,
) -> ImageResult:
    """Classify an in-memory image (clipboard); the image is kept for display and reports."""
    try:
        ready: Prepared | BaseException = prepare_image(classifier, img.convert("RGB"), thumbnail)
    except Exception as exc:
        ready = exc
    return classify_prepared_image(classifier, name, ready, with_cam=with_cam)


def classify_prepared_image(
    classifier: SupportsClassify,
    name: str,
    ready: Prepared | BaseException,
    with_cam: bool = True,
) -> ImageResult:
    """:func:`classify_image` from its :func:`prepare_image` outcome (or its exception)."""
    try:
        if isinstance(ready, BaseException):
            raise ready
        return _finish(name, None, ready, classifier, keep_image=True, with_cam=with_cam)
    except Exception as exc:
        return ImageResult(name=name, path=None, error=_one_line(f"{name}: {exc}"))


def with_heatmaps(classifier: SupportsClassify, result: ImageResult) -> ImageResult:
    """``result`` with its heat-maps, made now if the batch left them out (it makes them
    only for the image on screen). The image is classified again, as it was, so the maps
    are the ones it would have had; a result with no class to explain is returned as is."""
    pred = result.prediction
    if result.cams is not None or result.cam is not None or pred is None or not pred.assessable:
        return result
    if result.image is not None:
        redone = classify_image(classifier, result.image, result.name)
    elif result.path is not None:
        redone = classify_path(classifier, result.path)
    else:
        return result
    if redone.prediction is None or redone.prediction.top_index != pred.top_index:
        return result  # the file changed since: its maps would explain another picture
    return replace(result, cam=redone.cam, cams=redone.cams)


def _one_line(text: str) -> str:
    text = " ".join(text.split())
    return text[:300] if text else "unknown error"
