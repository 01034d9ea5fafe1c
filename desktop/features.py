"""Image files to the model's view-averaged outputs, cached by content: what ``adapt`` and the
"is this dermoscopy" decision fit on.

Each image goes through :func:`desktop.imaging.load_image` (the one preprocessor) and every
test-time view of the card (:meth:`desktop.inference.Classifier.views`), on every core at
once as a batch in the window does (:mod:`desktop.pipeline`). The result per image
is the network's mean probabilities and its descriptor (:func:`desktop.descriptor.describe`:
the mean pooled features first, then the spatial statistics the "is this dermoscopy" decision
can read). A cache keyed by the
file's SHA-256, the model file's SHA-256 and the card's preprocessing lets a re-run with
more images extract only the new ones. With ``recaptures``, each image's re-captured copies
(:func:`desktop.recapture.random_recapture`, seeded by the file's content, so a re-run gets the
same copies) are cached and returned beside it, for a head fitted to move less under a re-take.
No Qt, no TensorFlow.
"""

from __future__ import annotations

import hashlib
import json
import os
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from desktop.descriptor import DESCRIPTOR
from desktop.hashing import sha256_file
from desktop.imaging import CRASHED_READER, ImageLoadError, load_image, open_image, preprocess
from desktop.pipeline import ChildDied, groups, in_processes, in_stages, isolated, prefetched
from desktop.recapture import RECAPTURE_VERSION, random_recapture

if TYPE_CHECKING:
    from desktop.inference import ViewOutputs

CACHE_NAME = "features.npz"
# A cache entry's name (an image's hash, or one of its copies': copy_key) and its outputs.
Named = tuple[str, "ViewOutputs"]

Progress = Callable[[int, int], None]  # (done, total)
Cancelled = Callable[[], bool]


class ExtractionCancelled(Exception):
    """The caller asked to stop; what was extracted so far is in the cache."""


@dataclass
class Features:
    """Per readable image: its hash, the base probabilities and its descriptor (view means).

    ``index[i]`` is the position in the input list of row ``i``; ``errors`` lists the
    unreadable inputs as (position, one-line reason).
    """

    index: np.ndarray  # (n,) int
    hashes: list[str]
    probabilities: np.ndarray  # (n, classes)
    descriptors: np.ndarray  # (n, 4 channels): desktop.descriptor.describe
    errors: list[tuple[int, str]] = field(default_factory=list)
    copies: np.ndarray | None = None  # (draws, n, channels): re-captures' pooled features
    # the lesion model's channels; 0: every number of a row is the lesion model's DESCRIPTOR
    # (no general network's features after it)
    channels: int = 0

    @property
    def pooled(self) -> np.ndarray:
        """(n, channels): the view-mean pooled features the head reads (the descriptors' mean)."""
        n_ch = self.channels or self.descriptors.shape[1] // len(DESCRIPTOR)
        return self.descriptors[:, :n_ch]


def cache_key(classifier) -> str:  # noqa: ANN001 (desktop.inference.Classifier)
    """What the cached numbers depend on: the model bytes, preprocessing, views and head."""
    card = classifier.card
    head = hashlib.sha256()
    head.update(sha256_file(classifier.model_path).encode())
    head.update(json.dumps(card.preprocessing.to_dict(), sort_keys=True).encode())
    head.update(card.test_time_views.encode())
    head.update(json.dumps(DESCRIPTOR).encode())  # what a cached row holds
    if card.general is not None:  # a row also holds the general network's features
        head.update(card.general.sha256.encode())
    if card.head is not None:  # the probabilities come from the card's head
        head.update(json.dumps(card.head.to_dict(), sort_keys=True).encode())
    return head.hexdigest()


def _load_cache(path: Path | None, key: str) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    if path is None or not path.is_file():
        return {}
    try:
        with np.load(path, allow_pickle=False) as z:
            if str(z["key"]) != key:
                return {}
            return {
                str(h): (p, f)
                for h, p, f in zip(z["hashes"], z["probabilities"], z["descriptors"], strict=True)
            }
    except (OSError, ValueError, KeyError):
        return {}  # a damaged cache is rebuilt, never trusted


def _save_cache(path: Path, key: str, cache: dict[str, tuple[np.ndarray, np.ndarray]]) -> None:
    if not cache:
        return
    hashes = sorted(cache)
    tmp = path.with_name(path.name + ".part.npz")
    np.savez(
        tmp,
        key=np.array(key),
        hashes=np.array(hashes),
        probabilities=np.stack([cache[h][0] for h in hashes]),
        descriptors=np.stack([cache[h][1] for h in hashes]),
    )
    os.replace(tmp, path)


def copy_key(sha: str, draw: int) -> str:
    """The cache entry of an image's ``draw``-th re-captured copy (its ranges' version in it:
    new ranges make new copies)."""
    return f"{sha}+recapture{draw}-{RECAPTURE_VERSION}"


