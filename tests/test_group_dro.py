"""``--group-dro``: the worst-origin objective (trainer/group_dro.py) and its train step."""

from __future__ import annotations

import numpy as np
import pytest


def test_origins_become_indices_and_augmentors_copies_none():
    from trainer.group_dro import group_ids

    ids, names = group_ids(("b", "", "a", "b"))
    assert names == ("a", "b") and ids.tolist() == [1, -1, 0, 1]


def test_the_loss_leans_on_the_origin_that_fits_worst():
    """Each step moves weight towards the origin with the higher mean loss; the loss is the
    weighted mean over the origins in the batch, Augmentor's copies keeping their share."""
    import tensorflow as tf

    from trainer.group_dro import GroupDRO

    dro = GroupDRO(("easy", "hard", "absent"), step=0.5)
    rows = tf.constant([0.2, 0.2, 2.0, 2.0, 1.0])
    group = tf.constant([0, 0, 1, 1, -1])
    weight = tf.ones(5)
    loss = float(dro.loss(rows, weight, group))
    q = dro.q.numpy()
    z = np.exp(0.5 * 0.2) + np.exp(0.5 * 2.0) + 1.0  # the step's exp(step * mean), absent: exp(0)
    assert q == pytest.approx(np.array([np.exp(0.1), np.exp(1.0), 1.0]) / z, rel=1e-5)
    here = q[:2] / q[:2].sum()
    expected = 0.2 * 1.0 + 0.8 * (here[0] * 0.2 + here[1] * 2.0)
    assert loss == pytest.approx(expected, rel=1e-5)
    for _ in range(20):  # the same batch again and again: the hard origin takes over
        dro.loss(rows, weight, group)
    assert dro.q.numpy()[1] > 0.95
    assert "hard 1.00" in dro.weights_text()
    # Row weights (class weights) weigh the rows within their origin's mean.
    fresh = GroupDRO(("one",), step=0.1)
    got = float(fresh.loss(tf.constant([1.0, 3.0]), tf.constant([3.0, 1.0]), tf.constant([0, 0])))
    assert got == pytest.approx((3 * 1.0 + 1 * 3.0) / 4)
    with pytest.raises(ValueError, match="step"):
        GroupDRO(("a",), step=0.0)


def test_group_dro_is_a_knob_apart_from_origin_balance():
    from trainer.config import TrainConfig

    assert TrainConfig().group_dro == 0.0
    with pytest.raises(ValueError, match="group_dro"):
        TrainConfig(group_dro=0.01, origin_balance=True)
    with pytest.raises(ValueError, match="group_dro"):
        TrainConfig(group_dro=-1.0)


@pytest.mark.parametrize("consistency", [0.0, 1.0])
def test_group_dro_trains_through_keras_fit(consistency: float):
    """The origin index travels with each image (or pair of copies) into the step, class
    weights still apply, and both the network's and the origins' weights move (which way
    the origins' go: the test above)."""
    import keras

    from trainer.balance import balanced_class_weights
    from trainer.config import TrainConfig
    from trainer.consistency import consistency_step
    from trainer.group_dro import GroupDRO, group_ids
    from trainer.model_spec import build_model_for
    from trainer.train import compile_for_training, train_dataset

    rng = np.random.default_rng(0)
    n = 16
    y = np.array([0, 1] * (n // 2))
    level = np.where(y == 1, 200, 40)
    level[8:14] = 120  # the noisy origin's images say nothing of their class
    x = level[:, None, None, None] + rng.integers(0, 20, (n, 32, 32, 3))
    x = np.clip(x, 0, 255).astype(np.uint8)
    origins = ["clean"] * 8 + ["noisy"] * 6 + ["", ""]
    ids, names = group_ids(origins)
    cfg = TrainConfig(
        arch="resnet", width=4, image_size=32, batch_size=8, consistency=consistency, group_dro=1.0
    )
    keras.utils.set_random_seed(0)
    parts = build_model_for(cfg, 2)
    compile_for_training(cfg, parts, 2)
    dro = GroupDRO(names, cfg.group_dro)
    parts.model.train_step = consistency_step(parts.model, cfg.consistency, dro)
    ds = train_dataset(cfg, x, y, 2, groups=ids)
    (images, group), labels = next(iter(ds))
    assert group.shape == (8,) and images.shape[0] == 8
    assert images.shape[1] == (2 if consistency else 32)
    brightness = np.asarray(images, np.float32).reshape(8, -1).mean(1)
    noisy = np.asarray(group) == names.index("noisy")
    assert np.all(np.abs(brightness[noisy] - 130) < 25)  # each index stayed with its image
    assert np.all(np.abs(brightness[~noisy] - 130) > 45)
    before = [w.copy() for w in parts.model.get_weights()]
    logged: list[str] = []
    hist = parts.model.fit(
        ds,
        epochs=4,
        verbose=0,
        class_weight=balanced_class_weights(y, 2),
        callbacks=[dro.log_callback(logged.append)],
    )
    assert all(np.isfinite(hist.history["loss"]))
    assert any(
        not np.allclose(a, b) for a, b in zip(before, parts.model.get_weights(), strict=True)
    )
    assert not np.allclose(dro.q.numpy(), 1 / len(names))  # the step moved the origins' weights
    assert len(logged) == 4 and logged[0].startswith("epoch 1: group DRO weights clean")
    last = {n: hist.history[f"group_dro {n}"][-1] for n in names}  # in the epoch's logs
    assert last == pytest.approx(dict(zip(names, dro.q.numpy().tolist(), strict=True)))
