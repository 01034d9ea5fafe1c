"""The two-sided "is this dermoscopy" decision: fit, limits, card block, outcomes, extension.

All data is made here: Gaussian "features" of dermoscopy origins and of other pictures, and
the shipped LiteRT model only where the app's own path (views, flips) is the point.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image

from benchmarks.scope_fit import fit_logistic
from desktop import verdict
from desktop.adapt.scope_limits import extend_scope
from desktop.card import CardError, ModelCard
from desktop.imaging import preprocess
from desktop.inference import Classifier
from desktop.prediction import Prediction
from desktop.scope import (
    OUT_OF_SCOPE_REASON,
    TWO_SIDED,
    TWO_SIDED_METHODS,
    DermoscopyScope,
    ScopeError,
    ScopeModel,
    fit,
    judge,
    load_scope,
)
from tests.fakes import ISIC_CLASSES, card_dict, lesion_image, probs_for

ROOT = Path(__file__).resolve().parent.parent
SHIPPED = ROOT / "assets" / "model.tflite"
DIM = 4  # the fake card's feature channels
MEL = ISIC_CLASSES.index("melanoma")


def sides(n: int = 600, dim: int = DIM, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Positives around +2 in the first feature, negatives around -2; the rest is noise."""
    rng = np.random.default_rng(seed)
    y = (np.arange(n) % 2).astype(int)
    x = np.abs(rng.normal(1.0, 0.5, (n, dim)))  # pooled features are not negative
    x[:, 0] = np.where(y == 1, 4.0, 0.2) + rng.normal(0, 0.4, n).clip(-0.15, None)
    return x, y


def two_sided_block(dim: int = DIM, familiar: bool = True) -> dict[str, Any]:
    x, y = sides(dim=dim)
    block = fit_logistic(x, y)
    model = DermoscopyScope.from_dict({**block, "threshold": 0.0})
    pos = model.score(x[y == 1])
    block.update(
        threshold=float(np.quantile(pos, 0.01)) - 1.0, caution=float(np.quantile(pos, 0.05))
    )
    if familiar:
        rng = np.random.default_rng(1)
        feats = x[y == 1]
        labels = rng.integers(0, 2, len(feats))
        block["familiar"] = fit(feats, labels, feats, components=min(2, dim - 1))
    return block


# Fit -------------------------------------------------------------------------------------------
def test_two_sided_fit_separates_the_sides() -> None:
    x, y = sides()
    model = DermoscopyScope.from_dict({**fit_logistic(x, y), "threshold": 0.0})
    fresh, truth = sides(seed=7)
    s = model.score(fresh)
    assert np.mean(s[truth == 1] >= 0) > 0.98 and np.mean(s[truth == 0] < 0) > 0.98
    assert s[truth == 1].min() > s[truth == 0].max() - 1.0  # the sides barely overlap


def test_fit_weights_move_the_boundary() -> None:
    """Weighting one side up pushes the boundary towards the other (weights are used)."""
    x, y = sides(seed=3)
    x[:, 0] = np.random.default_rng(0).normal(0, 1, len(y)) + y * 0.5  # overlapping sides
    even = DermoscopyScope.from_dict({**fit_logistic(x, y), "threshold": 0.0})
    heavy = np.where(y == 0, 5.0, 1.0)
    neg = DermoscopyScope.from_dict({**fit_logistic(x, y, heavy), "threshold": 0.0})
    assert np.mean(neg.score(x) >= 0) < np.mean(even.score(x) >= 0) - 0.1


def test_fit_needs_both_sides() -> None:
    x, y = sides()
    with pytest.raises(ValueError, match="both sides"):
        fit_logistic(x, np.ones_like(y))
    with pytest.raises(ValueError):
        fit_logistic(x[:, :2], y[:-1])


