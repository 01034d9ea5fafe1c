import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import pytest  # noqa: E402


@pytest.fixture
def qsettings(tmp_path):
    """A throw-away QSettings file, so tests never touch the user's recent-files list."""
    from PySide6.QtCore import QSettings

    settings = QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat)
    yield settings
    settings.sync()


@pytest.fixture
def data(tmp_path):
    """A lesion-history folder, not made yet (``--data-dir``, ``Store.open``). A test file whose
    tests need a store already filled defines its own ``data``."""
    return tmp_path / "data"


@pytest.fixture
def window(qtbot, qsettings, tmp_path, data, monkeypatch):
    """The main window on a FakeClassifier, its lesion history in ``data`` (as the environment's
    folder): (window, controller); the history's worker is shut down after the test."""
    from desktop.qt.app import build_window
    from tests.fakes import FakeClassifier

    monkeypatch.setenv("LESIONLENS_DATA_DIR", str(data))
    window, controller = build_window(
        FakeClassifier(), settings=qsettings, samples=tmp_path / "none"
    )
    qtbot.addWidget(window)
    window.show()
    qtbot.waitExposed(window)
    yield window, controller
    controller.history.shutdown()


from tests.fakes import ISIC_CLASSES  # noqa: E402  (one class list for all tests)


def make_dataset(root, classes=ISIC_CLASSES, per_class=10, size=48, seed=0, first_id=0):
    """Synthetic 'dermoscopy' folders: each class a distinct colour and blob size, some noise.

    Learnable in one epoch, so end-to-end tests can check the pipeline actually learns.
    """
    from pathlib import Path

    import numpy as np
    from PIL import Image

    rng = np.random.default_rng(seed)
    root = Path(root)
    yy, xx = np.mgrid[:size, :size]
    for ci, name in enumerate(classes):
        folder = root / name
        folder.mkdir(parents=True, exist_ok=True)
        hue = np.array(
            [(ci * 97) % 256, (ci * 53 + 80) % 256, (ci * 151 + 40) % 256], dtype=np.float32
        )
        for i in range(per_class):
            img = rng.normal(180, 25, (size, size, 3)).clip(0, 255)
            radius = 6 + (ci % 5) * 3 + rng.integers(-1, 2)
            cy, cx = size // 2 + rng.integers(-3, 4, 2)
            mask = (yy - cy) ** 2 + (xx - cx) ** 2 < radius**2
            img[mask] = hue + rng.normal(0, 10, (int(mask.sum()), 3))
            Image.fromarray(img.clip(0, 255).astype(np.uint8)).save(
                folder / f"ISIC_{ci:02d}{first_id + i:05d}.jpg", quality=92
            )
    return root


def tiny_lite_run(tmp_path, **changes):
    """A one-epoch Lite0 run on two synthetic classes: the smallest real pretrained training
    (``changes`` set the knob under test). Returns its config; ``run(config)`` trains it."""
    from trainer.config import TrainConfig

    data = make_dataset(tmp_path / "data", classes=("melanoma", "nevus"), per_class=10)
    return TrainConfig(
        data=str(data),
        out=str(tmp_path / "run"),
        image_size=32,
        width=4,
        epochs=1,
        batch_size=8,
        val_fraction=0.3,
        test_fraction=0.0,
        warmup_epochs=0,
        max_int8_drop=1.0,
        near_duplicates=False,
        arch="lite0",
        **changes,
    )


@pytest.fixture(scope="session")
def trained_run(tmp_path_factory):
    """One real (tiny) training run through the whole pipeline: audit -> split -> balance ->
    train -> calibrate -> int8 export. Shared by every test that needs a real model."""
    from trainer.config import TrainConfig
    from trainer.train import run

    base = tmp_path_factory.mktemp("trained")
    data = make_dataset(base / "data", per_class=12)
    config = TrainConfig(
        data=str(data),
        out=str(base / "run"),
        arch="resnet",  # the small CNN: a pipeline test, not the shipped backbone
        image_size=32,
        crop=0.9,  # so the card -> app path is exercised with a crop
        width=8,
        epochs=2,
        batch_size=16,
        val_fraction=0.25,
        test_fraction=0.0,
        balance_target="14",
        learning_rate=5e-3,
        warmup_epochs=0,
        quality_rate=0.0,  # unseeded JPEG re-encoding would make this shared model differ per run
        ema=0.0,  # over a dozen steps a 0.995 average would still be the random initial weights
        max_int8_drop=1.0,  # two epochs on noise-level data: fidelity is tested separately
    )
    return run(config)


@pytest.fixture(scope="session")
def tiny_model(trained_run):
    """Path of a tiny int8 model.tflite with its model.json beside it."""
    return trained_run / "model.tflite"


# Fixtures that train the tiny run or build the bundle (minutes on a 2-core machine): a test
# using one is slow wherever it is written, so it is marked here rather than by hand, and
# `make test-fast` (-m "not slow") stays fast as such tests are added. `real_model` is
# test_real_model.py's wrapper that asks for `tiny_model` at run time; `bundle` is
# test_bundle.py's PyInstaller build.
SLOW_FIXTURES = frozenset({"trained_run", "tiny_model", "real_model", "bundle"})


def pytest_collection_modifyitems(config, items):
    for item in items:
        if SLOW_FIXTURES.intersection(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.slow)


@pytest.fixture(scope="session")
def tiny_general(tmp_path_factory):
    """A tiny general-purpose network (tests/general_card.py) and its card block."""
    from tests.general_card import tiny_network

    return tiny_network(tmp_path_factory.mktemp("general"))
