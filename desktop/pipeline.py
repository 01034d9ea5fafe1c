"""Work on the next images on every core at once, results in input order.

Each image's own work (decode, resize, colour constancy, quality, and the model's test-time
views on an interpreter of its own: :mod:`desktop.lanes`) runs in a thread pool of one
thread per core, a few images ahead of the caller; Pillow, numpy and LiteRT let go of the
GIL for most of it. The caller gets each image's outcome in input order and finishes it
(scope, heat-map when asked). Stopping (the consumer breaks out, or ``cancelled`` turns
true) drops the images read ahead at once: nothing waits for them. A batch of files goes
in groups (:func:`groups`), each worker taking its group stage by stage (:func:`in_stages`)
so the model's weights stay in its core's cache; the command line's run on forked
processes instead of threads (:func:`in_processes`): there the workers' Python never waits
on one lock, and nothing is on screen to share memory with. No Qt, no TensorFlow.
"""

from __future__ import annotations

import gc
import os
import select
import signal
import sys
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import Executor, Future, ThreadPoolExecutor
from typing import TYPE_CHECKING, Any, TypeVar

if TYPE_CHECKING:
    from multiprocessing.context import BaseContext

T = TypeVar("T")
U = TypeVar("U")

Cancelled = Callable[[], bool]
MAX_WORKERS = 8  # an interpreter each; more cores than this rarely serve one folder faster
GROUP = 16  # images a worker takes at once (in_stages): 16 did best of 4, 8, 16 and 32


def usable_cores() -> int:
    """The cores this process may run on (its affinity, not the machine's count)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):
        return max(1, os.cpu_count() or 1)


def prepare_workers() -> int:
    """Threads that work ahead: one per core (each runs the model on a one-thread lane of its
    own), at most :data:`MAX_WORKERS`."""
    return max(1, min(usable_cores(), MAX_WORKERS))


def prefetched(
    prepare: Callable[[T], U],
    items: Iterable[T],
    *,
    workers: int | None = None,
    ahead: int | None = None,
    cancelled: Cancelled | None = None,
) -> Iterator[tuple[T, U | BaseException]]:
    """``(item, prepare(item))`` in input order, ``prepare`` running up to ``ahead`` items
    in advance on ``workers`` threads. An exception from ``prepare`` is yielded in place of
    its value (a batch goes on past a bad file). With ``workers=0`` it all runs inline."""
    workers = prepare_workers() if workers is None else workers
    if workers <= 0:
        for item in items:
            if cancelled is not None and cancelled():
                return
            yield item, _call(prepare, item)
        return
    ahead = max(1, ahead if ahead is not None else 2 * workers + 2)
    pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="lesionlens-image")
    try:
        yield from _in_order(pool, prepare, items, ahead, cancelled)
    finally:
        pool.shutdown(wait=False, cancel_futures=True)


def _in_order(
    pool: Executor,
    fn: Callable[[T], U],
    items: Iterable[T],
    ahead: int,
    cancelled: Cancelled | None,
) -> Iterator[tuple[T, U | BaseException]]:
    """``(item, fn(item))`` in input order from ``pool``, ``ahead`` items submitted in
    advance; those still queued are cancelled when the caller stops."""
    queue: deque[tuple[T, Future[U]]] = deque()
    source = iter(items)
    try:
        while True:
            if cancelled is not None and cancelled():
                return
            while len(queue) < ahead and (nxt := next(source, _END)) is not _END:
                queue.append((nxt, pool.submit(fn, nxt)))  # type: ignore[arg-type]
            if not queue:
                return
            item, future = queue.popleft()
            try:
                value: U | BaseException = future.result()
            except Exception as exc:
                value = exc
            yield item, value
    finally:
        for _, future in queue:
            future.cancel()


def groups(items: Iterable[T], size: int = GROUP) -> list[list[T]]:
    """``items`` in consecutive groups of ``size`` (the last one shorter)."""
    items = list(items)
    return [items[i : i + size] for i in range(0, len(items), size)]


def in_stages(group: Sequence[T], *stages: Callable[[Any], Any]) -> list[Any | BaseException]:
    """Each item of ``group`` through ``stages`` in turn, stage by stage: every item through
    the first stage, then every one through the second... An exception in place of a value
    skips the stages left. The same values as item by item; the model's weights stay in the
    core's cache from one image to the next (a tenth faster)."""
    values: list[Any | BaseException] = list(group)
    for stage in stages:
        values = [v if isinstance(v, BaseException) else _call(stage, v) for v in values]
    return values


class ChildDied(RuntimeError):
    """In place of an item whose work ended the process running it (a crash in native code,
    as a damaged file can cause in a decoder): :func:`in_processes` and :func:`isolated`."""