@pytest.mark.parametrize("method", ["dermoscopy-vs-other-logistic", "dermoscopy-vs-other-mlp"])
def test_leave_one_origin_out_limit_keeps_every_held_out_origin(method: str) -> None:
    """The benchmark's limit keeps >= 99 % of each left-out origin and of its melanomas,
    even an origin shifted away from all others (another dermatoscope)."""
    from benchmarks import scope as bench

    rng = np.random.default_rng(0)
    parts = []
    for k, shift in enumerate((0.0, 0.3, -0.3, 1.2)):  # the last origin lies apart
        x = np.abs(rng.normal(1, 0.5, (150, DIM)))
        x[:, 0] = 4 + shift + rng.normal(0, 0.4, 150)
        parts.append((x, np.ones(150, int), f"o{k}", rng.random(150) < 0.2))
    neg = np.abs(rng.normal(1, 0.5, (300, DIM)))
    neg[:, 0] = np.abs(rng.normal(0.3, 0.3, 300))
    parts.append((neg, np.zeros(300, int), bench.CLINICAL, np.zeros(300, bool)))
    s = bench.Sides(
        x=np.vstack([p[0] for p in parts]),
        y=np.concatenate([p[1] for p in parts]),
        origin=np.concatenate([[p[2]] * len(p[1]) for p in parts]),
        group=np.array([f"g{i % 30}" for i in range(sum(len(p[1]) for p in parts))]),
        name=np.array([f"img{i}" for i in range(sum(len(p[1]) for p in parts))]),
        melanoma=np.concatenate([p[3] for p in parts]),
        alert=np.zeros(sum(len(p[1]) for p in parts), bool),
    )
    fit, _ = bench.fitter(method)
    block, scores, per = bench.fit_two_sided(s, None, fit, {})
    assert set(scores) == {"o0", "o1", "o2", "o3"}
    for o, sc in scores.items():
        mel = s.melanoma[s.origin == o]
        assert np.mean(sc >= block["threshold"]) >= 0.99
        assert np.mean(sc[mel] >= block["threshold"]) >= 0.99
        assert block["threshold"] <= per[o] - bench.MARGIN + 1e-12
    assert block["held_out_assessable_rate"] >= 0.99
    assert block["caution"] >= block["threshold"]
    oof = bench.out_of_fold(s, fit)
    neg_rows = s.y == 0
    assert np.all(np.isfinite(oof["score"][neg_rows])) and np.all(np.isnan(oof["score"][~neg_rows]))
    assert np.mean(oof["score"][neg_rows] < oof["threshold"][neg_rows]) > 0.9


# The card's block ------------------------------------------------------------------------------
def test_card_with_a_two_sided_scope_loads_it() -> None:
    block = two_sided_block()
    card = ModelCard.from_dict({**card_dict(), "scope": json.loads(json.dumps(block))})
    assert isinstance(card.scope, DermoscopyScope)
    assert card.scope.threshold == pytest.approx(block["threshold"])
    assert isinstance(card.scope.familiar, ScopeModel)


def _broken(change: str) -> dict[str, Any]:
    block = two_sided_block()
    if change == "weights":
        block["weights"] = block["weights"][:-1]
    elif change == "dims":
        for key in ("mean", "scale", "weights"):
            block[key] = block[key] + [1.0]  # 5 features, the model has 4
    elif change == "scale":
        block["scale"][0] = 0.0
    elif change == "bias":
        block["bias"] = float("nan")
    elif change == "caution":
        block["caution"] = block["threshold"] - 1.0
    elif change == "transform":
        block["transform"] = "log"
    elif change == "familiar":
        block["familiar"]["variances"] = [-1.0] * len(block["familiar"]["variances"])
    elif change == "threshold":
        block["threshold"] = "low"
    elif change == "rate":
        block["held_out_assessable_rate"] = 2.0
    elif change == "clinical":
        block["clinical_photos_refused"] = -0.1
    return {**card_dict(), "scope": block}


