"""The scope's gate: an image the lesion model alone places inside dermoscopy is assessable
without the general network, which then does not run; below the gate, the full decision rules."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from benchmarks.scope_gate import MARGIN, limit_over, measure, passed_out_of_fold
from benchmarks.scope_sides import CLINICAL, FOLDS, PICTURE, Sides, negative_folds
from desktop.card import CardError, ModelCard
from desktop.descriptor import DESCRIPTOR
from desktop.imaging import preprocess
from desktop.inference import Classifier
from desktop.scope import OUT_OF_SCOPE_REASON, DermoscopyScope, ScopeError, judge
from tests.general_card import FEATURES, assets_with, card_data, general_scope, image


def _gate(channels: int, bias: float, threshold: float = 1.0) -> dict:
    """A gate on the lesion descriptor whose score is ``bias`` for every image."""
    dim = channels * len(DESCRIPTOR)
    return {
        "method": "dermoscopy-vs-other-logistic",
        "inputs": "mean+spatial",
        "mean": [0.0] * dim,
        "scale": [1.0] * dim,
        "weights": [0.0] * dim,
        "bias": bias,
        "threshold": threshold,
    }


def _model(folder: Path, tiny_general, gate_bias: float, scope_bias: float) -> Path:
    """The tiny-network card with a scope scoring ``scope_bias`` (limit -1) and a gate scoring
    ``gate_bias`` (limit 1) for every image."""
    model = assets_with(folder, tiny_general)
    data = json.loads((folder / "model.json").read_text(encoding="utf-8"))
    scope = {**general_scope(data), "bias": scope_bias}
    scope["gate"] = _gate(len(data["cam"]["weights"]), gate_bias)
    data["scope"] = scope
    (folder / "model.json").write_text(json.dumps(data), encoding="utf-8")
    return model


class Untouchable:
    """A general network that must not run."""

    def __init__(self, spec) -> None:  # noqa: ANN001
        self.spec = spec

    def features(self, stack: np.ndarray) -> np.ndarray:
        raise AssertionError("the general network ran behind an open gate")


def test_an_open_gate_keeps_the_image_without_running_the_general_network(
    tmp_path: Path, tiny_general
) -> None:
    clf = Classifier(_model(tmp_path, tiny_general, gate_bias=5.0, scope_bias=-5.0))
    width = len(clf.card.cam_weights) * len(DESCRIPTOR)
    full = clf.views(preprocess(image(), clf.card.preprocessing), full=True)
    assert full.descriptor.shape == (width + FEATURES,)  # fits and adapt still get them all
    clf.general = Untouchable(clf.general.spec)
    arr = preprocess(image(), clf.card.preprocessing)
    out = clf.views(arr)
    assert out.descriptor.shape == (width,)
    np.testing.assert_allclose(out.probabilities, full.probabilities)
    pred = clf.predict_image(image())
    # the full decision alone would refuse (score -5 under -1): the gate keeps it
    assert pred.scope_issues == () and pred.dermoscopy_score is None
    assert judge(arr, full.descriptor, clf.card.scope).issues == ()


def test_a_closed_gate_runs_the_general_network_and_the_full_decision_rules(
    tmp_path: Path, tiny_general
) -> None:
    clf = Classifier(_model(tmp_path, tiny_general, gate_bias=0.0, scope_bias=-5.0))
    width = len(clf.card.cam_weights) * len(DESCRIPTOR)
    arr = preprocess(image(), clf.card.preprocessing)
    assert clf.views(arr).descriptor.shape == (width + FEATURES,)
    pred = clf.predict_image(image())
    assert pred.scope_issues == (OUT_OF_SCOPE_REASON,) and pred.dermoscopy_score == -5.0
    # a descriptor without the general features cannot be judged below the gate
    with pytest.raises(ValueError, match="with the general network"):
        judge(arr, clf.views(arr).descriptor[:width], clf.card.scope)
    kept = Classifier(_model(tmp_path / "kept", tiny_general, gate_bias=0.0, scope_bias=0.0))
    assert kept.predict_image(image()).scope_issues == ()


def test_the_card_checks_the_gate(tiny_general) -> None:
    data = card_data()
    channels = len(data["cam"]["weights"])
    data["general"] = tiny_general[1]
    scope = general_scope(data)
    ok = DermoscopyScope.from_dict({**scope, "gate": _gate(channels, 2.0)}, channels=channels)
    assert ok.gate is not None and ok.gated(np.zeros(ok.dim))
    shut = DermoscopyScope.from_dict({**scope, "gate": _gate(channels, 0.0)}, channels=channels)
    assert not shut.gated(np.zeros(ok.dim)) and not DermoscopyScope.from_dict(scope).gated(0)
    reads_general = {**scope, "threshold": 0.0}
    for bad, words in (
        ({**_gate(channels, 2.0), "threshold": "high"}, "'gate': scope 'threshold'"),
        ({**_gate(channels, 2.0), "mean": [0.0] * 3}, "'gate'"),
        (reads_general, "lesion model only"),
    ):
        with pytest.raises(ScopeError, match=words):
            DermoscopyScope.from_dict({**scope, "gate": bad}, channels=channels)
    plain = {**_gate(channels, 0.0), "threshold": -1.0, "gate": _gate(channels, 2.0)}
    with pytest.raises(ScopeError, match="only for a scope that reads a general network"):
        DermoscopyScope.from_dict(plain, channels=channels)
    data["scope"] = {**scope, "gate": {**_gate(channels, 2.0), "bias": None}}
    with pytest.raises(CardError, match="gate"):
        ModelCard.from_dict(data)


def test_the_model_card_says_where_the_general_network_is_read(tiny_general) -> None:
    from desktop import verdict

    data = card_data()
    data["general"] = tiny_general[1]
    data["scope"] = general_scope(data)
    always = verdict.scope_note(ModelCard.from_dict(data))
    data["scope"]["gate"] = _gate(len(data["cam"]["weights"]), 2.0)
    gated = verdict.scope_note(ModelCard.from_dict(data))
    assert "To decide, it also reads a general-purpose image network" in always
    assert "Where the lesion model alone is not already sure an image is dermoscopy" in gated
    assert "not already sure" not in always


def _sides(n_pos: int = 60, n_neg: int = 50) -> Sides:
    origin = np.array(["a"] * (n_pos // 2) + ["b"] * (n_pos - n_pos // 2) + [CLINICAL] * n_neg)
    origin[-10:] = PICTURE + "text"
    n = len(origin)
    return Sides(
        x=np.zeros((n, 2)),
        y=(np.arange(n) < n_pos).astype(int),
        origin=origin,
        group=np.array([f"g{i % 25}" for i in range(n)]),
        name=np.array([f"n{i}" for i in range(n)]),
        melanoma=np.arange(n) % 7 == 0,
        alert=np.zeros(n, dtype=bool),
    )


def test_the_gate_limit_lies_above_every_negative_the_pixels_leave_open() -> None:
    s = _sides()
    rng = np.random.default_rng(0)
    neg = np.where(s.y == 0, rng.normal(-5.0, 1.0, len(s.y)), np.nan)
    pixels = np.zeros(len(s.y), dtype=bool)
    outlier = int(np.flatnonzero(s.origin == CLINICAL)[3])
    neg[outlier] = 20.0  # one photo the lesion model alone takes for dermoscopy
    pixels[-1], neg[-1] = True, 50.0  # a picture the pixel cues refuse anyway
    held = {"a": np.linspace(0.0, 30.0, 30), "b": np.linspace(-10.0, 10.0, 30)}
    limit, negatives, dermoscopy = measure(s, held, neg, pixels)
    assert limit == pytest.approx(20.0 + MARGIN)  # the refused picture does not count
    # out of fold, the outlier's limit comes from the other folds, so it passes: counted
    assert negatives[CLINICAL] == {"images": 40, "passed": 1}
    assert negatives["non-skin pictures"] == {"images": 10, "passed": 0}
    assert dermoscopy["a"]["passed"] == pytest.approx(np.mean(held["a"] >= limit))
    assert dermoscopy["b"]["passed"] == 0.0
    assert limit_over(np.array([1.0, 3.0])) == 3.0 + MARGIN


def test_each_folds_limit_comes_from_the_other_folds() -> None:
    s = _sides()
    fold = negative_folds(s)
    # each fold scores its own number, 3 apart: only the top fold lies over the others + margin
    neg = np.where(s.y == 0, 3.0 * fold, np.nan)
    open_to = s.y == 0
    passed = passed_out_of_fold(s, neg, open_to)
    assert set(fold[open_to].tolist()) == set(range(FOLDS))
    assert passed.tolist() == (fold == FOLDS - 1).tolist()
    # with the top fold refused by pixels it cannot raise the others' limits, nor pass
    open_to &= fold != FOLDS - 1
    passed = passed_out_of_fold(s, neg, open_to)
    assert passed.tolist() == (fold == FOLDS - 2).tolist()
