"""Many files at the speed of the machine: the command line's folders and the benchmarks'.

Files go in groups (:data:`desktop.pipeline.GROUP`), each group on one core (a thread each,
or a forked process each: :mod:`desktop.pipeline`), stage by stage: every file of the group
decoded and preprocessed, then every one through the model, then every one finished. The
model's weights and working memory stay in the core's cache from one image to the next, a
tenth of an image's time saved against one file at a time. Each file's result is the one
:func:`desktop.results.classify_path` gives it, and they come back in input order. No Qt,
no TensorFlow.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator, Sequence

from desktop.pipeline import (
    Cancelled,
    ChildDied,
    groups,
    in_processes,
    in_stages,
    isolated,
    prefetched,
)
from desktop.results import (
    ImageResult,
    Prepared,
    SupportsClassify,
    classify_prepared,
    prepare_path,
    with_views,
)

Path_ = str | os.PathLike[str]


def prepare_paths(
    classifier: SupportsClassify, paths: Sequence[Path_], thumbnail: int = 0
) -> list[Prepared | BaseException]:
    """:func:`desktop.results.prepare_path` of each file (or the exception it raised),
    stage by stage: all decoded and preprocessed first, then all through the model."""
    return in_stages(
        paths,
        lambda p: prepare_path(classifier, p, thumbnail, views=False),
        lambda ready: with_views(classifier, ready),
    )


def classify_group(
    classifier: SupportsClassify, paths: Sequence[Path_], thumbnail: int = 0, with_cam: bool = False
) -> list[ImageResult]:
    """:func:`desktop.results.classify_path` of each file, the group stage by stage."""
    readies = prepare_paths(classifier, paths, thumbnail)
    return [
        classify_prepared(classifier, p, r, with_cam=with_cam)
        for p, r in zip(paths, readies, strict=True)
    ]


def classify_paths(
    classifier: SupportsClassify,
    paths: Iterable[Path_],
    thumbnail: int = 0,
    with_cam: bool = False,
    workers: int | None = None,
    cancelled: Cancelled | None = None,
    processes: bool = False,
) -> Iterator[ImageResult]:
    """:func:`desktop.results.classify_path` over many files, in input order, in groups on
    ``workers`` threads (one per core by default; 0: all in this thread), a few groups
    ahead; ``processes``: on forked processes instead, where the system forks (the command
    line). Stopping drops the groups ahead at once. No heat-maps unless asked: a script
    shows none."""
    run = in_processes if processes else prefetched
    work = lambda g: classify_group(classifier, g, thumbnail, with_cam)  # noqa: E731
    for group, done in run(work, groups(paths), workers=workers, cancelled=cancelled):
        if isinstance(done, ChildDied):  # one of its files crashed a child: find which
            done = _one_by_one(classifier, group, thumbnail, with_cam, cancelled)
        elif isinstance(done, BaseException):  # classify_group does not raise: a bug, per file
            done = [classify_prepared(classifier, p, done) for p in group]
        for result in done:
            if cancelled is not None and cancelled():
                return
            yield result


def _one_by_one(
    classifier: SupportsClassify,
    group: Sequence[Path_],
    thumbnail: int,
    with_cam: bool,
    cancelled: Cancelled | None,
) -> list[ImageResult]:
    """A group whose child died, each file in a child of its own: the file that crashes it
    gets an error result that says so, the others their verdicts."""
    work = lambda p: classify_group(classifier, [p], thumbnail, with_cam)[0]  # noqa: E731
    return [
        done if isinstance(done, ImageResult) else classify_prepared(classifier, p, done)
        for p, done in isolated(work, group, cancelled=cancelled)
    ]