@pytest.mark.parametrize(
    "change",
    [
        "weights",
        "dims",
        "scale",
        "bias",
        "caution",
        "transform",
        "familiar",
        "threshold",
        "rate",
        "clinical",
    ],
)
def test_a_malformed_two_sided_block_is_a_card_error(change: str) -> None:
    with pytest.raises(CardError, match="scope"):
        ModelCard.from_dict(_broken(change))


def test_scope_error_names_the_two_sided_field() -> None:
    block = two_sided_block()
    block["scale"] = [1.0, -1.0, 1.0, 1.0]
    with pytest.raises(ScopeError, match="scale"):
        load_scope(block)
    assert isinstance(load_scope(two_sided_block()), DermoscopyScope)


# Outcomes --------------------------------------------------------------------------------------
ARR = preprocess(lesion_image(64), ModelCard.from_dict(card_dict()).preprocessing)


def test_judge_refuses_cautions_or_passes() -> None:
    scope = load_scope(two_sided_block())
    x, y = sides(seed=11)
    pos, neg = x[y == 1], x[y == 0]
    typical = pos[np.argmax(scope.score(pos))]
    found = judge(ARR, typical, scope)
    assert found.issues == () and found.cautions == () and found.score >= scope.caution
    found = judge(ARR, neg[0], scope)
    assert found.issues == (OUT_OF_SCOPE_REASON,) and found.cautions == ()
    # Between the refusal and the caution limit: assessed, with the caution.
    between = typical.copy()
    lo, hi = 0.0, 1.0
    for _ in range(60):  # walk towards a negative until the score lies inside the band
        mid = (lo + hi) / 2
        between = typical * (1 - mid) + neg[0] * mid
        s = float(scope.score(between))
        if s >= scope.caution:
            lo = mid
        elif s < scope.threshold:
            hi = mid
        else:
            break
    found = judge(ARR, between, scope)
    assert found.issues == () and found.cautions == (verdict.UNFAMILIAR_CAUTION,)


def test_far_from_the_training_images_is_a_caution_not_a_refusal() -> None:
    """The one-sided distance, over its limit, no longer refuses a dermoscopy-like image."""
    block = two_sided_block()
    scope = load_scope(block)
    x, y = sides(seed=11)
    typical = x[y == 1][np.argmax(scope.score(x[y == 1]))].copy()
    typical[1:] += 30.0  # far from every training image along the other features
    assert scope.familiar.distance(typical) > scope.familiar.threshold
    scope = DermoscopyScope.from_dict({**block, "weights": [block["weights"][0], 0.0, 0.0, 0.0]})
    found = judge(ARR, typical, scope)
    assert found.issues == () and found.cautions == (verdict.UNFAMILIAR_CAUTION,)
    assert found.distance is not None and found.distance > 1.0
    # An older card, with the distance alone, still refuses the same image.
    assert judge(ARR, typical, scope.familiar).issues == (OUT_OF_SCOPE_REASON,)


def prediction(cautions=(), scope=()) -> Prediction:
    return Prediction(
        classes=ISIC_CLASSES,
        probabilities=np.asarray(probs_for(ISIC_CLASSES, melanoma=0.7), dtype=np.float64),
        melanoma_index=MEL,
        melanoma_threshold=0.3,
        min_top_probability=0.5,
        scope_issues=tuple(scope),
        cautions=tuple(cautions),
    )