def recaptured_inputs(path: str | os.PathLike[str], sha: str, draws: list[int], pre) -> dict:  # noqa: ANN001
    """Model inputs of the image's re-captured copies ``draws``, each seeded by its content."""
    img = open_image(path, draft_size=pre.draft_size)
    return {k: preprocess(random_recapture(img, random.Random(f"{sha}:{k}")), pre) for k in draws}


def extract(
    classifier,  # noqa: ANN001 (desktop.inference.Classifier)
    paths: Sequence[str | os.PathLike[str]],
    cache_dir: Path | None = None,
    progress: Progress | None = None,
    cancelled: Cancelled | None = None,
    recaptures: int = 0,
    processes: bool = False,
) -> Features:
    """View-averaged base probabilities and descriptors of every readable image, and with
    ``recaptures`` the pooled features of that many re-captured copies of each.

    Identical files are computed once. With ``cache_dir`` the numbers are kept in
    ``cache_dir/features.npz`` for the next run (saved also when cancelled). ``processes``: on
    forked processes (the command line, as ``--classify``): a file that crashes a decoder
    there is left out as unreadable instead of ending the run.
    """
    key = cache_key(classifier)
    cache_path = Path(cache_dir) / CACHE_NAME if cache_dir is not None else None
    cache = _load_cache(cache_path, key)
    index, hashes, errors = [], [], []
    new = 0
    pre = classifier.card.preprocessing

    def load(path: str | os.PathLike[str]) -> tuple[str, np.ndarray | None, dict]:
        sha = sha256_file(path)
        arr = None if sha in cache else load_image(path, pre)
        todo = [k for k in range(recaptures) if copy_key(sha, k) not in cache]
        return sha, arr, (recaptured_inputs(path, sha, todo, pre) if todo else {})

    def views(loaded: tuple[str, np.ndarray | None, dict]) -> tuple[str, list[Named]]:
        sha, arr, copies = loaded
        todo = [(sha, arr)] if arr is not None else []
        todo += [(copy_key(sha, k), a) for k, a in copies.items()]
        return sha, [(name, classifier.views(a, full=True)) for name, a in todo]

    def one(path: str | os.PathLike[str]) -> tuple[str, list[Named]]:
        return in_stages([path], load, views)[0]

    def each(group: list, readies: list | BaseException) -> list:
        """One outcome per file of the group: a group whose child died is read again file by
        file, each in a child of its own, so only the file that crashes it is lost."""
        if isinstance(readies, ChildDied):
            return [ready for _, ready in isolated(one, group, cancelled=cancelled)]
        return [readies] * len(group) if isinstance(readies, BaseException) else readies

    # Hashed, decoded and run through the model on every core, a group at a time.
    run = in_processes if processes else prefetched
    steps = run(lambda group: in_stages(group, load, views), groups(paths), cancelled=cancelled)
    outcomes = (ready for group, readies in steps for ready in each(group, readies))
    try:
        for i, ready in enumerate(outcomes):
            if cancelled is not None and cancelled():
                raise ExtractionCancelled
            try:
                if isinstance(ready, BaseException):
                    raise ready
                sha, outs = ready
                for name, out in outs:
                    cache[name] = (out.probabilities.astype(np.float64), out.descriptor)
                    new += 1
            except (ImageLoadError, OSError) as exc:
                errors.append((i, str(exc).splitlines()[0] if str(exc) else type(exc).__name__))
            except ChildDied:
                errors.append((i, f"{Path(paths[i]).name}: {CRASHED_READER}"))
            else:
                index.append(i)
                hashes.append(sha)
            if progress is not None:
                progress(i + 1, len(paths))
        if cancelled is not None and cancelled():
            raise ExtractionCancelled
    finally:
        outcomes.close()
        steps.close()
        if cache_path is not None and new:
            cache_path.parent.mkdir(parents=True, exist_ok=True)
            _save_cache(cache_path, key, cache)
    return _features(classifier, cache, index, hashes, errors, recaptures)


def _features(classifier, cache, index, hashes, errors, recaptures: int) -> Features:  # noqa: ANN001
    n_cls = classifier.card.num_classes
    n_ch = len(classifier.card.cam_weights)
    copies = None
    if recaptures:
        copies = np.zeros((recaptures, len(hashes), n_ch))
        for k in range(recaptures):
            for i, h in enumerate(hashes):
                copies[k, i] = cache[copy_key(h, k)][1][:n_ch]
    return Features(
        index=np.asarray(index, dtype=np.int64),
        hashes=hashes,
        probabilities=np.stack([cache[h][0] for h in hashes]) if hashes else np.zeros((0, n_cls)),
        descriptors=(
            np.stack([cache[h][1] for h in hashes])
            if hashes
            else np.zeros((0, classifier.card.descriptor_width + _general_width(classifier)))
        ),
        errors=errors,
        copies=copies,
        channels=n_ch,
    )


def _general_width(classifier) -> int:  # noqa: ANN001 (desktop.inference.Classifier)
    spec = classifier.card.general
    return 0 if spec is None else spec.features
