"""What the "is this dermoscopy" decision reads of an image: the descriptor of its feature maps
(mean, maximum, spread and centre per channel, averaged over the views), and how a scope block
that reads only the mean, or all of it, takes it."""

from __future__ import annotations

import json

import numpy as np
import pytest

from benchmarks.scope_fit import fit_logistic
from desktop.adapt.scope_limits import extend_scope
from desktop.descriptor import DESCRIPTOR, describe, pool
from desktop.scope import (
    DermoscopyScope,
    ScopeError,
    fit,
    judge,
    load_scope,
)

C = 5  # channels of the made-up feature maps
ARR = np.random.default_rng(9).integers(60, 200, (16, 16, 3), dtype=np.uint8)  # no pixel cue


def maps(seed: int = 0, views: int = 8) -> np.ndarray:
    return np.abs(np.random.default_rng(seed).normal(1.0, 0.7, (views, 8, 8, C)))


def test_the_descriptor_is_the_mean_then_the_spatial_statistics() -> None:
    f = maps()
    d = describe(f)
    assert d.shape == (len(DESCRIPTOR) * C,)
    np.testing.assert_array_equal(d[:C], pool(f).mean(axis=0))  # what the head reads, first
    np.testing.assert_allclose(d[C : 2 * C], f.max(axis=(1, 2)).mean(axis=0))
    np.testing.assert_allclose(d[2 * C : 3 * C], f.std(axis=(1, 2)).mean(axis=0))
    np.testing.assert_allclose(d[3 * C :], f[:, 2:6, 2:6].mean(axis=(1, 2)).mean(axis=0))
    # One map is one view.
    np.testing.assert_allclose(describe(f[0]), describe(f[:1]))
    with pytest.raises(ValueError, match="feature maps"):
        describe(np.zeros((8, C)))


def test_the_spatial_statistics_see_what_the_mean_cannot() -> None:
    """Two maps with one mean: a single hot spot against an even glow. Only the spatial parts
    tell them apart, and the centre part tells a hot spot in the middle from one at the rim."""
    even = np.ones((1, 8, 8, C))
    rim = np.zeros((1, 8, 8, C))
    rim[0, 0, 0] = 64.0
    middle = np.zeros((1, 8, 8, C))
    middle[0, 4, 4] = 64.0
    d_even, d_rim, d_mid = describe(even), describe(rim), describe(middle)
    np.testing.assert_allclose(d_even[:C], d_rim[:C])
    assert np.all(d_rim[C : 3 * C] > d_even[C : 3 * C])  # maximum and spread
    assert np.all(d_mid[3 * C :] > d_rim[3 * C :])  # the centre


def test_a_flip_or_quarter_turn_of_every_view_changes_nothing() -> None:
    f = maps(3)
    for turned in (f[:, ::-1], f[:, :, ::-1], np.rot90(f, 1, axes=(1, 2)), f.swapaxes(1, 2)):
        np.testing.assert_allclose(describe(turned), describe(f), rtol=0, atol=1e-12)


def spatial_block(seed: int = 0) -> dict:
    """A two-sided block that reads the whole descriptor: dermoscopy has a hot spot."""
    rng = np.random.default_rng(seed)
    rows, side = [], []
    for i in range(300):
        f = np.abs(rng.normal(1.0, 0.3, (2, 8, 8, C)))
        if i % 2:  # "dermoscopy": the same mean, but concentrated in the middle
            f[:, 3:5, 3:5] *= 4.0
            f *= 64 / (64 + 4 * 3)
        rows.append(describe(f))
        side.append(i % 2)
    x, y = np.array(rows), np.array(side)
    block = {**fit_logistic(x, y), "inputs": "mean+spatial"}
    score = DermoscopyScope.from_dict({**block, "threshold": 0.0}).score(x[y == 1])
    return {**block, "threshold": float(score.min()) - 0.5, "caution": float(score.min())}


def test_a_block_that_reads_the_spatial_statistics_needs_them() -> None:
    block = spatial_block()
    scope = load_scope(json.loads(json.dumps(block)))
    assert scope.inputs == "mean+spatial" and scope.dim == 4 * C
    d = describe(maps(1))
    assert np.isfinite(scope.score(d))
    with pytest.raises(ValueError, match=f"expected {4 * C} features"):
        scope.score(d[:C])  # the pooled features alone are not enough
    # The card is checked against the model's channels, four numbers per channel.
    DermoscopyScope.from_dict(block, channels=C)
    with pytest.raises(ScopeError, match="must have"):
        DermoscopyScope.from_dict({**block, "inputs": "mean"}, channels=C)
    with pytest.raises(ScopeError, match="'inputs' must be one of"):
        DermoscopyScope.from_dict({**block, "inputs": "max"})


def test_a_block_that_reads_the_mean_takes_a_whole_descriptor_or_the_pooled_features() -> None:
    """An older card (the mean only) scores the app's descriptor exactly as its pooled part."""
    rng = np.random.default_rng(2)
    x = np.abs(rng.normal(1, 0.5, (200, C)))
    y = (np.arange(200) % 2).astype(int)
    x[:, 0] += 2 * y
    block = {**fit_logistic(x, y), "threshold": 0.0}
    block["familiar"] = fit(x[y == 1], np.zeros(100, int), x[y == 1], components=2)
    scope = load_scope(block)
    d = describe(maps(4))
    assert scope.score(d) == pytest.approx(scope.score(d[:C]))
    a, b = judge(ARR, d, scope), judge(ARR, d[:C], scope)
    assert (a.score, a.distance, a.issues) == (b.score, b.distance, b.issues)
    with pytest.raises(ValueError, match="expected"):
        scope.score(d[: 2 * C])  # neither the mean nor the whole descriptor


def test_extending_a_spatial_block_for_a_clinic_takes_in_its_descriptors() -> None:
    """A clinic whose dermatoscope shows no hot spot: refused by the block, kept once extended."""
    block = spatial_block()
    scope = load_scope(block)
    rng = np.random.default_rng(7)
    clinic = np.array([describe(np.abs(rng.normal(1.0, 0.3, (2, 8, 8, C)))) for _ in range(10)])
    assert all(judge(ARR, c, scope).issues for c in clinic)
    wider = load_scope(json.loads(json.dumps(extend_scope(block, clinic))))
    assert all(judge(ARR, c, wider).issues == () for c in clinic)
    assert np.allclose(wider.score(clinic), scope.score(clinic))  # only the limits moved
    with pytest.raises(ValueError, match="expected"):
        extend_scope(block, clinic[:, :C])