def test_caution_keeps_class_and_alert_and_refusal_has_none() -> None:
    card = ModelCard.from_dict(card_dict(threshold=0.3, min_top=0.5))
    cautioned = prediction(cautions=(verdict.UNFAMILIAR_CAUTION,))
    assert cautioned.assessable and cautioned.melanoma_alert and cautioned.label == "melanoma"
    record = verdict.prediction_record(cautioned)
    assert record["cautions"] == [verdict.UNFAMILIAR_CAUTION] and record["label"] == "melanoma"
    assert record["melanoma_alert"] is True
    said = verdict.verdict_for(cautioned, card)
    assert said.level == verdict.ALERT and said.role == verdict.DANGER
    assert "less reliable" in said.text and verdict.UNFAMILIAR_CAUTION in said.reasons

    refused = prediction(scope=(OUT_OF_SCOPE_REASON,))
    assert not refused.assessable and not refused.melanoma_alert
    record = verdict.prediction_record(refused)
    assert record["label"] is None and record["probabilities"] is None
    assert record["cautions"] == []
    said = verdict.verdict_for(refused, card)
    assert said.level == verdict.CANNOT_ASSESS and said.top_class is None
    assert said.headline == verdict.NOT_DERMOSCOPY_HEADLINE


def test_a_plain_result_with_a_caution_becomes_a_caution_verdict() -> None:
    card = ModelCard.from_dict(card_dict(threshold=0.3, min_top=0.5))
    plain = Prediction(
        classes=ISIC_CLASSES,
        probabilities=np.asarray(probs_for(ISIC_CLASSES, nevus=0.9), dtype=np.float64),
        melanoma_index=MEL,
        melanoma_threshold=0.3,
        min_top_probability=0.5,
        cautions=(verdict.UNFAMILIAR_CAUTION,),
    )
    said = verdict.verdict_for(plain, card)
    assert said.level == verdict.NO_ALERT and said.role == verdict.CAUTION
    assert said.lines[0].startswith("This image is unlike")  # the window's banner shows it
    assert said.top_class == "nevus" and verdict.is_uncertain(plain)


# Extension for a clinic ------------------------------------------------------------------------
def test_extend_scope_takes_in_the_clinic_images_and_moves_only_the_limits() -> None:
    block = two_sided_block()
    scope = load_scope(block)
    x, y = sides(seed=5)
    clinic = x[y == 1][:20].copy()
    clinic[:, 0] = 0.6  # a dermatoscope the fit has not seen: these score low
    clinic[:, 1] += 20.0  # and lie far from the training images
    assert not all(judge(ARR, c, scope).issues == () for c in clinic)
    wider = extend_scope(block, clinic)
    new = load_scope(json.loads(json.dumps(wider)))
    for c in clinic:
        found = judge(ARR, c, new)
        assert found.issues == () and found.cautions == ()
    # Same decision function; only the limits moved, just far enough.
    assert np.allclose(new.score(x), scope.score(x))
    assert new.threshold <= float(scope.score(clinic).min()) < new.threshold + 1e-3
    assert wider["extended"]["images"] == 20
    assert wider["extended"]["previous_threshold"] == block["threshold"]
    assert block == two_sided_block()  # the given block is not changed
    # A lowered limit refuses fewer clinical photos: the measured share no longer holds.
    measured = {**block, "clinical_photos_refused": 0.68}
    assert "clinical_photos_refused" not in extend_scope(measured, clinic)
    inside = x[y == 1][scope.score(x[y == 1]) > scope.caution + 1][:10]
    assert extend_scope(measured, inside)["clinical_photos_refused"] == 0.68


def test_extend_scope_changes_nothing_for_images_already_in_scope() -> None:
    block = two_sided_block()
    x, y = sides(seed=5)
    scope = load_scope(block)
    inside = x[y == 1][scope.score(x[y == 1]) > scope.caution + 1][:10]
    wider = extend_scope(block, inside)
    assert {k: v for k, v in wider.items() if k != "extended"} == block


def test_extend_scope_also_widens_an_older_one_sided_block() -> None:
    block = two_sided_block()["familiar"]
    far = np.asarray(block["means"])[:1] + 50.0
    wider = extend_scope(block, far)
    assert judge(ARR, far[0], load_scope(wider)).issues == ()
    with pytest.raises(ValueError):
        extend_scope(block, np.zeros((2, DIM + 1)))


