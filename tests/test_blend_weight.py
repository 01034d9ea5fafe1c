"""benchmarks.blend_weight and run_heads.Parts: the network's share of the blended logits."""

from __future__ import annotations

import numpy as np
import pytest

from benchmarks.blend_weight import SHARES, markdown, summary
from benchmarks.recapture_features import NAME
from benchmarks.run_heads import NETWORK_SHARE, Parts, head_figures, held_out_runs
from desktop.head import softmax


def _parts(rng, n: int = 40) -> Parts:
    def logits():
        return {k: rng.normal(size=(n, 3)) for k in ("", "jpeg", "blur")}

    return Parts(
        network=logits(),
        refit=logits(),
        names=np.array([f"i{k}" for k in range(n)]),
        is_mel=np.arange(n) % 3 == 0,
        allowed=np.eye(3, dtype=bool)[np.arange(n) % 3],
        mel=0,
    )


def test_shares_mix_the_two_halves_logits_on_originals_and_recaptures():
    p = _parts(np.random.default_rng(0))
    h = p.heads({"net": 1.0, "refit": 0.0, "quarter": 0.25} | NETWORK_SHARE)
    assert np.allclose(h.probs["net"], softmax(p.network[""]))
    assert np.allclose(h.probs["refit"], softmax(p.refit[""]))
    assert np.allclose(h.probs["network"], h.probs["net"])
    assert np.allclose(h.probs["blend"], softmax((p.network[""] + p.refit[""]) / 2))
    assert sorted(h.moved["quarter"]) == ["blur", "jpeg"]  # the originals are not a re-capture
    assert np.allclose(
        h.moved["quarter"]["jpeg"], softmax(0.25 * p.network["jpeg"] + 0.75 * p.refit["jpeg"])
    )
    fig = head_figures(h)
    assert fig["quarter"]["worst_recapture"]["alert_flips_under"] in ("jpeg", "blur")


def test_runs_are_the_held_out_runs_with_their_recaptures_and_a_model(tmp_path):
    for name, model, rec in (
        ("a-holdout-vidir_modern", True, True),
        ("b-holdout-isic-9class", True, False),  # no re-captures: AUC only would skew the mean
        ("c-holdout-rosendahl", False, True),  # features without the model they came from
        ("shipped", True, True),  # not a held-out run
        ("holdout-vienna_dias", True, True),  # the shipped recipe's own held-out run
        ("xholdout-isic2017", True, True),  # neither naming
    ):
        (tmp_path / "runs" / "features" / name).mkdir(parents=True)
        (tmp_path / "runs" / "features" / name / "rows.npz").write_bytes(b"")
        if rec:
            (tmp_path / "runs" / "features" / name / NAME).write_bytes(b"")
        if model:
            (tmp_path / "runs" / name).mkdir(parents=True)
            (tmp_path / "runs" / name / "model.tflite").write_bytes(b"")
    assert held_out_runs(tmp_path, NAME) == [
        ("a-holdout-vidir_modern", "vidir_modern"),
        ("holdout-vienna_dias", "vienna_dias"),
    ]
    assert held_out_runs(tmp_path) == [  # what needs feature rows only (pseudo_labels)
        ("a-holdout-vidir_modern", "vidir_modern"),
        ("b-holdout-isic-9class", "isic-9class"),
        ("holdout-vienna_dias", "vienna_dias"),
    ]


def _entry(auc, flips=None, changes=None):
    e = {"melanoma_roc_auc": auc}
    if flips is not None:
        e["worst_recapture"] = {"alert_flips": flips, "class_changes": changes}
    return e


def test_summary_takes_mean_and_worst_over_sets_and_recaptures_where_they_exist():
    sets = {
        "r: o": {f"{s:.2f}": _entry(0.7 + s / 10, 0.10 - s / 20, 0.2) for s in SHARES},
        "r: isic2020": {f"{s:.2f}": _entry(0.6 - s / 10) for s in SHARES},
        "q: o": {f"{s:.2f}": _entry(0.8, 0.02, 0.4) for s in SHARES},
    }
    s = summary(sets)
    assert s["1.00"]["mean_auc"] == pytest.approx((0.8 + 0.5 + 0.8) / 3, abs=1e-4)
    assert s["1.00"]["worst_auc"] == pytest.approx(0.5)
    assert s["0.00"]["worst_alert_flips"] == pytest.approx(0.10)
    assert s["1.00"]["mean_alert_flips"] == pytest.approx((0.05 + 0.02) / 2)
    assert s["0.50"]["worst_class_changes"] == pytest.approx(0.4)
    assert s["0.50"]["sets"] == 3 and s["0.50"]["sets_with_recaptures"] == 2
    table = markdown({"summary": s, "runs": ["r", "q"]})
    assert "| **0.50 (shipped)** |" in table and "| 0.25 |" in table
    assert "| 1.00 | 0.700 / 0.500 | 3.5 % / 5.0 % | 30.0 % / 40.0 % |" in table
