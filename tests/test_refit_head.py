"""benchmarks.refit_head: what the card says about sources kept out of training."""

from __future__ import annotations

from benchmarks.refit_head import out_of_source


def _held(images: int, sens: float, spec: float, auc: float) -> dict:
    h = {"images": images, "sensitivity": sens, "specificity": spec, "roc_auc": auc}
    h |= {"accuracy": 0.5, "balanced_accuracy": 0.4}
    return {"blend": {"holdout": h}, "refit": {"holdout": {**h, "sensitivity": 0.0}}}


def test_out_of_source_is_the_mean_over_every_held_out_origin_with_its_worst():
    held = {"b-clinic": _held(100, 0.9, 0.3, 0.7), "a-clinic": _held(300, 0.7, 0.5, 0.6)}
    oos = out_of_source(held, "blend")
    assert oos["origins"] == ["a-clinic", "b-clinic"]
    assert oos["images"] == 400
    assert oos["melanoma_sensitivity"] == 0.8 and oos["melanoma_specificity"] == 0.4
    assert oos["worst_melanoma_sensitivity"] == 0.7 and oos["worst_melanoma_roc_auc"] == 0.6
    assert "2 origins" in oos["source"]
    assert out_of_source(held, "refit")["melanoma_sensitivity"] == 0.0  # the shipped head's