# The app's path: a flip cannot change the decision ---------------------------------------------
@pytest.fixture(scope="module")
def shipped() -> Classifier:
    if not SHIPPED.is_file():
        pytest.skip("no shipped model")
    return Classifier(SHIPPED)


@pytest.mark.parametrize("inputs", ["mean", "mean+spatial"])
def test_mirror_or_rotation_cannot_change_the_scope_decision(
    shipped: Classifier, inputs: str
) -> None:
    """The score is taken on view-averaged statistics of the feature map: a flipped or turned
    photo gets the same score, so a limit placed right at it (the hardest case) decides all of
    them alike. Also for the spatial maximum, spread and centre."""
    arr = preprocess(lesion_image(200, seed=3), shipped.card.preprocessing)
    out = shipped.views(arr)
    lesion = len(shipped.card.cam_weights) * 4  # before any general network's features
    base = out.pooled if inputs == "mean" else out.descriptor[:lesion]
    rng = np.random.default_rng(0)
    dim = len(base)
    block = {
        "method": TWO_SIDED,
        "inputs": inputs,
        "transform": "sqrt",
        "mean": [0.0] * dim,
        "scale": [1.0] * dim,
        "weights": rng.normal(0, 1, dim).tolist(),
        "bias": 0.0,
    }
    at = float(DermoscopyScope.from_dict({**block, "threshold": 0.0}).score(base))
    block.update(threshold=at - 1e-6, caution=at - 1e-6)
    card = ModelCard.from_dict({**shipped.card.raw, "scope": block})
    clf = Classifier(SHIPPED, card=card)
    turned = [arr, arr[:, ::-1], arr[::-1], np.rot90(arr), np.rot90(arr, 2), np.rot90(arr, 3)]
    preds = [clf.predict_array(np.ascontiguousarray(a), with_cam=False) for a in turned]
    assert all(p.assessable for p in preds)
    assert max(abs(p.dermoscopy_score - at) for p in preds) < 1e-6
    block.update(threshold=at + 1e-6, caution=at + 1e-6)
    clf = Classifier(SHIPPED, card=ModelCard.from_dict({**shipped.card.raw, "scope": block}))
    preds = [clf.predict_array(np.ascontiguousarray(a), with_cam=False) for a in turned]
    assert not any(p.assessable for p in preds)
    assert all(p.cam is None and p.cams is None and not p.melanoma_alert for p in preds)


# The benchmark and the card it writes ------------------------------------------------------------
def synthetic_rows(path: Path, dim: int, classes: tuple[str, ...]) -> Path:
    """A small rows.npz as benchmarks.origin_features writes it: three origins, clinical photos."""
    rng = np.random.default_rng(0)
    origins = ["a"] * 120 + ["b"] * 120 + ["c"] * 120 + ["clinical-photos"] * 200
    pos = np.array([o != "clinical-photos" for o in origins])
    pooled = np.abs(rng.normal(0.3, 0.2, (len(origins), dim)))
    pooled[pos, :8] += 1.0  # "dermoscopy" lights up features the others do not
    # The spatial statistics: the maximum and the centre a little above the mean, some spread.
    spatial = [pooled * 1.5, np.abs(rng.normal(0.2, 0.05, pooled.shape)), pooled * 1.1]
    labels = np.where(pos, np.where(rng.random(len(origins)) < 0.2, "melanoma", "nevus"), "not")
    probs = rng.dirichlet(np.ones(len(classes)), len(origins))
    np.savez(
        path,
        labels=labels,
        origins=np.array(origins),
        groups=np.array([f"{o}:{i % 25}" for i, o in enumerate(origins)]),
        names=np.array([f"img{i}.jpg" for i in range(len(origins))]),
        probabilities=probs,
        pooled=pooled,
        descriptors=np.concatenate([pooled, *spatial], axis=1).astype(np.float32),
        classes=np.array(classes),
    )
    return path


