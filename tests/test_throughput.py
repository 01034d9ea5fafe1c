"""Classifying at the speed of the hardware: every core busy, each image's decoding,
preprocessing and model views on one of them (an interpreter each), results in order,
cancelling at once; heat-maps only for the image on screen. Same answers as the serial path,
bit for bit."""

from __future__ import annotations

import os
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest
from PIL import Image

from desktop import cli, pipeline
from desktop.batch import classify_paths
from desktop.features import extract
from desktop.front_door import Exit
from desktop.imaging import model_views, preprocess
from desktop.inference import DEFAULT_MODEL, Classifier, ViewOutputs
from desktop.lanes import Lane
from desktop.pipeline import GROUP, prefetched
from desktop.prediction import Prediction
from desktop.results import classify_path, prepare_path, with_heatmaps
from tests.fakes import FakeClassifier, lesion_image, write_images

needs_model = pytest.mark.skipif(not DEFAULT_MODEL.is_file(), reason="no shipped model")


@pytest.fixture(scope="module")
def shipped() -> Classifier:
    return Classifier(DEFAULT_MODEL)


def _serial(clf: Classifier, arr: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The views one interpreter call each, as before batching: (probs, pooled, map)."""
    outs = [clf.run(v) for v in model_views(arr, clf.card.test_time_views)]
    pooled = np.mean([f.astype(np.float64).mean(axis=(0, 1)) for _, f in outs], axis=0)
    if clf.card.head is not None:  # a refitted head reads the mean pooled features
        return clf.card.head.probabilities(pooled), pooled, outs[0][1]
    return np.mean([p for p, _ in outs], axis=0), pooled, outs[0][1]


def _inputs(clf: Classifier) -> list[np.ndarray]:
    rng = np.random.default_rng(7)
    size = clf.card.input_size
    noise = [rng.integers(0, 256, (size, size, 3), dtype=np.uint8) for _ in range(2)]
    return [preprocess(lesion_image(200, seed), clf.card.preprocessing) for seed in (0, 1)] + noise


@needs_model
def test_the_views_on_a_lane_give_the_serial_answers_bit_for_bit(shipped: Classifier) -> None:
    assert shipped.card.test_time_views == "dihedral"
    for arr in _inputs(shipped):
        out = shipped.views(arr)
        probs, pooled, fmap = _serial(shipped, arr)
        np.testing.assert_array_equal(out.probabilities, probs)
        np.testing.assert_array_equal(out.pooled, pooled)
        np.testing.assert_array_equal(out.feature_map, fmap)


@needs_model
def test_a_lane_answers_as_the_signature_runner(shipped: Classifier) -> None:
    """Direct calls (no per-call resize and allocate) read the same tensors as the runner,
    which is also the fallback for a model whose signature is not its own inputs."""
    arr = _inputs(shipped)[0][None]
    lane = Lane(DEFAULT_MODEL)
    assert lane._runner is None  # the shipped model is driven directly
    from ai_edge_litert.interpreter import Interpreter

    runner = Interpreter(model_path=str(DEFAULT_MODEL)).get_signature_runner()
    want = runner(image=arr)
    wanted = (shipped.card.features_output, shipped.card.probabilities_output)
    for got, name in zip(lane("image", arr, wanted), wanted, strict=True):
        np.testing.assert_array_equal(got, want[name])
    lane._runner = runner
    for got, name in zip(lane("image", arr, wanted), wanted, strict=True):
        np.testing.assert_array_equal(got, want[name])


@needs_model
def test_threads_at_once_get_a_lane_each_and_the_lanes_are_kept() -> None:
    clf = Classifier(DEFAULT_MODEL)
    arrs = _inputs(clf)
    want = [clf.views(a).probabilities for a in arrs]
    held = threading.Barrier(3)
    lanes: list[object] = []

    def hold() -> None:  # three callers at once, at the views' batch: three lanes made
        with clf.lanes.lend(clf._batch) as lane:
            lanes.append(lane)
            held.wait(timeout=10)

    threads = [threading.Thread(target=hold) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len({id(lane) for lane in lanes}) == 3

    def views_at_once() -> None:
        with ThreadPoolExecutor(3) as pool:
            got = list(pool.map(lambda a: clf.views(a).probabilities, arrs * 5))
        for g, w in zip(got, want * 5, strict=True):
            np.testing.assert_array_equal(g, w)

    made = clf.lanes.made
    views_at_once()
    views_at_once()
    # Idle lanes are lent again, not made anew: three threads never need a fourth (however
    # the scheduler overlaps them, which a busy machine changes).
    assert clf.lanes.made == made


@needs_model
def test_a_model_that_cannot_take_a_batch_runs_its_views_one_by_one(
    monkeypatch, shipped: Classifier
) -> None:
    assert shipped._batch == 8  # the shipped graph takes the 8 views as one batch
    real = Lane.__init__

    def batch_one_only(self: Lane, model_path, num_threads=1, batch=1) -> None:  # noqa: ANN001
        if batch != 1:
            raise ValueError("Cannot set tensor: reshape with a fixed batch")
        real(self, model_path, num_threads, batch)

    monkeypatch.setattr(Lane, "__init__", batch_one_only)
    clf = Classifier(DEFAULT_MODEL)
    assert clf._batch == 1
    for arr in _inputs(clf):
        np.testing.assert_array_equal(clf.views(arr).pooled, shipped.views(arr).pooled)
        np.testing.assert_array_equal(clf.views(arr).probabilities, _serial(clf, arr)[0])


@needs_model
def test_self_check_passes_the_cards_check_images(capsys) -> None:
    assert cli.self_check() == Exit.OK
    assert capsys.readouterr().out.rstrip().endswith("OK")


@needs_model
def test_parallel_files_give_the_serial_results_in_order(shipped: Classifier, tmp_path) -> None:
    """Threads (the window, adapt) and forked processes (the command line) alike."""
    paths = write_images(tmp_path, [f"{i}.png" for i in range(2 * GROUP + 1)], size=150)
    noise = np.random.default_rng(3).integers(0, 256, (150, 150, 3), dtype=np.uint8)
    Image.fromarray(noise).save(tmp_path / "noise.png")  # no dermoscopy: refused by scope
    paths += [tmp_path / "noise.png"]
    paths.insert(2, tmp_path / "missing.jpg")
    (tmp_path / "photo.heic").write_bytes(b"not decoded")
    paths.insert(5, tmp_path / "photo.heic")
    serial = [classify_path(shipped, p, with_cam=False) for p in paths]  # one file at a time
    for workers, processes in ((0, False), (2, False), (3, False), (2, True), (3, True)):
        piped = list(
            classify_paths(shipped, paths, with_cam=False, workers=workers, processes=processes)
        )
        assert [r.path for r in piped] == paths
        assert [r.to_json() for r in piped] == [r.to_json() for r in serial]
        for p, s in zip(piped, serial, strict=True):
            if s.ok:
                np.testing.assert_array_equal(
                    p.prediction.probabilities, s.prediction.probabilities
                )
    assert serial[2].error and serial[5].error and not serial[2].ok
    assert all(r.cam is None and r.cams is None for r in serial)  # a batch makes no heat-maps
    one = classify_path(shipped, paths[0])  # the single-file path: the same figures, and maps
    np.testing.assert_array_equal(one.prediction.probabilities, serial[0].prediction.probabilities)
    assert one.cams is not None


@needs_model
def test_the_views_run_where_the_image_is_prepared(shipped: Classifier, tmp_path) -> None:
    """The model runs in the pool's threads with the decoding; the caller only finishes."""
    (path,) = write_images(tmp_path, ["a.png"], size=150)
    ready = prepare_path(shipped, path)
    assert ready.outputs is not None and ready.arr is not None
    again = shipped.predict_array(ready.arr, ready.quality, with_cam=True)
    done = shipped.predict_array(ready.arr, ready.quality, with_cam=True, outputs=ready.outputs)
    np.testing.assert_array_equal(done.probabilities, again.probabilities)
    np.testing.assert_array_equal(done.cams, again.cams)
    assert done.elapsed_ms >= ready.outputs.elapsed_ms > 0


class SlowViews(FakeClassifier):
    """A classifier whose model takes ``delay_s`` per image, run apart (``views``)."""

    def __init__(self, delay_s: float) -> None:
        super().__init__()
        self.started: list[float] = []
        self.delay = delay_s

    def views(self, arr: np.ndarray) -> ViewOutputs:
        self.started.append(time.perf_counter())
        time.sleep(self.delay)
        probs = np.asarray(self.probabilities, dtype=np.float64)
        return ViewOutputs(probs, np.zeros(16), np.zeros((2, 2, 4), np.float32))

    def predict_array(self, arr, quality_issues=(), with_cam=True, outputs=None, cautions=None):  # noqa: ANN001, ANN201, ARG002
        out = outputs if outputs is not None else self.views(arr)
        return Prediction.for_card(self.card, out.probabilities, quality_issues=quality_issues)


def test_the_model_runs_on_every_worker_at_once(tmp_path) -> None:
    paths = write_images(tmp_path, [f"{i}.png" for i in range(4 * GROUP)])
    slow = SlowViews(0.04)
    start = time.perf_counter()
    results = list(classify_paths(slow, paths, workers=4))
    assert [r.path for r in results] == paths and all(r.ok for r in results)
    one_by_one = 4 * GROUP * 0.04
    assert time.perf_counter() - start < 0.6 * one_by_one  # four groups at once
    assert len(slow.started) == 4 * GROUP


def test_cancelling_a_parallel_batch_is_immediate(tmp_path) -> None:
    paths = write_images(tmp_path, [f"{i}.png" for i in range(12 * GROUP)])
    slow = SlowViews(0.05)
    stop = threading.Event()
    seen = []
    for r in classify_paths(slow, paths, workers=2, cancelled=stop.is_set):
        seen.append(r)
        stop.set()
        asked = time.perf_counter()
    assert time.perf_counter() - asked < 0.2  # no waiting for the groups in progress
    assert len(seen) == 1
    time.sleep(GROUP * 0.05 * 2)  # the groups already under way end on their own
    assert len(slow.started) <= 4 * GROUP  # only a few ahead, never the whole folder


@pytest.mark.skipif(sys.platform != "linux", reason="processes fork only on Linux")
def test_cancelling_forked_processes_is_immediate(tmp_path) -> None:
    paths = write_images(tmp_path, [f"{i}.png" for i in range(12 * GROUP)])
    stop = threading.Event()
    seen = []
    start = time.perf_counter()
    slow = SlowViews(0.05)
    for r in classify_paths(slow, paths, workers=2, cancelled=stop.is_set, processes=True):
        seen.append(r)
        stop.set()
        asked = time.perf_counter()
    assert time.perf_counter() - asked < 0.5  # the children are ended, not waited for
    assert len(seen) == 1 and asked - start < 3 * GROUP * 0.05  # the first group's time


@pytest.mark.skipif(sys.platform != "linux", reason="processes fork only on Linux")
def test_an_item_that_kills_its_child_alone_fails_and_nothing_runs_here() -> None:
    """A crash in native code (a damaged file in a decoder) ends a child: the item that did it
    gets ChildDied in its place, every other item its value, and none ran in this process,
    where the same crash would end the app."""
    parent = os.getpid()

    def crash_on_two(i: int) -> tuple[int, int]:
        if i == 2 and os.getpid() != parent:
            os._exit(1)  # as a native crash would: no exception, the child is gone
        return i * i, os.getpid()

    out = list(pipeline.in_processes(crash_on_two, range(12), workers=2))
    assert [i for i, _ in out] == list(range(12))
    assert isinstance(out[2][1], pipeline.ChildDied)
    done = [v for i, v in out if i != 2]
    assert [v[0] for v in done] == [i * i for i in range(12) if i != 2]
    assert all(pid != parent for _, pid in done)


@pytest.mark.skipif(sys.platform != "linux", reason="processes fork only on Linux")
def test_a_single_item_that_crashes_gets_an_error_not_the_end_of_the_caller() -> None:
    """One file on the command line (one item), or one core: still in a child, so a crash in
    native code is an error in its place rather than the end of the command."""
    parent = os.getpid()

    def crash(i: int) -> int:
        if os.getpid() != parent:
            os._exit(1)
        return i

    (only,) = pipeline.in_processes(crash, [7], workers=2)
    assert only[0] == 7 and isinstance(only[1], pipeline.ChildDied)
    out = list(pipeline.in_processes(lambda i: (i, os.getpid()), range(3), workers=1))
    assert [v[0] for _, v in out] == [0, 1, 2] and all(v[1] != parent for _, v in out)


@pytest.mark.skipif(sys.platform != "linux", reason="processes fork only on Linux")
def test_cancelling_while_an_item_runs_alone_ends_its_child_at_once() -> None:
    """isolated() (the items a dead child left unexplained) waits on its child in short steps:
    cancelling returns at once, without the slow item's result, and its child is ended."""
    stop = threading.Event()

    def slow(i: int) -> int:
        time.sleep(30 if i == 1 else 0)
        return i

    items = pipeline.isolated(slow, range(3), cancelled=stop.is_set)
    first = next(items)  # item 0 in its child: timed from here, a loaded machine forks slowly
    threading.Timer(0.5, stop.set).start()
    start = time.perf_counter()
    out = [first, *items]
    assert time.perf_counter() - start < 5
    assert out == [(0, 0)]
    import multiprocessing

    deadline = time.perf_counter() + 3
    while multiprocessing.active_children() and time.perf_counter() < deadline:
        time.sleep(0.05)
    assert not multiprocessing.active_children()  # the slow item's child is gone, not waited for


@pytest.mark.skipif(sys.platform != "linux", reason="processes fork only on Linux")
def test_a_file_that_crashes_its_child_gets_an_error_and_the_batch_goes_on(
    tmp_path, monkeypatch
) -> None:
    """classify_paths on processes: the group holding the file is read again file by file, each
    in a child of its own; that file's result says it was set aside, the others are classified."""
    from desktop import batch

    parent = os.getpid()
    names = [f"{i}.png" for i in range(GROUP + 4)]
    names[5] = "damaged.png"
    paths = write_images(tmp_path, names)
    whole = batch.classify_group

    def crashes_on_damaged(classifier, group, thumbnail=0, with_cam=False):  # noqa: ANN001, ANN202
        if os.getpid() != parent and any(os.fspath(p).endswith("damaged.png") for p in group):
            os._exit(1)
        return whole(classifier, group, thumbnail, with_cam)

    monkeypatch.setattr(batch, "classify_group", crashes_on_damaged)
    results = list(classify_paths(FakeClassifier(), paths, workers=2, processes=True))
    assert [r.path for r in results] == paths
    assert not results[5].ok and "set aside" in results[5].error
    assert "damaged.png" in results[5].error
    assert all(r.ok for i, r in enumerate(results) if i != 5)


@pytest.mark.skipif(sys.platform != "linux", reason="processes fork only on Linux")
def test_a_pool_broken_before_the_next_submit_leaves_the_rest_to_threads(monkeypatch) -> None:
    """Once the pool knows a child died, submitting raises at once (no failed future): the
    items not yet given still run, on threads, in order."""
    import concurrent.futures
    from concurrent.futures.process import BrokenProcessPool

    class BreaksOnFifthSubmit(concurrent.futures.ThreadPoolExecutor):
        def __init__(self, workers: int, **_: object) -> None:
            super().__init__(workers)
            self.submitted = 0

        def submit(self, fn, *args, **kwargs):  # noqa: ANN001, ANN201
            self.submitted += 1
            if self.submitted == 5:
                raise BrokenProcessPool("a child process terminated abruptly")
            return super().submit(lambda i: i * i, *args)  # the child's work, here

    monkeypatch.setattr(concurrent.futures, "ProcessPoolExecutor", BreaksOnFifthSubmit)
    out = list(pipeline.in_processes(lambda i: i * i, range(12), workers=2))
    assert out == [(i, i * i) for i in range(12)]


def test_without_fork_the_processes_are_threads(tmp_path, monkeypatch) -> None:
    monkeypatch.setattr(pipeline, "_fork_context", lambda: None)
    paths = write_images(tmp_path, [f"{i}.png" for i in range(6)])
    slow = SlowViews(0.01)
    results = list(classify_paths(slow, paths, workers=2, processes=True))
    assert [r.path for r in results] == paths and len(slow.started) == 6  # ran here


def test_in_processes_keeps_the_order_and_puts_errors_in_place() -> None:
    def square(i: int) -> int:
        if i == 3:
            raise OSError("bad file")
        return i * i

    out = list(pipeline.in_processes(square, range(9), workers=2))
    assert [i for i, _ in out] == list(range(9)) and isinstance(out[3][1], OSError)
    assert [v for i, v in out if i != 3] == [i * i for i in range(9) if i != 3]


def test_in_stages_runs_each_stage_over_the_group_before_the_next() -> None:
    calls: list[tuple[str, int]] = []

    def load(i: int) -> int:
        calls.append(("load", i))
        if i == 1:
            raise OSError("unreadable")
        return i

    def model(i: int) -> int:
        calls.append(("model", i))
        return 10 * i

    out = pipeline.in_stages([0, 1, 2], load, model)
    assert out[0] == 0 and isinstance(out[1], OSError) and out[2] == 20
    assert calls == [("load", 0), ("load", 1), ("load", 2), ("model", 0), ("model", 2)]
    assert pipeline.groups(range(5), 2) == [[0, 1], [2, 3], [4]]


def test_prefetched_keeps_the_order_and_puts_errors_in_place() -> None:
    def slow(i: int) -> int:
        time.sleep(0.02 * ((7 * i) % 3))
        if i == 3:
            raise OSError("bad file")
        return i * i

    out = list(prefetched(slow, range(8), workers=3))
    assert [i for i, _ in out] == list(range(8))
    assert isinstance(out[3][1], OSError)
    assert [v for i, v in out if i != 3] == [i * i for i in range(8) if i != 3]


def test_prefetched_stops_at_once_when_cancelled() -> None:
    stop = threading.Event()
    started: list[int] = []

    def prepare(i: int) -> int:
        started.append(i)
        time.sleep(0.2)
        return i

    for i, _ in prefetched(prepare, range(100), workers=1, ahead=2, cancelled=stop.is_set):
        if i == 0:
            stop.set()
            asked = time.perf_counter()
    assert time.perf_counter() - asked < 0.15  # no waiting for the images read ahead (0.2 s)
    assert len(started) <= 3  # only a few read ahead, never the whole list


def test_the_command_line_makes_no_heatmaps(tmp_path, capsys) -> None:
    calls = tmp_path / "calls.txt"  # a file: the command line classifies in forked processes

    class Spy(FakeClassifier):
        def predict_image(self, img: Image.Image, with_cam: bool = True):  # noqa: ANN201
            with calls.open("a") as fh:
                fh.write(f"{with_cam}\n")
            return super().predict_image(img, with_cam)

    write_images(tmp_path / "in", ["a.png", "b.png", "c.png"])
    status = cli.classify([tmp_path / "in"], as_json=True, factory=lambda _m: Spy())
    assert status == Exit.OK and calls.read_text().split() == ["False"] * 3
    assert capsys.readouterr().out.lstrip().startswith("[")


def test_heatmaps_are_made_when_a_batch_result_is_shown(tmp_path) -> None:
    fake = FakeClassifier()
    (path,) = write_images(tmp_path, ["a.png"])
    bare = next(classify_paths(fake, [path]))
    assert bare.ok and bare.cams is None
    shown = with_heatmaps(fake, bare)
    assert shown.cams is not None and shown.cam is not None
    assert shown.prediction is bare.prediction  # the figures stay the batch's


@needs_model
def test_feature_extraction_runs_the_views_in_parallel(shipped: Classifier, tmp_path) -> None:
    paths = write_images(tmp_path, [f"{i}.png" for i in range(GROUP + 3)], size=150)
    feats = extract(shipped, [*paths[:3], tmp_path / "gone.png", *paths[3:]])
    assert list(feats.index) == [0, 1, 2, *range(4, GROUP + 4)] and feats.errors[0][0] == 3
    for row, path in enumerate(paths):
        arr = preprocess(Image.open(path).convert("RGB"), shipped.card.preprocessing)
        probs, pooled, _ = _serial(shipped, arr)
        np.testing.assert_array_equal(feats.pooled[row], pooled)
        np.testing.assert_array_equal(feats.probabilities[row], probs)


@needs_model
@pytest.mark.skipif(sys.platform != "linux", reason="processes fork only on Linux")
def test_feature_extraction_on_processes_leaves_out_a_file_that_crashes_its_child(
    shipped: Classifier, tmp_path, monkeypatch
) -> None:
    """adapt on the command line: a file that crashes the decoder's process is left out as
    unreadable (the others keep their place and their numbers), not the end of the run."""
    from desktop import features
    from desktop.imaging import CRASHED_READER

    parent = os.getpid()
    names = [f"{i}.png" for i in range(GROUP + 3)]
    names[4] = "damaged.png"
    paths = write_images(tmp_path, names, size=150)
    good = [p for i, p in enumerate(paths) if i != 4]
    read = features.load_image

    def crashes_on_damaged(path, pre):  # noqa: ANN001, ANN202
        if os.getpid() != parent and os.fspath(path).endswith("damaged.png"):
            os._exit(1)  # as a native crash would
        return read(path, pre)

    monkeypatch.setattr(features, "load_image", crashes_on_damaged)
    feats = extract(shipped, paths, processes=True)
    assert list(feats.index) == [i for i in range(len(paths)) if i != 4]
    assert feats.errors == [(4, f"damaged.png: {CRASHED_READER}")]
    np.testing.assert_array_equal(feats.pooled, extract(shipped, good).pooled)


def test_the_window_batch_maps_only_the_image_on_screen(qtbot, qsettings, tmp_path) -> None:
    from desktop.qt.app import build_window

    window, controller = build_window(
        FakeClassifier(), None, settings=qsettings, samples=tmp_path / "no-samples"
    )
    qtbot.addWidget(window)
    folder = tmp_path / "visit"
    write_images(folder, ["a.png", "b.png", "c.png"])
    with qtbot.waitSignal(controller.runner.jobFinished, timeout=15_000):
        controller.open_paths([folder])
    results = window.batch_panel.results_in_view_order()
    assert [r.cams is not None for r in results] == [True, False, False]
    window.batch_panel.table.selectRow(2)
    qtbot.waitUntil(lambda: window.image_view.heat is not None, timeout=15_000)
    assert controller.current.name == "c.png" and controller.image.mapped.cams is not None
