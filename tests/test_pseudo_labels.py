"""benchmarks.pseudo_labels: the halves, the pseudo-labels and the summary."""

from __future__ import annotations

import numpy as np
import pytest

from benchmarks.pseudo_labels import VARIANTS, halves, markdown, pool_weight, pseudo, summary


def test_halves_keep_every_group_on_one_side_and_split_the_groups_evenly():
    groups = np.array([f"g{k // 3}" for k in range(300)])  # 100 groups of three
    side = halves(groups)
    for g in np.unique(groups):
        assert len(set(side[groups == g])) == 1
    assert set(side) == {0, 1}
    assert abs(int(side.sum()) - 150) <= 3  # 50 groups of three a side
    assert np.array_equal(side, halves(groups))  # seeded
    assert not np.array_equal(side, halves(groups, seed=1))


def test_confident_classes_takes_each_called_class_most_sure_share():
    rng = np.random.default_rng(0)
    p = rng.random((200, 3))
    p /= p.sum(1, keepdims=True)
    rows, allowed = pseudo(p, 0, "confident classes", share=0.25)
    called = p.argmax(1)
    assert np.array_equal(allowed, np.eye(3, dtype=bool)[called[rows]])
    for c in range(3):
        mine = np.flatnonzero(called == c)
        taken = rows[called[rows] == c]
        assert len(taken) == round(0.25 * len(mine))
        rest = np.setdiff1d(mine, taken)
        assert p[taken, c].min() >= p[rest, c].max()  # the most sure of those called c


def test_surely_benign_labels_the_least_melanoma_like_not_melanoma_only():
    p = np.array([[0.9, 0.1], [0.05, 0.95], [0.5, 0.5], [0.2, 0.8]])
    rows, allowed = pseudo(p, 0, "surely benign", share=0.5)
    assert sorted(rows.tolist()) == [1, 3]
    assert allowed.tolist() == [[False, True], [False, True]]  # partial: anything but melanoma
    with pytest.raises(ValueError, match="unknown"):
        pseudo(p, 0, "guess")


def test_pool_weight_gives_the_pseudo_labels_the_other_origins_weight_or_one_each():
    assert pool_weight(6, 2, "x1").tolist() == [1.0] * 8
    w = pool_weight(6, 2, "as others")
    assert w[:6].sum() == pytest.approx(w[6:].sum()) and w[6] == pytest.approx(3.0)
    with pytest.raises(ValueError, match="unknown"):
        pool_weight(6, 2, "double")


def test_summary_and_table_compare_each_variant_with_no_pseudo_labels():
    assert VARIANTS[0] == "none" and len(VARIANTS) == 5
    conf, benign = VARIANTS[1], VARIANTS[3]

    def e(none, c, b):
        aucs = {v: none for v in VARIANTS} | {conf: c, benign: b}
        return {"melanomas": 10} | {
            v: {"melanoma_roc_auc": a, "balanced_accuracy": 0.5} for v, a in aucs.items()
        }

    sets = {"r: o": e(0.70, 0.72, 0.69), "q: p": e(0.60, 0.58, 0.63)}
    s = summary(sets)
    assert s[conf]["mean_change"] == pytest.approx(0.0)
    assert s[benign]["mean_change"] == pytest.approx(0.01)
    assert s[benign]["sets_raised"] == 1 and s["none"]["sets_raised"] == 0
    assert s[conf]["worst_auc"] == pytest.approx(0.58)
    table = markdown({"sets": sets, "summary": s})
    assert "| r: o (10) | 0.700 | 0.720 | 0.700 | 0.690 | 0.700 |" in table
    assert "+0.010 (1)" in table