def test_scope_benchmark_fits_measures_and_writes_only_the_scope_key(
    shipped: Classifier, tmp_path: Path
) -> None:
    from benchmarks import scope as bench
    from benchmarks.pictures import ordinary_pictures

    pictures = [p for p in ordinary_pictures() if p[0] in ("text", "natural")][::4]
    rows = synthetic_rows(
        tmp_path / "rows.npz", len(shipped.card.cam_weights), shipped.card.classes
    )
    res, block = bench.benchmark(rows, SHIPPED, data=None, pictures=pictures)
    # The decision reads the whole descriptor: four numbers per channel of the feature map.
    assert block["inputs"] == "mean+spatial" == res["decision"]["inputs"]
    assert len(block["mean"]) == 4 * len(shipped.card.cam_weights)
    assert set(res["dermoscopy"]) == {"a", "b", "c"}
    for e in res["dermoscopy"].values():
        assert e["held_out_assessable"] >= 0.99 and e["held_out_melanoma_assessable"] >= 0.99
    clinical = res["negatives"]["clinical-photos"]
    assert clinical["images"] == 200 and clinical["refused"] > 0.9
    assert res["negatives"]["pictures"]["images"] == len(pictures)
    assert all(t["pass"] in (True, False) for t in res["targets"])
    assert "clinical-photos" in bench.format_table(res)
    # The frontier: a stricter limit refuses more of everything, never less.
    front = res["frontier"]
    assert [f["shift"] for f in front] == [0.0, 1.0, 2.0, 3.0, 4.0]
    assert front[0]["clinical_photos_refused"] == pytest.approx(clinical["refused"])
    for a, b in zip(front, front[1:], strict=False):
        assert b["clinical_photos_refused"] >= a["clinical_photos_refused"]
        assert b["pictures_refused"] >= a["pictures_refused"]
        assert b["least_kept"] <= a["least_kept"]
    assert front[0]["least_kept"] == pytest.approx(
        min(e["held_out_assessable"] for e in res["dermoscopy"].values())
    )
    json.dumps(res)

    card_path = tmp_path / "model.json"
    card_path.write_text(SHIPPED.with_suffix(".json").read_text())
    before = json.loads(card_path.read_text())
    bench.write_card(card_path, block)
    after = json.loads(card_path.read_text())
    assert after["scope"] == json.loads(json.dumps(block))
    assert {k: v for k, v in after.items() if k != "scope"} == {
        k: v for k, v in before.items() if k != "scope"
    }
    assert card_path.read_text() == json.dumps(after, indent=2) + "\n"
    if before["scope"].get("method") not in TWO_SIDED_METHODS:  # the old distance: the caution
        assert after["scope"]["familiar"] == before["scope"]


def test_the_model_card_text_says_how_the_two_sided_check_was_measured() -> None:
    block = {**two_sided_block(), "held_out_assessable_rate": 0.993}
    card = ModelCard.from_dict({**card_dict(), "scope": block})
    note = verdict.scope_note(card)
    assert "left out of the fit" in note and "99\u00a0%" in note and "caution" in note
    assert "without a dermatoscope" not in note  # nothing measured, nothing claimed


def test_the_model_card_text_says_how_many_clinical_photos_get_through() -> None:
    """The note never reads as if every clinical photo were set aside: it gives the measured
    share, rounded down, and says a result for such a photo is not reliable."""
    block = {**two_sided_block(), "clinical_photos_refused": 0.683}
    card = ModelCard.from_dict({**card_dict(), "scope": block})
    assert card.scope.clinical_photos_refused == pytest.approx(0.683)
    note = verdict.scope_note(card)
    assert "about 6 in 10 such photos" in note
    assert "without a dermatoscope is not reliable" in note
    old = ModelCard.from_dict({**card_dict(), "scope": block["familiar"]})
    assert "In validation" in verdict.scope_note(old)


