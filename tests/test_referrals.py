"""Every skin cancer gets a referral prompt at its own measured point, melanoma's alert is
graded (high / raised) and leads, and the benign keratoses count as one kind of lesion."""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import pytest

from desktop import cli, verdict
from desktop.card import CardError, ModelCard
from desktop.prediction import Prediction
from desktop.results import ImageResult
from tests.fakes import ISIC_CLASSES, FakeClassifier, card_dict, probs_for, write_images
from trainer.evaluate import choose_specificity_threshold, sensitivity_specificity
from trainer.operating_points import choose_operating_points, figures_at

MEL = ISIC_CLASSES.index("melanoma")
BCC, SCC, AK = "basal cell carcinoma", "squamous cell carcinoma", "actinic keratosis"
METRICS = {
    "melanoma_sensitivity": 0.94,
    "melanoma_specificity": 0.57,
    "images": 1841,
    "out_of_source": {
        "source": "isic2017",
        "melanoma_sensitivity": 0.81,
        "melanoma_specificity": 0.385,
    },
    "operating_points": {
        "melanoma_high": {"sensitivity": 0.29, "specificity": 0.963},
        "referrals": {BCC: {"sensitivity": 0.77, "specificity": 0.96}},
    },
}


def graded(**alert: Any) -> dict[str, Any]:
    data = card_dict(threshold=0.1, min_top=0.45, metrics=METRICS)
    data["alert"].update(
        melanoma_high={
            "threshold": 0.4,
            "validation_sensitivity": 0.26,
            "validation_specificity": 0.95,
        },
        referrals={
            BCC: {"threshold": 0.2, "validation_sensitivity": 0.86, "validation_specificity": 0.95},
            SCC: {
                "threshold": 0.05,
                "validation_sensitivity": 0.85,
                "validation_specificity": 0.88,
            },
            AK: {"threshold": 0.25, "validation_sensitivity": 0.85, "validation_specificity": 0.98},
        },
    )
    data["alert"].update(alert)
    return data


CARD = ModelCard.from_dict(graded())
OLD = ModelCard.from_dict(card_dict(threshold=0.1, min_top=0.45, metrics=METRICS))


def predict(card: ModelCard, **named: float) -> Prediction:
    return Prediction.for_card(card, np.asarray(probs_for(ISIC_CLASSES, **named), dtype=float))


def test_bcc_dominant_prediction_is_referred() -> None:
    pred = predict(CARD, basal_cell_carcinoma=0.45, nevus=0.3, melanoma=0.02)
    assert verdict.alert_level(pred) == verdict.REFER and verdict.fired_referrals(pred) == (BCC,)
    v = verdict.verdict_for(pred, CARD)
    assert v.level == verdict.REFER and v.role == verdict.WARNING and v.assessable
    assert v.headline == "Possible basal cell carcinoma \u2014 refer for specialist assessment"
    assert "no melanoma alert" in v.text.lower()  # the melanoma answer is still given
    # the prompt's measured figures, held-out test first, and an honest 'not measured'
    assert "about 7 in 10 basal cell carcinomas" in v.text
    assert "not measured on images from a source it did not learn from" in v.text
    assert verdict.table_alert(v) == "POSSIBLE SKIN CANCER (BASAL CELL CARCINOMA): refer"


def test_ak_dominant_prediction_is_pre_cancerous() -> None:
    pred = predict(CARD, actinic_keratosis=0.6, nevus=0.3, melanoma=0.02)
    assert verdict.alert_level(pred) == verdict.PRECANCEROUS
    v = verdict.verdict_for(pred, CARD)
    assert v.headline == "Possible actinic keratosis (pre-cancerous) \u2014 treat or refer"
    assert "actinic keratoses" in v.text  # validation figures when no test figures exist
    assert verdict.LEVEL_RANK[verdict.ALERT] > verdict.LEVEL_RANK[verdict.REFER]
    assert verdict.LEVEL_RANK[verdict.REFER] > verdict.LEVEL_RANK[verdict.PRECANCEROUS]


def test_cancer_referral_outranks_pre_cancerous_one() -> None:
    pred = predict(CARD, actinic_keratosis=0.4, squamous_cell_carcinoma=0.1, nevus=0.4)
    assert verdict.fired_referrals(pred) == (SCC, AK) and verdict.alert_level(pred) == verdict.REFER


