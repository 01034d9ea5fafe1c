"""The out-of-scope decision ("not a dermoscopy image"): fit, score, card block, pixel cue.

All data is made here: Gaussian features for the fit/score arithmetic, drawn pictures for
the pixel cue, and synthetic lesions for the end-to-end fit on the shipped LiteRT model.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image, ImageDraw

from desktop.card import CardError, ModelCard
from desktop.descriptor import pool
from desktop.general import copy_beside
from desktop.imaging import preprocess
from desktop.inference import Classifier, assess_scope
from desktop.pixel_cues import (
    FLAT_REASON,
    MAX_FLAT_SHARE,
    MIN_SOFT_EDGE,
    burnt_out,
    flat_share,
    pixel_cues,
    soft_white_edge,
)
from desktop.preprocessing import Preprocessing
from desktop.scope import OUT_OF_SCOPE_REASON, ScopeError, ScopeModel, fit
from tests.fakes import card_dict, lesion_image

ROOT = Path(__file__).resolve().parent.parent
SHIPPED = ROOT / "assets" / "model.tflite"
DIM = 4  # the fake card's feature channels


def clusters(n: int, dim: int = 12, classes: int = 3, seed: int = 0, spread: float = 1.0):
    """Features of ``classes`` Gaussian clusters in ``dim`` dimensions, and their labels."""
    rng = np.random.default_rng(seed)
    centres = np.random.default_rng(99).normal(0, 5, (classes, dim))
    y = rng.integers(0, classes, n)
    scale = np.linspace(2.0, 0.2, dim) * spread  # unequal variances: Mahalanobis matters
    return centres[y] + rng.normal(0, 1, (n, dim)) * scale, y


# Fit and score ---------------------------------------------------------------------------------
def test_threshold_keeps_the_requested_share_of_validation() -> None:
    x, y = clusters(2000)
    v, _ = clusters(400, seed=1)
    for keep in (0.9, 0.97, 0.98):
        block = fit(x, y, v, keep=keep, components=6)
        model = ScopeModel.from_dict(block)
        rate = float(np.mean(model.distance(v) <= model.threshold))
        assert rate >= keep
        assert rate < keep + 2 / len(v) + 1e-9  # the smallest threshold that does it
        assert block["validation_assessable_rate"] == pytest.approx(rate)
        assert block["validation_images"] == 400 and block["keep_target"] == keep


def test_new_in_distribution_points_pass_and_far_points_are_rejected() -> None:
    x, y = clusters(2000)
    v, _ = clusters(400, seed=1)
    model = ScopeModel.from_dict(fit(x, y, v, components=6))
    fresh, _ = clusters(1000, seed=2)
    assert np.mean(model.distance(fresh) <= model.threshold) > 0.95
    rng = np.random.default_rng(3)
    far = rng.normal(0, 1, (200, 12)) * 60  # nowhere near any class
    assert not np.any(model.distance(far) <= model.threshold)


def test_points_off_the_kept_directions_are_still_seen() -> None:
    """A shift along a direction the training data never varies in is far, not ignored."""
    x, y = clusters(2000)
    v, _ = clusters(400, seed=1)
    model = ScopeModel.from_dict(fit(x, y, v, components=3))
    quiet = np.argmin(np.var(x - model.means[y], axis=0))  # the least varying feature
    point = model.means[0].copy()
    assert model.distance(point) <= model.threshold
    point[quiet] += 40 * np.std(x[:, quiet])
    assert model.distance(point) > model.threshold


def test_distance_is_mahalanobis_not_euclidean() -> None:
    """The same step is near along a wide direction and far along a narrow one."""
    x, y = clusters(3000, classes=1)
    v, _ = clusters(400, classes=1, seed=1)
    model = ScopeModel.from_dict(fit(x, y, v, components=12))
    wide, narrow = model.means[0].copy(), model.means[0].copy()
    wide[0] += 3.0  # feature 0 has standard deviation 2
    narrow[-1] += 3.0  # the last has 0.2
    assert model.distance(wide) < model.threshold < model.distance(narrow)


def test_fit_is_deterministic_and_json_round_trips() -> None:
    x, y = clusters(500)
    v, _ = clusters(100, seed=1)
    a, b = fit(x, y, v), fit(x, y, v)
    assert a == b
    back = json.loads(json.dumps(a))
    m1, m2 = ScopeModel.from_dict(a), ScopeModel.from_dict(back)
    assert np.allclose(m1.distance(v), m2.distance(v))


def test_degenerate_features_still_fit() -> None:
    """ReLU features are often exactly zero in some channels; the covariance must stay usable."""
    x, y = clusters(300)
    x[:, :4] = 0.0
    v, _ = clusters(60, seed=1)
    v[:, :4] = 0.0
    model = ScopeModel.from_dict(fit(x, y, v, components=20))
    assert np.all(np.isfinite(model.distance(v)))
    off = v[0].copy()
    off[0] = 1.0  # a channel that is always zero in dermoscopy lights up
    assert model.distance(off) > model.threshold


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"keep": 1.0}, "keep"),
        ({"keep": 0.2}, "keep"),
    ],
)
def test_fit_refuses_bad_settings(kwargs: dict[str, Any], message: str) -> None:
    x, y = clusters(100)
    with pytest.raises(ValueError, match=message):
        fit(x, y, x, **kwargs)


def test_fit_refuses_mismatched_inputs() -> None:
    x, y = clusters(100)
    with pytest.raises(ValueError):
        fit(x, y[:-1], x)
    with pytest.raises(ValueError):
        fit(x, y, x[:, :5])
    with pytest.raises(ValueError):
        fit(x, y, x[:0])
    bad = x.copy()
    bad[0, 0] = np.nan
    with pytest.raises(ValueError):
        fit(bad, y, x)


def test_pool_averages_the_feature_map() -> None:
    fmap = np.arange(2 * 3 * 4, dtype=np.float32).reshape(2, 3, 4)
    assert np.allclose(pool(fmap), fmap.reshape(-1, 4).mean(axis=0))
    assert pool(np.stack([fmap, fmap])).shape == (2, 4)
    with pytest.raises(ValueError):
        pool(np.zeros(4))


# The card's scope block --------------------------------------------------------------------------
def scope_block(dim: int = DIM) -> dict[str, Any]:
    x, y = clusters(300, dim=dim)
    v, _ = clusters(60, dim=dim, seed=1)
    return fit(x, y, v, components=min(3, dim - 1))


def test_card_without_scope_still_loads() -> None:
    card = ModelCard.from_dict(card_dict())
    assert card.scope is None


def test_card_with_scope_loads_it() -> None:
    block = scope_block()
    card = ModelCard.from_dict({**card_dict(), "scope": block})
    assert card.scope is not None
    assert card.scope.threshold == pytest.approx(block["threshold"])
    assert card.scope.validation_assessable_rate == pytest.approx(
        block["validation_assessable_rate"]
    )


def _broken(change: str) -> dict[str, Any]:
    block = scope_block()
    if change == "method":
        block["method"] = "guesswork"
    elif change == "dims":
        block["means"] = [row + [0.0] for row in block["means"]]  # 5 features, model has 4
    elif change == "components":
        block["components"] = block["components"][:-1]
    elif change == "variances":
        block["variances"] = block["variances"][:-1]
    elif change == "negative-variance":
        block["variances"][0] = -1.0
    elif change == "threshold":
        block["threshold"] = float("nan")
    elif change == "zero-threshold":
        block["threshold"] = 0
    elif change == "text":
        block["means"] = "lots"
    elif change == "rate":
        block["validation_assessable_rate"] = 1.5
    elif change == "huge":
        block["residual_variance"] = 10**400
    elif change == "not-an-object":
        return {**card_dict(), "scope": [1, 2, 3]}
    return {**card_dict(), "scope": block}


@pytest.mark.parametrize(
    "change",
    [
        "method",
        "dims",
        "components",
        "variances",
        "negative-variance",
        "threshold",
        "zero-threshold",
        "text",
        "rate",
        "huge",
        "not-an-object",
    ],
)
def test_a_broken_scope_block_is_a_card_error(change: str) -> None:
    with pytest.raises(CardError, match="scope"):
        ModelCard.from_dict(_broken(change))


def test_scope_error_names_the_field() -> None:
    block = scope_block()
    block["variances"] = ["a"]
    with pytest.raises(ScopeError, match="variances"):
        ScopeModel.from_dict(block)


def test_assess_scope_uses_the_card_scope() -> None:
    """In-distribution features pass; far ones give the plain reason and a score over 1."""
    x, y = clusters(300, dim=DIM)
    v, _ = clusters(60, dim=DIM, seed=1)
    card = ModelCard.from_dict({**card_dict(), "scope": fit(x, y, v, components=2)})
    arr = preprocess(lesion_image(64), card.preprocessing)
    near = np.broadcast_to(card.scope.means[0], (2, 2, DIM))
    issues, score = assess_scope(arr, near, card)
    assert issues == () and score is not None and score <= 1.0
    far = near + 500.0
    issues, score = assess_scope(arr, far, card)
    assert issues == (OUT_OF_SCOPE_REASON,) and score > 1.0
    issues, score = assess_scope(arr, far, ModelCard.from_dict(card_dict()))
    assert issues == () and score is None  # no scope block: pixel cues only


# Pixel cue --------------------------------------------------------------------------------------
PRE = Preprocessing(size=128, color_constancy="shades_of_gray")


def text_picture() -> Image.Image:
    img = Image.new("RGB", (400, 300), "white")
    draw = ImageDraw.Draw(img)
    for row in range(8):
        draw.text((20, 20 + row * 30), "Referral letter, page 1 of 2", fill="black")
    return img


def chart_picture() -> Image.Image:
    img = Image.new("RGB", (320, 240), (255, 255, 255))
    draw = ImageDraw.Draw(img)
    draw.line((30, 210, 300, 210), fill="black", width=2)
    draw.line((30, 20, 30, 210), fill="black", width=2)
    for i, h in enumerate((50, 120, 80, 160, 30)):
        draw.rectangle((50 + i * 50, 210 - h, 80 + i * 50, 210), fill=(31, 119, 180))
    return img


def vignetted_lesion(seed: int) -> Image.Image:
    """A noisy synthetic lesion inside a black dermatoscope rim (large dark corners)."""
    arr = np.asarray(lesion_image(256, seed=seed)).copy()
    yy, xx = np.mgrid[0:256, 0:256]
    arr[np.hypot(yy - 128, xx - 128) > 100] = 0
    return Image.fromarray(arr)


@pytest.mark.parametrize("make", [text_picture, chart_picture], ids=["text", "chart"])
def test_rendered_pictures_trip_the_flat_cue(make) -> None:
    """Flat colour in the photographed area, or white with hard edges (ink on a page)."""
    arr = preprocess(make(), PRE)
    soft = soft_white_edge(arr)
    assert flat_share(arr) > MAX_FLAT_SHARE or (soft is not None and soft < MIN_SOFT_EDGE)
    assert pixel_cues(arr) == (FLAT_REASON,)


def test_white_with_hard_edges_is_rendered_and_soft_clipping_is_not() -> None:
    """The same share of white: bordered by ink it is a page; fading into bright skin it is a
    photo's over-exposure (a brighter re-take), which the cue must let through."""
    rng = np.random.default_rng(0)
    skin = np.clip(rng.normal(150, 12, (128, 128, 3)), 0, 255)
    page = skin.copy()
    page[:, :80] = 255  # white meeting mid-tone at once
    level = np.maximum(150, 255 + 3 * (80 - np.arange(128)))[None, :, None]  # light falls off
    photo = np.clip(level + rng.normal(0, 3, (128, 128, 3)), 0, 255)
    page, photo = page.astype(np.uint8), photo.astype(np.uint8)
    assert np.mean(burnt_out(page)) == pytest.approx(np.mean(burnt_out(photo)), abs=0.05)
    assert soft_white_edge(page) < MIN_SOFT_EDGE and pixel_cues(page) == (FLAT_REASON,)
    assert soft_white_edge(photo) >= MIN_SOFT_EDGE and pixel_cues(photo) == ()


