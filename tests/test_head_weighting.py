"""benchmarks.head_weighting: origin weights and per-origin alignment do what they say."""

from __future__ import annotations

import numpy as np

from benchmarks.head_weighting import aligned, origin_weights


def test_origin_weights_give_each_origin_its_share_of_the_total():
    origins = np.array(["a"] * 90 + ["b"] * 10)
    w = origin_weights(origins)
    assert np.isclose(w.mean(), 1.0)
    assert np.isclose(w[origins == "a"].sum(), w[origins == "b"].sum())
    w = origin_weights(origins, {"a": 0.2, "b": 0.8})
    assert np.isclose(w[origins == "b"].sum() / w.sum(), 0.8)


def test_alignment_removes_each_origins_own_offset_and_spread():
    rng = np.random.default_rng(0)
    origins = np.array(["a"] * 50 + ["b"] * 70)
    x = rng.normal(size=(120, 4))
    x[origins == "b"] = x[origins == "b"] * 3.0 + 5.0  # another device: shifted and stretched
    for scale in (False, True):
        z = aligned(x, origins, scale)
        for o in ("a", "b"):
            assert np.allclose(z[origins == o].mean(axis=0), 0.0, atol=1e-9)
    z = aligned(x, origins, True)
    ratio = z[origins == "b"].std(axis=0) / z[origins == "a"].std(axis=0)
    assert np.allclose(ratio, 1.0)
    z = aligned(x, origins, False)
    assert np.all(z[origins == "b"].std(axis=0) > 2 * z[origins == "a"].std(axis=0))