def test_melanoma_over_the_raised_threshold_is_raised() -> None:
    pred = predict(CARD, melanoma=0.2, nevus=0.7)
    assert verdict.melanoma_level(pred) == verdict.RAISED
    v = verdict.verdict_for(pred, CARD)
    assert v.level == verdict.ALERT and v.melanoma_level == verdict.RAISED
    assert v.headline.startswith("Possible melanoma, raised level")
    raised = v.lines[1]
    assert raised.startswith("Raised level")
    # in-source and out-of-source false alarms, both stated, rounded up
    assert "about 5 in 10 other lesions" in raised and "about 7 in 10 other lesions" in raised
    assert "High level" in v.lines[2]


def test_melanoma_over_the_high_threshold_is_high() -> None:
    pred = predict(CARD, melanoma=0.5, nevus=0.4)
    assert verdict.melanoma_level(pred) == verdict.HIGH
    v = verdict.verdict_for(pred, CARD)
    assert v.headline.startswith("Possible melanoma, high level")
    assert v.lines[1].startswith("High level") and "about 2 in 10 melanomas" in v.lines[1]
    assert "(HIGH LEVEL)" in verdict.table_alert(v)


def test_melanoma_leads_when_melanoma_and_bcc_both_fire() -> None:
    pred = predict(CARD, basal_cell_carcinoma=0.5, melanoma=0.2, nevus=0.2)
    assert verdict.fired_referrals(pred) == (BCC,) and verdict.alert_level(pred) == verdict.ALERT
    v = verdict.verdict_for(pred, CARD)
    assert v.level == verdict.ALERT and v.role == verdict.DANGER
    assert "melanoma" in v.headline.lower() and "basal" not in v.headline.lower()
    assert any("also reached its referral prompt" in line for line in v.lines)
    record = verdict.prediction_record(pred)
    assert record["alert_level"] == "alert" and record["melanoma_level"] == "raised"
    assert record["referral"] == {"level": "refer", "classes": [BCC]}


@pytest.mark.parametrize("card", [CARD, OLD])
def test_a_benign_keratosis_split_is_not_uncertain(card: ModelCard) -> None:
    pred = predict(card, seborrheic_keratosis=0.35, pigmented_benign_keratosis=0.3, nevus=0.3)
    assert pred.top_probability < card.min_top_probability  # each alone is under the limit
    assert not verdict.is_uncertain(pred) and verdict.alert_level(pred) == verdict.NO_ALERT
    v = verdict.verdict_for(pred, card)
    assert v.role == verdict.NEUTRAL and v.headline == "Most likely: Benign keratosis (65\u00a0%)"
    assert "seborrheic keratosis 35\u00a0%" in v.text
    group = verdict.prediction_record(pred)["label_group"]
    assert group["name"] == "benign keratosis" and group["probability"] == pytest.approx(0.65)


def test_a_card_without_referral_fields_behaves_as_before() -> None:
    assert OLD.referral_thresholds == () and OLD.melanoma_high_threshold is None
    pred = predict(OLD, basal_cell_carcinoma=0.9, melanoma=0.02)
    assert verdict.fired_referrals(pred) == () and verdict.alert_level(pred) == verdict.NO_ALERT
    v = verdict.verdict_for(pred, OLD)
    assert v.headline == "Most likely: Basal cell carcinoma (90\u00a0%)"
    mel = verdict.verdict_for(predict(OLD, melanoma=0.5, nevus=0.4), OLD)
    assert mel.headline == verdict.ALERT_HEADLINE and mel.melanoma_level is None
    assert mel.lines[1] == verdict.alert_meaning(OLD)  # its sentence as before
    assert "about 7 in 10 other lesions" in mel.lines[2]  # and the out-of-source figure
    record = verdict.prediction_record(pred)
    assert record["referral"] is None and record["melanoma_level"] is None


@pytest.mark.parametrize(
    "alert",
    [
        {"referrals": {"melanoma": {"threshold": 0.1}}},
        {"referrals": {"not a class": {"threshold": 0.1}}},
        {"referrals": {BCC: {"threshold": 1.5}}},
        {"melanoma_high": {"threshold": 0.05}},  # below the alert itself
    ],
)
def test_malformed_operating_points_are_refused(alert: dict[str, Any]) -> None:
    with pytest.raises(CardError):
        ModelCard.from_dict(graded(**alert))


