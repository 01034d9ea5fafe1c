"""Classifying at the speed of the hardware: the views as one batch, decoding pipelined with
the model, heat-maps only for the image on screen. Same answers as the serial path."""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest
from PIL import Image

from desktop import cli
from desktop.features import extract
from desktop.imaging import model_views, preprocess
from desktop.inference import DEFAULT_MODEL, Classifier
from desktop.pipeline import prefetched
from desktop.results import classify_path, classify_paths, with_heatmaps
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
def test_the_views_run_as_one_batch_with_the_serial_answers(shipped: Classifier) -> None:
    assert shipped.card.test_time_views == "dihedral"
    assert shipped._batch_runner is not None  # the shipped graph takes a batch of 8
    for arr in _inputs(shipped):
        out = shipped.views(arr)
        probs, pooled, fmap = _serial(shipped, arr)
        np.testing.assert_allclose(out.probabilities, probs, rtol=0, atol=1e-6)
        np.testing.assert_allclose(out.pooled, pooled, rtol=0, atol=1e-6)
        np.testing.assert_allclose(out.feature_map, fmap, rtol=0, atol=1e-6)


@needs_model
def test_a_model_that_cannot_take_a_batch_runs_its_views_one_by_one(monkeypatch) -> None:
    real = Classifier._new_runner

    def batch_one_only(self: Classifier, batch: int):  # noqa: ANN202
        if batch != 1:
            raise ValueError("Cannot set tensor: reshape with a fixed batch")
        return real(self, batch)

    monkeypatch.setattr(Classifier, "_new_runner", batch_one_only)
    clf = Classifier(DEFAULT_MODEL)
    assert clf._batch_runner is None
    arr = _inputs(clf)[0]
    np.testing.assert_allclose(clf.views(arr).probabilities, _serial(clf, arr)[0], atol=1e-6)


@needs_model
def test_self_check_passes_the_cards_check_images(capsys) -> None:
    assert cli.self_check() == cli.EXIT_OK
    assert capsys.readouterr().out.rstrip().endswith("OK")


@needs_model
def test_pipelined_files_give_the_serial_results_in_order(shipped: Classifier, tmp_path) -> None:
    paths = write_images(tmp_path, [f"{i}.png" for i in range(6)], size=150)
    paths.insert(2, tmp_path / "missing.jpg")
    piped = list(classify_paths(shipped, paths, with_cam=False, workers=2))
    assert [r.path for r in piped] == paths
    assert piped[2].error and not piped[2].ok
    for r in piped:
        assert r.cam is None and r.cams is None  # a batch makes no heat-maps
        serial = classify_path(shipped, r.path)
        if r.ok:
            np.testing.assert_allclose(
                r.prediction.probabilities, serial.prediction.probabilities, atol=1e-6
            )


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
    calls: list[bool] = []

    class Spy(FakeClassifier):
        def predict_image(self, img: Image.Image, with_cam: bool = True):  # noqa: ANN201
            calls.append(with_cam)
            return super().predict_image(img, with_cam)

    write_images(tmp_path, ["a.png", "b.png", "c.png"])
    status = cli.classify([tmp_path], as_json=True, factory=lambda _m: Spy())
    assert status == cli.EXIT_OK and calls == [False, False, False]
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
def test_feature_extraction_uses_the_batched_views(shipped: Classifier, tmp_path) -> None:
    paths = write_images(tmp_path, ["a.png", "b.png", "c.png"], size=150)
    feats = extract(shipped, [*paths, tmp_path / "gone.png"])
    assert list(feats.index) == [0, 1, 2] and feats.errors[0][0] == 3
    arr = preprocess(Image.open(paths[1]).convert("RGB"), shipped.card.preprocessing)
    np.testing.assert_allclose(feats.pooled[1], _serial(shipped, arr)[1], atol=1e-6)


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
