"""Background work: inference and image decoding never run on the UI thread.

Results travel back through signals of QObjects that live in the UI thread,
so Qt queues them onto the event loop (no locks in the widgets). Inference
jobs run one at a time on a private single-thread pool (:mod:`desktop.qt.jobs`)
because a LiteRT interpreter serves one caller at a time; a newer job cancels an older one.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from PIL import Image
from PySide6.QtCore import QObject, QRect, Signal
from PySide6.QtGui import QImage

from desktop.heatmap import DISPLAY_MAX_PX, display_copy, heat_layer
from desktop.imaging import ImageLoadError, open_image, view_box
from desktop.pipeline import prefetched
from desktop.preprocessing import Preprocessing
from desktop.qt.convert import pil_to_qimage
from desktop.qt.jobs import Job, Worker
from desktop.qt.views.image_view import composite
from desktop.results import (
    THUMBNAIL_PX,
    ImageResult,
    Prepared,
    SupportsClassify,
    classify_prepared,
    classify_prepared_image,
    expand_paths,
    prepare_image,
    prepare_path,
    with_heatmaps,
)

FLUSH_SECONDS = 0.1  # batch results at most ~10 times a second: a 1000-file folder stays smooth
MIN_HEAT_PROBABILITY = 0.01  # a class under this gets no heat-map (see has_heat)


@dataclass(frozen=True)
class PastedImage:
    """An in-memory input (clipboard) with the name to show for it."""

    image: Image.Image
    name: str = "Pasted image"


Input = Path | str | PastedImage


class InferenceRunner(Worker):
    """Runs classification jobs off the UI thread and reports through signals.

    Signals carry the job id so the controller can ignore stragglers from a
    job it has since replaced.
    """

    jobStarted = Signal(int, int)  # job id, number of inputs after expanding folders
    resultsReady = Signal(int, int, object)  # job id, index of the first, list[ImageResult]
    jobFailed = Signal(int, str)  # job id, reason (a bug, not a bad file)
    jobFinished = Signal(int, bool)  # job id, cancelled

    def __init__(self, classifier: SupportsClassify, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.classifier = classifier
        self.last_thread: int | None = None

    def submit(self, items: Sequence[Input]) -> int:
        """Queue a job (cancelling the running one) and return its id."""
        items = list(items)
        return self._replace(lambda job: self._classify(job, items))

    def _classify(self, job: Job, items: list[Input]) -> None:
        """The job, on the worker thread: expand folders, then classify, flushing results."""
        cancel = job.cancelled
        try:
            inputs: list[Path | PastedImage] = []
            for item in items:
                if isinstance(item, PastedImage):
                    inputs.append(item)
                else:
                    inputs.extend(expand_paths([item]))
                if cancel.is_set():
                    return
            self.jobStarted.emit(job.id, len(inputs))
            pending: list[ImageResult] = []
            first, last_flush = 0, 0.0
            for i, result in enumerate(self._results(inputs, cancel)):
                self.last_thread = threading.get_ident()
                pending.append(result)
                now = time.monotonic()
                if i == 0 or now - last_flush >= FLUSH_SECONDS:
                    self.resultsReady.emit(job.id, first, pending)
                    first, pending, last_flush = i + 1, [], now
            if pending and not cancel.is_set():
                self.resultsReady.emit(job.id, first, pending)
        except Exception as exc:  # never let a worker die silently
            self.jobFailed.emit(job.id, f"{type(exc).__name__}: {exc}")
        finally:
            self.jobFinished.emit(job.id, cancel.is_set())

    def _results(
        self, inputs: list[Path | PastedImage], cancel: threading.Event
    ) -> Iterator[ImageResult]:
        """Results in input order, the next inputs decoded and thumbnailed on other threads
        while the model runs here (:mod:`desktop.pipeline`); stops as soon as cancelled. Only
        the first image, the one put on screen, gets heat-maps now; the image view makes
        any other's when it shows it (:func:`display_images`)."""
        classifier = self.classifier

        def prepare(item: Path | PastedImage) -> Prepared:
            if isinstance(item, PastedImage):
                return prepare_image(classifier, item.image.convert("RGB"), THUMBNAIL_PX)
            return prepare_path(classifier, item, THUMBNAIL_PX)

        steps = prefetched(prepare, inputs, cancelled=cancel.is_set)
        for i, (item, ready) in enumerate(steps):
            with_cam = i == 0
            if isinstance(item, PastedImage):
                yield classify_prepared_image(classifier, item.name, ready, with_cam=with_cam)
            else:
                yield classify_prepared(classifier, item, ready, with_cam=with_cam)