def test_error_result_json_has_every_new_key() -> None:
    record = ImageResult(name="x.jpg", path=None, error="unreadable").to_json()
    assert record["referral"] is None and record["melanoma_level"] is None
    assert record["label_group"] is None


def test_cli_table_and_summary_name_the_referral(tmp_path, capsys) -> None:
    fake = FakeClassifier(
        probabilities=probs_for(ISIC_CLASSES, basal_cell_carcinoma=0.5, nevus=0.45),
        card=CARD,
    )
    write_images(tmp_path, ["a.png"])
    out = __import__("io").StringIO()
    assert cli.classify([tmp_path / "a.png"], as_json=False, factory=lambda _m: fake, out=out) == 0
    text = out.getvalue()
    assert "POSSIBLE SKIN CANCER (BASAL CELL CARCINOMA): refer" in text
    assert "1 possible other skin cancer" in text
    out = __import__("io").StringIO()
    cli.classify([tmp_path / "a.png"], as_json=True, factory=lambda _m: fake, out=out)
    (rec,) = json.loads(out.getvalue())
    assert rec["alert_level"] == "refer" and rec["referral"]["classes"] == [BCC]


# The trainer's chooser ----------------------------------------------------------------------
def test_referral_threshold_reaches_the_target_sensitivity() -> None:
    rng = np.random.default_rng(0)
    n, k = 600, len(ISIC_CLASSES)
    y = rng.integers(0, k, n)
    logits = rng.normal(size=(n, k)) + 1.5 * np.eye(k)[y]
    probs = np.exp(logits) / np.exp(logits).sum(1, keepdims=True)
    points = choose_operating_points(probs, y, ISIC_CLASSES, MEL, 0.85, 0.95)
    assert set(points.referrals) == {BCC, SCC, AK}
    for cls, point in points.referrals.items():
        i = ISIC_CLASSES.index(cls)
        sens, spec = sensitivity_specificity(probs[:, i], y == i, point["threshold"])
        assert sens >= 0.85 and point["validation_sensitivity"] == sens
        assert point["validation_specificity"] == spec
    high = points.melanoma_high
    sens, spec = sensitivity_specificity(probs[:, MEL], y == MEL, high["threshold"])
    assert spec >= 0.95 and high["validation_specificity"] == spec
    figs = figures_at(probs, y, ISIC_CLASSES, MEL, points.card_fields())
    assert figs["referrals"][BCC]["positives"] == int((y == ISIC_CLASSES.index(BCC)).sum())


def test_specificity_threshold_is_the_lowest_that_reaches_the_target() -> None:
    scores = np.array([0.1, 0.2, 0.3, 0.4, 0.9, 0.35, 0.8])
    positive = np.array([0, 0, 0, 0, 1, 1, 1], bool)
    t = choose_specificity_threshold(scores, positive, 0.75)  # 3 of 4 negatives left alone
    sens, spec = sensitivity_specificity(scores, positive, t)
    assert spec >= 0.75 and sens == 1.0  # 0.35 is still caught: the threshold is not higher


def test_window_banner_shows_the_referral_below_melanomas_red(qtbot) -> None:
    from desktop.qt.views.banners import AlertBanner

    banner = AlertBanner()
    qtbot.addWidget(banner)
    refer = verdict.verdict_for(predict(CARD, basal_cell_carcinoma=0.6, nevus=0.35), CARD)
    banner.show_verdict(refer)
    assert banner.kind == "refer" and banner.title == refer.headline
    ak = verdict.verdict_for(predict(CARD, actinic_keratosis=0.6, nevus=0.35), CARD)
    banner.show_verdict(ak)
    assert banner.kind == "precancerous"
    banner.show_verdict(verdict.verdict_for(predict(CARD, melanoma=0.5, nevus=0.4), CARD))
    assert banner.kind == "alert" and "high level" in banner.title


def test_a_referral_survives_a_case_history_export_and_import(tmp_path) -> None:
    from desktop.history.service import History, ModelInfo
    from desktop.history.store import Store
    from desktop.results import classify_path

    img = write_images(tmp_path / "src", ["bcc.png"], size=96)[0]
    fake = FakeClassifier(probs_for(ISIC_CLASSES, basal_cell_carcinoma=0.6, nevus=0.35), card=CARD)
    with Store.open(tmp_path / "a") as store:
        history = History(store)
        history.add_visit("P1", "nose", img, classify_path(fake, img), ModelInfo("t", "0" * 64))
        history.export("P1", tmp_path / "export")
    with Store.open(tmp_path / "b") as store:
        case = History(store).import_case(tmp_path / "export")
    result = case["lesions"][0]["visits"][0]["results"][0]
    assert result["alert_level"] == verdict.REFER
    assert result["headline"] == verdict.LEVEL_TEXT[verdict.REFER]


