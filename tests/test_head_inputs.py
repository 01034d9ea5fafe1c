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


def test_the_fitting_side_holds_no_copy_of_a_held_out_image() -> None:
    """Sources share images (a HAM10000 photo is also in isic-9class, resized): a head scored on
    isic-9class held out must not be fitted on HAM10000's copy of the same ISIC id, nor on the
    same file under another name; every other row stays on the fitting side."""
    import numpy as np

    from benchmarks.heads import held_out

    names = ["ISIC_0000001.jpg", "ISIC_0000002.jpg", "ISIC_0000001.jpg", "x.jpg", "y.jpg", "z.jpg"]
    origins = ["isic-9class", "isic-9class", "rosendahl", "rosendahl", "isic2017", "isic2017"]
    hashes = ["a", "b", "c", "d", "b", "e"]  # y.jpg: the same bytes as isic-9class's second
    rows = {
        "classes": np.array(["melanoma", "nevus"]),
        "names": np.array(names),
        "origins": np.array(origins),
        "labels": np.array(["melanoma", "nevus"] * 3),
        "groups": np.array([f"g{i}" for i in range(6)]),
        "hashes": np.array(hashes),
    }
    h = held_out(rows, "isic-9class")
    assert h.te.tolist() == [True, True, False, False, False, False]
    assert h.tr.tolist() == [False, False, False, True, False, True]