def test_the_hidden_layer_decision_separates_what_a_line_cannot_and_loads_from_the_card() -> None:
    """Dermoscopy in a ring around the other pictures: no line parts them, one hidden layer
    does; the fitted block round-trips through JSON and scores as the fit did."""
    from benchmarks.scope_fit import fit_mlp

    rng = np.random.default_rng(1)
    n = 400
    angle = rng.uniform(0, 2 * np.pi, n)
    ring = np.c_[3 + 2.5 * np.cos(angle), 3 + 2.5 * np.sin(angle)] + rng.normal(0, 0.2, (n, 2))
    centre = 3 + rng.normal(0, 0.5, (n, 2))
    x = np.abs(np.vstack([ring, centre]))
    y = np.r_[np.ones(n), np.zeros(n)]
    line = DermoscopyScope.from_dict({**fit_logistic(x, y, transform="identity"), "threshold": 0})
    block = fit_mlp(x, y, hidden=8, transform="identity")
    net = DermoscopyScope.from_dict(json.loads(json.dumps({**block, "threshold": 0.0})))
    assert net.hidden is not None and net.hidden[0].shape == (2, 8)

    def accuracy(model: DermoscopyScope) -> float:
        return float(np.mean((model.score(x) >= 0) == (y == 1)))

    assert accuracy(net) > 0.95 > 0.75 > accuracy(line)
    assert isinstance(load_scope({**block, "threshold": 0.0}), DermoscopyScope)
    bad = {**block, "threshold": 0.0, "weights": block["weights"][:-1]}
    with pytest.raises(ScopeError, match="weights"):
        DermoscopyScope.from_dict(bad)
    with pytest.raises(ScopeError, match="hidden"):
        DermoscopyScope.from_dict({**block, "threshold": 0.0, "hidden": None})


def test_close_up_crops_go_with_their_photo_and_weigh_on_the_clinical_side(
    shipped: Classifier, tmp_path: Path
) -> None:
    """Each clinical photo gives seeded square crops through the app's path; a crop keeps its
    photo's topic group (so cross-validation leaves both out together), an unreadable photo
    is skipped, and photos with their crops weigh 70 % of the negative side."""
    from benchmarks import scope_sides as sides_mod
    from benchmarks.origin_features import clinical_photos

    folder = tmp_path / "clinical-photos"
    (folder / "images").mkdir(parents=True)
    rng = np.random.default_rng(3)
    rows = ["image,topic"]
    for i, topic in enumerate(("Acne", "Acne", "Psoriasis")):
        pixels = rng.integers(0, 255, (90 + 10 * i, 120, 3), dtype=np.uint8)
        Image.fromarray(pixels).save(folder / "images" / f"p{i}.jpg")
        rows.append(f"images/p{i}.jpg,{topic}")
    (folder / "images" / "broken.jpg").write_bytes(b"not a jpeg")
    rows.append("images/broken.jpg,Eczema")
    (folder / "labels.csv").write_text("\n".join(rows) + "\n")

    photos = clinical_photos(tmp_path)
    assert [g for _, g in photos] == [
        "clinical-photos:Acne",
        "clinical-photos:Acne",
        "clinical-photos:Psoriasis",
        "clinical-photos:Eczema",
    ]
    crops = sides_mod.close_up_rows(shipped, photos, per_photo=2)
    again = sides_mod.close_up_rows(shipped, photos, per_photo=2)
    assert len(crops.y) == 6 and np.all(crops.y == 0)
    assert set(crops.origin) == {sides_mod.CLOSE_UP}
    assert list(crops.group) == ["clinical-photos:Acne"] * 4 + ["clinical-photos:Psoriasis"] * 2
    assert crops.name[0] == "crop0:p0.jpg" and crops.name[1] == "crop1:p0.jpg"
    width = 4 * len(shipped.card.cam_weights)  # the whole descriptor: what the decision reads
    assert crops.x.shape == (6, width) and np.all(np.isfinite(crops.x))
    assert np.array_equal(crops.x, again.x)  # seeded
    assert not np.allclose(crops.x[0], crops.x[1])  # two different crops of one photo

    derm = sides_mod.Sides(
        x=np.ones((4, crops.x.shape[1])),
        y=np.ones(4, dtype=int),
        origin=np.array(["a", "a", "b", "b"]),
        group=np.array(["a", "a", "b", "b"]),
        name=np.array(["1", "2", "3", "4"]),
        melanoma=np.zeros(4, bool),
        alert=np.zeros(4, bool),
    )
    clinical = sides_mod.Sides(
        x=np.ones((2, crops.x.shape[1])),
        y=np.zeros(2, dtype=int),
        origin=np.array([sides_mod.CLINICAL] * 2),
        group=np.array(["clinical-photos:Acne", "clinical-photos:Psoriasis"]),
        name=np.array(["p0.jpg", "p2.jpg"]),
        melanoma=np.zeros(2, bool),
        alert=np.zeros(2, bool),
    )
    picture = sides_mod.Sides(
        x=np.ones((1, crops.x.shape[1])),
        y=np.zeros(1, dtype=int),
        origin=np.array(["picture:text"]),
        group=np.array(["picture:text"]),
        name=np.array(["t"]),
        melanoma=np.zeros(1, bool),
        alert=np.zeros(1, bool),
    )
    s = sides_mod.join(sides_mod.join(sides_mod.join(derm, clinical), crops), picture)
    w = sides_mod.weights(s)
    on_clinical_side = np.isin(s.origin, (sides_mod.CLINICAL, sides_mod.CLOSE_UP))
    assert w[on_clinical_side].sum() == pytest.approx(0.7)
    assert w[s.origin == "picture:text"].sum() == pytest.approx(0.3)
    fold = sides_mod.negative_folds(s, k=2)
    for g in set(s.group[s.y == 0]):
        assert len(set(fold[s.group == g])) == 1