@pytest.mark.parametrize("card", [CARD, OLD])
def test_tables_show_a_benign_keratosis_split_as_the_window_does(card: ModelCard, qapp) -> None:
    """The CLI's table and the window's batch table showed the raw top class (pigmented
    benign keratosis 35 %) not marked uncertain, while the window said 'Benign keratosis 65 %'."""
    from desktop.qt.views.batch_table import COL_CLASS, COL_PROB, BatchModel

    pred = predict(card, seborrheic_keratosis=0.35, pigmented_benign_keratosis=0.3, nevus=0.3)
    result = ImageResult(name="lesion.png", path=None, prediction=pred)
    row = cli._table_row(result, 12, card)
    assert "Benign keratosis" in row and "65.0 %" in row and "? " not in row
    model = BatchModel()
    model.append([result])
    assert model.index(0, COL_CLASS).data() == "Benign keratosis"
    assert model.index(0, COL_PROB).data() == "65.0\u00a0%"
    plain = predict(card, nevus=0.9)  # a class of no group: its own name and probability
    model.append([ImageResult(name="b.png", path=None, prediction=plain)])
    assert model.index(1, COL_CLASS).data() == "Nevus"
    assert model.index(1, COL_PROB).data() == "90.0\u00a0%"


def test_the_batch_csv_names_the_group_beside_the_raw_top_class() -> None:
    """The CSV said 'pigmented benign keratosis 0.35, uncertain: no' with nothing to say why."""
    import csv
    import io

    from desktop.results_csv import csv_rows

    split = predict(CARD, seborrheic_keratosis=0.35, pigmented_benign_keratosis=0.3, nevus=0.3)
    plain = predict(CARD, nevus=0.9)
    results = [
        ImageResult(name=n, path=None, prediction=p) for n, p in (("a", split), ("b", plain))
    ]
    text = io.StringIO()
    csv.writer(text).writerows(csv_rows(results, ISIC_CLASSES, CARD))
    rows = list(csv.DictReader(io.StringIO(text.getvalue())))
    assert rows[0]["top_class"] == "seborrheic keratosis" and rows[0]["uncertain"] == "no"
    assert rows[0]["class_group"] == "benign keratosis"
    assert float(rows[0]["class_group_probability"]) == pytest.approx(0.65, abs=1e-4)
    assert rows[1]["top_class"] == "nevus" and rows[1]["class_group"] == ""
    assert rows[1]["class_group_probability"] == "" and rows[1]["p_nevus"] == "0.9000"


def test_the_case_history_csv_names_the_group_as_the_batch_csv_does(tmp_path) -> None:
    """The case-history CSV said 'seborrheic keratosis 0.35' where the window said 'Benign
    keratosis 65 %'; a stored result's numbers give the group as a live one's do."""
    import csv

    from desktop.history.service import History, ModelInfo
    from desktop.history.store import Store
    from desktop.results import classify_path

    imgs = write_images(tmp_path / "src", ["sk.png", "nv.png"], size=96)
    split = probs_for(ISIC_CLASSES, seborrheic_keratosis=0.35, pigmented_benign_keratosis=0.3)
    with Store.open(tmp_path / "a") as store:
        history = History(store)
        for img, probs in zip(imgs, (split, probs_for(ISIC_CLASSES, nevus=0.9)), strict=True):
            result = classify_path(FakeClassifier(probs, card=CARD), img)
            history.add_visit("P1", img.stem, img, result, ModelInfo("t", "0" * 64))
        summary = history.export("P1", tmp_path / "export")
    with open(summary.csv, encoding="utf-8-sig", newline="") as fh:
        rows = {r["lesion"]: r for r in csv.DictReader(fh)}
    assert rows["sk"]["top_class"] == "seborrheic keratosis"
    assert rows["sk"]["class_group"] == "benign keratosis"
    assert float(rows["sk"]["class_group_probability"]) == pytest.approx(0.65, abs=1e-4)
    assert rows["nv"]["class_group"] == rows["nv"]["class_group_probability"] == ""