def in_processes(
    work: Callable[[T], U],
    items: Iterable[T],
    *,
    workers: int | None = None,
    cancelled: Cancelled | None = None,
) -> Iterator[tuple[T, U | BaseException]]:
    """:func:`prefetched` on forked processes instead of threads: no lock between the
    workers' Python (``--classify`` over 2,241 files took a fifth less time than on threads).
    The children are forks, so ``work`` (a closure is fine) and what it uses come as they
    are, nothing is loaded again; items and results travel pickled. Cancelling ends the
    children at once. Should a child die, the items that were in flight run again, each in a
    child of its own (:func:`isolated`): the one that kills its child gets :class:`ChildDied`
    in its place, and the rest go on in a fresh pool. Nothing runs in this process then, so a
    file that crashes native code cannot end the caller. One item, or one worker: each item in
    a child of its own, one after another (:func:`isolated`; a fork costs milliseconds). Where
    processes do not fork cheaply (Windows, macOS) it is :func:`prefetched`."""
    items = list(items)
    workers = min(prepare_workers() if workers is None else workers, len(items))
    context = _fork_context()
    if context is None:  # no fork: threads, or here for one item or one worker
        yield from prefetched(
            work, items, workers=workers if workers > 1 else 0, cancelled=cancelled
        )
        return
    if workers <= 1:
        yield from isolated(work, items, cancelled=cancelled)
        return
    from concurrent.futures import ProcessPoolExecutor
    from concurrent.futures.process import BrokenProcessPool

    ahead, given = 2 * workers + 2, 0
    while given < len(items):
        pool = ProcessPoolExecutor(
            workers, mp_context=context, initializer=_install, initargs=(work,)
        )
        broken = False
        try:
            for item, value in _in_order(pool, _run, items[given:], ahead, cancelled):
                if isinstance(value, BrokenProcessPool):
                    broken = True
                    break
                given += 1
                yield item, value
        except BrokenProcessPool:  # submitting to a pool that already knows a child died
            broken = True
        finally:
            _end(pool)
        if not broken:
            return
        # The culprit is among the items in flight: each alone, then a fresh pool for the rest.
        for item, value in isolated(work, items[given : given + ahead], cancelled=cancelled):
            given += 1
            yield item, value
        if cancelled is not None and cancelled():
            return


def isolated(
    work: Callable[[T], U], items: Iterable[T], *, cancelled: Cancelled | None = None
) -> Iterator[tuple[T, U | BaseException]]:
    """``(item, work(item))`` in input order, each item in a forked child of its own, one after
    another: a crash in native code costs only the item that caused it (:class:`ChildDied` in
    its place). Slow (a fork per item): for the few items a dead child leaves unexplained.
    Where processes do not fork, it runs here."""
    context = _fork_context()
    if context is None:
        yield from prefetched(work, items, workers=0, cancelled=cancelled)
        return
    from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
    from concurrent.futures.process import BrokenProcessPool

    for item in items:
        if cancelled is not None and cancelled():
            return
        pool = ProcessPoolExecutor(1, mp_context=context, initializer=_install, initargs=(work,))
        try:
            future = pool.submit(_run, item)
            while not wait([future], timeout=0.05, return_when=FIRST_COMPLETED).done:
                if cancelled is not None and cancelled():
                    return
            try:
                value: U | BaseException = future.result()
            except BrokenProcessPool:
                value = ChildDied("the process working on it stopped (a crash in native code)")
            except Exception as exc:  # its result could not travel back, say
                value = exc
        finally:
            _end(pool)
        yield item, value


_MAX_FD = 1 << 16


def in_child(work: Callable[[], bytes], timeout: float) -> bytes | None:
    """The bytes ``work()`` returns, made in a forked child of its own: a crash in native code
    there ends only the child. ``b""`` where ``work`` raised (a Python error is the caller's to
    meet again); None where processes do not fork (nothing ran). :class:`ChildDied` if the
    child died, ``TimeoutError`` if it ran past ``timeout`` seconds (the child is ended).
    Safe from any thread, a Qt one included: the child is a bare ``os.fork`` that runs
    ``work``, writes its bytes to a pipe and leaves by ``os._exit``, with no exit handler, no
    thread shutdown and no stream flush of this process (``multiprocessing`` fails there: in a
    child forked from a thread Python did not start, its thread shutdown fails)."""
    if _fork_context() is None:
        return None
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child
        code = 3
        try:
            # Nothing of this process's is touched: no garbage collection (it could close a
            # case store connection and write its log) and no file but its pipe and stderr
            # open (another thread's pipe left open here would delay that one's end).
            gc.disable()
            os.closerange(3, write_end)
            os.closerange(write_end + 1, _MAX_FD)
            try:
                out = memoryview(work())
            except BaseException:
                out = memoryview(b"")
            while out:
                out = out[os.write(write_end, out) :]
            code = 0
        finally:
            os._exit(code)
    os.close(write_end)
    chunks, deadline = [], time.monotonic() + timeout
    try:
        while True:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([read_end], [], [], left)[0]:
                os.kill(pid, signal.SIGKILL)
                os.waitpid(pid, 0)
                raise TimeoutError(f"the child process ran past {timeout:g} s")
            chunk = os.read(read_end, 1 << 20)
            if not chunk:  # the child closed its end: it has ended
                break
            chunks.append(chunk)
    finally:
        os.close(read_end)
    _, status = os.waitpid(pid, 0)
    if not os.WIFEXITED(status) or os.WEXITSTATUS(status) != 0:
        raise ChildDied("the process working on it stopped (a crash in native code)")
    return b"".join(chunks)


def _end(pool: Executor) -> None:
    """Stop a process pool now: running children ended, queued work dropped."""
    for child in list((getattr(pool, "_processes", None) or {}).values()):
        child.terminate()
    pool.shutdown(wait=False, cancel_futures=True)


def _fork_context() -> BaseContext | None:
    """Fork, where it is safe and cheap; no process is ever started afresh, so a frozen
    bundle needs no ``multiprocessing.freeze_support``."""
    if sys.platform != "linux":  # macOS's frameworks and Windows do not survive a fork
        return None
    import multiprocessing  # here: 15 ms that only a batch on processes pays

    return multiprocessing.get_context("fork")


_WORK: Callable[[Any], Any] | None = None  # a child's work (in_processes), set as it starts


def _install(work: Callable[[Any], Any]) -> None:
    global _WORK
    _WORK = work


def _run(item: Any) -> Any:
    assert _WORK is not None
    return _call(_WORK, item)


_END = object()


def _call(prepare: Callable[[T], U], item: T) -> U | BaseException:
    try:
        return prepare(item)
    except Exception as exc:
        return exc