@pytest.mark.parametrize("seed", range(5))
def test_lesion_photos_do_not_trip_the_flat_cue(seed: int) -> None:
    for img in (lesion_image(300, seed=seed), vignetted_lesion(seed)):
        arr = preprocess(img, PRE)
        assert flat_share(arr) < MAX_FLAT_SHARE / 3
        assert pixel_cues(arr) == ()


def test_black_rim_is_not_counted_as_flat() -> None:
    arr = np.zeros((64, 64, 3), dtype=np.uint8)  # all black: a rim, or an unlit frame
    assert flat_share(arr) == 0.0
    assert flat_share(np.full((64, 64, 3), 150, np.uint8)) > 0.9
    # All white is burnt-out, not flat colour: the quality check speaks for it.
    assert flat_share(np.full((64, 64, 3), 255, np.uint8)) == 0.0


# End to end on the shipped LiteRT model (no TensorFlow) ------------------------------------------
def synthetic_cache(folder: Path, n: int, seed: int, size: int) -> Path:
    pre = Preprocessing(size=size)
    x = np.stack([preprocess(lesion_image(200, seed=seed + i), pre) for i in range(n)])
    y = np.arange(n) % 3
    path = folder / f"{seed}.npz"
    np.savez(path, x=x, y=y)
    return path


