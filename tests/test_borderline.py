"""benchmarks.borderline: re-takes that changed the alert, inside the band and outside it."""

from __future__ import annotations

import numpy as np
import pytest

from benchmarks.borderline import band_figures, markdown
from benchmarks.run_heads import Heads


def _probs(mel: np.ndarray) -> np.ndarray:
    return np.stack([1 - mel, mel], axis=1)


def test_flips_are_counted_per_re_take_inside_and_outside_the_band():
    """Images near the threshold flip under a small nudge, those far from it do not; the
    test-time views (mirror, quarter turn) are not re-takes here."""
    rng = np.random.default_rng(0)
    n = 400
    mel = rng.uniform(0.01, 0.99, n)
    is_mel = mel > 0.6
    nudged = np.clip(mel + rng.normal(0, 0.03, n), 0.001, 0.999)
    heads = Heads(
        probs={"blend": _probs(mel)},
        moved={"blend": {"jpeg_q40": _probs(nudged), "mirror": _probs(1 - mel)}},
        names=np.arange(n).astype(str),
        is_mel=is_mel,
        allowed=np.ones((n, 2), bool),
        mel=1,
    )
    f = band_figures(heads, "blend", band=0.25)
    assert f["images"] == n and 0 < f["images_in_band"] < n
    assert f["flips_in_band"] > 0.1 and f["flips_in_band"] > 5 * f["flips_outside"]
    table = markdown({"band_log_odds": 0.25, "sets": {"r: o": {"blend": f, "network": f}}})
    assert "| r: o |" in table and "±0.25" in table
    heads.moved["blend"] = {"mirror": _probs(mel)}
    with pytest.raises(ValueError, match="re-captures"):
        band_figures(heads, "blend")
