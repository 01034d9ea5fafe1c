"""benchmarks.head_inputs: which parts of the descriptor a refitted head reads, and the table."""

from __future__ import annotations

import numpy as np
import pytest

from benchmarks.head_inputs import _inputs, markdown, summary


def test_extra_parts_are_standardised_on_the_fitting_rows_only() -> None:
    rng = np.random.default_rng(0)
    c = 3
    d = np.hstack([rng.normal(1, 0.5, (40, c)), rng.normal(50, 10, (40, 3 * c))])
    fitting = np.arange(40) < 30
    assert np.array_equal(_inputs(d, (0,), fitting), d[:, :c])  # the pooled features as they are
    x = _inputs(d, (0, 1), fitting)
    assert x.shape == (40, 2 * c)
    spread = d[fitting, :c].std(0).mean()
    assert np.allclose(x[fitting].mean(0), 0) and np.allclose(x[fitting].std(0), spread)
    assert not np.allclose(x[~fitting].mean(0), 0)  # held-out rows are not re-centred
    # the same affine map for held-out rows: their order and spacing are kept
    assert np.allclose(np.corrcoef(x[~fitting, c], d[~fitting, c])[0, 1], 1.0)


def _fig(auc: float, bacc: float = 0.5) -> dict:
    return {"melanoma_roc_auc": auc, "balanced_accuracy": bacc}


def test_the_summary_is_the_mean_and_the_worst_held_out_origin() -> None:
    per = {
        "a": {"images": 10, "melanomas": 4, "mean": _fig(0.7, 0.4), "all": _fig(0.8)},
        "b": {"images": 10, "melanomas": 2, "mean": _fig(0.6, 0.6), "all": _fig(0.5)},
    }
    s = summary(per)
    assert s["mean"]["mean_melanoma_roc_auc"] == pytest.approx(0.65)
    assert s["all"]["worst_melanoma_roc_auc"] == pytest.approx(0.5)
    assert s["mean"]["mean_balanced_accuracy"] == pytest.approx(0.5)
    table = markdown({"origins": per, "summary": s})
    assert "| a (4) | 0.700 | 0.800 |" in table and "| **worst** | 0.600 | 0.500 |" in table