@pytest.fixture
def run_dir(tmp_path: Path) -> Path:
    if not SHIPPED.is_file():
        pytest.skip("no shipped model")
    run = tmp_path / "run"
    (run / "cache").mkdir(parents=True)
    shutil.copy(SHIPPED, run / "model.tflite")
    card = json.loads(SHIPPED.with_suffix(".json").read_text())
    card.pop("scope", None)  # a run whose card has no fitted scope yet
    (run / "model.json").write_text(json.dumps(card))
    copy_beside(card, SHIPPED.parent, run)
    size = ModelCard.from_dict(json.loads((run / "model.json").read_text())).input_size
    synthetic_cache(run / "cache", 90, 0, size).rename(run / "cache" / "train.npz")
    synthetic_cache(run / "cache", 40, 1000, size).rename(run / "cache" / "val.npz")
    return run


def test_fit_run_writes_a_card_the_app_loads_and_uses(run_dir: Path) -> None:
    from trainer.scope import fit_run

    before = json.loads((run_dir / "model.json").read_text())
    block = fit_run(run_dir, keep=0.95, components=8)
    after = json.loads((run_dir / "model.json").read_text())
    assert after["scope"] == block
    assert {k: v for k, v in after.items() if k != "scope"} == {
        k: v for k, v in before.items() if k != "scope"
    }
    assert block["validation_assessable_rate"] >= 0.95
    assert block["training_images"] == 90 and block["validation_images"] == 40

    clf = Classifier(run_dir / "model.tflite")
    assert clf.card.scope is not None
    lesion = clf.predict_image(lesion_image(200, seed=5000))
    assert lesion.assessable and lesion.scope_score is not None
    # Saturated colour noise: no flat areas (the pixel cue stays quiet), unlike any lesion.
    rng = np.random.default_rng(0)
    small = rng.integers(0, 256, (16, 16, 3), dtype=np.uint8)
    small[..., 0] = 0
    odd = Image.fromarray(small).resize((200, 200), Image.Resampling.BICUBIC)
    odd_arr = preprocess(odd, clf.card.preprocessing)
    assert pixel_cues(odd_arr) == ()
    pred = clf.predict_image(odd)
    assert pred.scope_score is not None and pred.scope_score > 1.0
    assert not pred.assessable and pred.scope_issues == (OUT_OF_SCOPE_REASON,)
    assert not pred.melanoma_alert and pred.cam is None and pred.cams is None


def test_fit_run_subsamples_large_training_caches_deterministically(run_dir: Path) -> None:
    from trainer.scope import fit_scope, subsample

    rows = subsample(10_000, 300)
    assert len(rows) == 300 and np.all(np.diff(rows) > 0)
    assert np.array_equal(rows, subsample(10_000, 300))
    assert np.array_equal(subsample(50, 300), np.arange(50))
    a = fit_scope(run_dir, max_train=60, components=8)
    b = fit_scope(run_dir, max_train=60, components=8)
    assert a == b and a["training_images"] == 60


def test_fit_run_refuses_a_cache_of_the_wrong_size(run_dir: Path) -> None:
    from trainer.scope import fit_run

    np.savez(run_dir / "cache" / "val.npz", x=np.zeros((3, 16, 16, 3), np.uint8), y=[0, 1, 2])
    before = (run_dir / "model.json").read_text()
    with pytest.raises(ValueError, match="val.npz"):
        fit_run(run_dir)
    assert (run_dir / "model.json").read_text() == before  # nothing half-written