@dataclass(frozen=True)
class DisplayImages:
    """What the image view paints for one result: the photo and a heat layer for one class.

    ``heat`` is a transparent RGBA layer covering ``box`` (the region of ``photo`` the
    model saw, in photo pixels); the view paints it at the chosen opacity.
    """

    photo: QImage | None
    heat: QImage | None = None
    box: QRect | None = None
    heat_class: int | None = None
    error: str | None = None
    # The result with the heat-maps made for this showing (None: it had them or gets none).
    result: ImageResult | None = None

    def composite(self, opacity: float) -> QImage | None:
        """The photo with the heat-map burnt in (for the PDF); None without a map."""
        if self.photo is None or self.heat is None:
            return None
        return composite(self.photo, self.heat, self.box, opacity)


def has_heat(result: ImageResult, class_index: int) -> bool:
    """Whether a class gets a map: one the model gives under 1 % would show blobs of noise
    (each map is scaled to its own peak) as if they were evidence."""
    pred = result.prediction
    return (
        pred is not None
        and 0 <= class_index < len(pred.probabilities)
        and float(pred.probabilities[class_index]) >= MIN_HEAT_PROBABILITY
    )


def heat_image(result: ImageResult, class_index: int, box: QRect) -> QImage | None:
    """The heat layer of one class for ``box`` (None when that class has no map)."""
    if not has_heat(result, class_index):
        return None
    cam = result.cam_for(class_index)
    if cam is None or box.isEmpty():
        return None
    return pil_to_qimage(heat_layer(cam, box.width(), box.height()))


def display_images(
    result: ImageResult,
    pre: Preprocessing,
    class_index: int,
    classifier: SupportsClassify | None = None,
) -> DisplayImages:
    """The one pipeline from a result to what the view shows, used by the worker and the PDF.

    A batch result has no heat-maps (only the image on screen needs them); with
    ``classifier`` they are made here (:func:`desktop.results.with_heatmaps`).
    Never raises: a file that has gone or changed since it was classified becomes ``error``.
    """
    try:
        mapped = with_heatmaps(classifier, result) if classifier is not None else result
        made = mapped if mapped is not result else None
        result = mapped
        if result.image is not None:
            img = result.image
        elif result.path is not None:
            img = open_image(result.path, draft_size=DISPLAY_MAX_PX)
        else:
            raise ImageLoadError("no image to show")
        shown = display_copy(img)
        box = QRect(*_xywh(view_box(shown.width, shown.height, pre)))
        heat = heat_image(result, class_index, box)
        return DisplayImages(pil_to_qimage(shown), heat, box, class_index, result=made)
    except ImageLoadError as exc:
        return DisplayImages(None, error=str(exc))
    except Exception as exc:
        return DisplayImages(None, error=f"cannot show this image ({exc})")


def _xywh(box: tuple[int, int, int, int]) -> tuple[int, int, int, int]:
    left, top, right, bottom = box
    return left, top, right - left, bottom - top


class DisplayLoader(Worker):
    """Decodes the large photo and builds its heat-map overlay off the UI thread.

    Its own thread, so it never waits behind a running batch; with a classifier it makes
    the heat-maps a batch left out (one image's model call, beside the batch's).
    """

    loaded = Signal(int, object)  # token, DisplayImages

    def __init__(
        self, parent: QObject | None = None, classifier: SupportsClassify | None = None
    ) -> None:
        super().__init__(parent)
        self.classifier = classifier

    @property
    def current_token(self) -> int:
        return self._jobs.last_id

    def request(self, result: ImageResult, pre: Preprocessing, class_index: int) -> int:
        classifier = self.classifier
        return self._jobs.start(lambda job: self._load(job, result, pre, class_index, classifier))

    def _load(
        self,
        job: Job,
        result: ImageResult,
        pre: Preprocessing,
        class_index: int,
        classifier: SupportsClassify | None,
    ) -> None:
        if job.id != self.current_token:  # the user has moved on; skip it
            return
        self.loaded.emit(job.id, display_images(result, pre, class_index, classifier))