def test_a_clinics_own_limit_sits_below_its_sample_and_its_melanomas() -> None:
    """benchmarks.clinic_scope's rules: under the sample's 1 % quantile, or its melanomas' when
    those score lower, by the margin; or under its lowest score."""
    from benchmarks.clinic_scope import limit

    scores = np.linspace(0.0, 10.0, 101)  # 1 % quantile: 0.1
    groups = np.arange(101).astype(str)
    none = np.zeros(101, dtype=bool)
    assert limit(scores, none, "q01-0.5", groups) == pytest.approx(0.1 - 0.5)
    assert limit(scores, none, "q01-1.0", groups) == pytest.approx(0.1 - 1.0)
    assert limit(scores, none, "min-0.5", groups) == pytest.approx(-0.5)
    melanomas = scores >= 9.0  # they score high: the limit is the sample's
    assert limit(scores, melanomas, "q01-0.5", groups) == pytest.approx(0.1 - 0.5)
    low = np.zeros(101, dtype=bool)
    low[[0, 50]] = True  # a melanoma at the very bottom sets it
    assert limit(scores, low, "q02-0.5", groups) == pytest.approx(0.0 - 0.5)
    # What adapt does: the floor is the sample's lowest image; the 1 % rule lies under it here.
    assert limit(scores, none, "extended", groups) == pytest.approx(0.0, abs=1e-5)
    assert limit(scores, none, "adapt --clinic-limit", groups) == pytest.approx(0.0, abs=1e-5)
    two_far = np.concatenate([[0.0, 0.0], np.full(99, 5.0)])  # 2 % far under the others
    assert limit(two_far, none, "adapt --clinic-limit", groups) == pytest.approx(0.0, abs=1e-5)
    one_far = np.concatenate([[0.0], np.linspace(3.0, 6.0, 100)])  # 1 %: it is let go
    assert limit(one_far, none, "adapt --clinic-limit", groups) == pytest.approx(3.0 - 1.0)
