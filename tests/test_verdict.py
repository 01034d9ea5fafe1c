"""One coherent verdict: the alert and the headline never contradict, unusable means unusable,
and the alert is explained with the card's measured figures in plain words."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from desktop import verdict
from desktop.card import ModelCard
from desktop.prediction import Prediction
from desktop.results import ImageResult, classify_image
from tests.fakes import ISIC_CLASSES, FakeClassifier, card_dict, lesion_image, probs_for

MEL = ISIC_CLASSES.index("melanoma")
JARGON = re.compile(r"threshold|watch|ece|quantiz|top1|_|sensitivity|specificity", re.I)


def card(metrics: dict[str, Any] | None = None, alert: dict[str, Any] | None = None) -> ModelCard:
    data = card_dict(threshold=0.3, min_top=0.5, metrics=metrics or {})
    data["alert"].update(alert or {})
    return ModelCard.from_dict(data)


def prediction(probs: list[float], quality=(), scope=()) -> Prediction:
    return Prediction(
        classes=ISIC_CLASSES,
        probabilities=np.asarray(probs, dtype=np.float64),
        melanoma_index=MEL,
        melanoma_threshold=0.3,
        min_top_probability=0.5,
        quality_issues=tuple(quality),
        scope_issues=tuple(scope),
    )


def p(**named: float) -> list[float]:
    return probs_for(ISIC_CLASSES, **named)


CARD = card(
    metrics={"melanoma_sensitivity": 0.9074, "melanoma_specificity": 0.504, "images": 293},
)


# The rules -----------------------------------------------------------------------------------
def test_alert_leads_and_the_top_class_is_explained_under_it() -> None:
    """The issue's case: nevus 82 %, melanoma over the alert level."""
    v = verdict.verdict_for(prediction(p(nevus=0.6, melanoma=0.31)), CARD)
    assert v.level == verdict.ALERT and v.alert and v.role == verdict.DANGER
    assert v.headline == verdict.ALERT_HEADLINE
    assert "refer for specialist assessment" in v.headline
    assert "Nevus (60\u00a0%)" in v.lines[0] and "melanoma 31\u00a0%" in v.lines[0]
    assert "cannot be ruled out" in v.lines[0]
    assert "Nevus" not in v.headline  # the headline is the alert, nothing that contradicts it


def test_alert_with_melanoma_on_top_says_so() -> None:
    v = verdict.verdict_for(prediction(p(melanoma=0.7)), CARD)
    assert v.level == verdict.ALERT
    assert v.lines[0] == "Melanoma is the most likely class (70\u00a0%)."


def test_no_alert_headline_is_the_class_and_says_no_alert() -> None:
    v = verdict.verdict_for(prediction(p(nevus=0.9, melanoma=0.01)), CARD)
    assert v.level == verdict.NO_ALERT and not v.alert and v.role == verdict.NEUTRAL
    assert v.headline == "Most likely: Nevus (90\u00a0%)"
    assert "No melanoma alert (melanoma 1\u00a0%)." in v.lines
    assert "does not rule out melanoma" in v.text


def test_low_confidence_is_uncertain_not_an_alert() -> None:
    v = verdict.verdict_for(prediction(p(nevus=0.4, basal_cell_carcinoma=0.35)), CARD)
    assert v.level == verdict.NO_ALERT and v.role == verdict.CAUTION
    assert v.headline.startswith("Uncertain \u2014 most likely: Nevus (40\u00a0%)")
    assert "40\u00a0%" in v.lines[0] and "Interpret with extra caution" in v.lines[0]


def test_melanoma_on_top_below_the_threshold_still_alerts() -> None:
    """'Most likely: melanoma' next to 'no alert' would contradict itself."""
    pred = prediction(p(melanoma=0.25, nevus=0.2))
    assert pred.melanoma_probability < pred.melanoma_threshold and pred.melanoma_alert
    assert verdict.verdict_for(pred, CARD).headline == verdict.ALERT_HEADLINE


def test_low_confidence_alert_is_still_an_alert() -> None:
    v = verdict.verdict_for(prediction(p(nevus=0.35, melanoma=0.32)), CARD)
    assert v.level == verdict.ALERT and v.headline == verdict.ALERT_HEADLINE
    assert any("no class is clearly most likely" in line.lower() for line in v.lines)


@pytest.mark.parametrize(
    ("quality", "scope", "reason"),
    [
        (("the image is too small to show a lesion (20 \u00d7 20 pixels)",), (), "too small"),
        (("the image is nearly blank (almost one colour, no visible lesion)",), (), "blank"),
        ((), ("it does not look like a dermoscopy image of a skin lesion",), "dermoscopy"),
    ],
)
def test_unusable_image_never_alerts(quality, scope, reason) -> None:
    """Issue item 3: a 20x20 image with melanoma at 90 % still shows no alert."""
    pred = prediction(p(melanoma=0.9), quality, scope)
    assert not pred.assessable and not pred.melanoma_alert
    assert verdict.alert_level(pred) == verdict.CANNOT_ASSESS
    v = verdict.verdict_for(pred, CARD)
    assert v.level == verdict.CANNOT_ASSESS and not v.alert and v.role == verdict.MUTED
    # A picture that is not dermoscopy says so in the headline; an unusable one says "cannot".
    headline = verdict.NOT_DERMOSCOPY_HEADLINE if scope else verdict.CANNOT_ASSESS_HEADLINE
    assert v.headline == headline and v.top_class is None
    assert reason in v.text
    assert "Most likely" not in v.text and "refer" not in v.text.lower()
    assert "says nothing about the lesion" in v.text  # not "benign"
    record = verdict.prediction_record(pred)
    assert record["assessable"] is False and record["label"] is None
    assert record["melanoma_alert"] is False and record["probabilities"] is None
    assert reason in record["reason"]


def test_unreadable_file_verdict() -> None:
    r = ImageResult(name="x.jpg", path=Path("x.jpg"), error="x.jpg: file is empty")
    v = verdict.verdict_of(r, CARD)
    assert v.level == verdict.ERROR and v.headline == verdict.ERROR_HEADLINE
    assert v.lines == ("x.jpg: file is empty.",)  # the file name keeps its case


@settings(max_examples=300, deadline=None)
@given(
    weights=st.lists(st.floats(0.0, 1.0), min_size=9, max_size=9).filter(lambda w: sum(w) > 0.01),
    quality=st.booleans(),
    scope=st.booleans(),
)
def test_verdict_never_contradicts_itself(weights: list[float], quality: bool, scope: bool) -> None:
    probs = list(np.asarray(weights) / sum(weights))
    pred = prediction(probs, ("tiny",) if quality else (), ("not dermoscopy",) if scope else ())
    v = verdict.verdict_for(pred, CARD)
    assert v.level in verdict.LEVELS
    assert v.alert == pred.melanoma_alert == (v.level == verdict.ALERT)
    if quality or scope:
        assert v.level == verdict.CANNOT_ASSESS and not pred.melanoma_alert
    elif probs[MEL] >= 0.3 or int(np.argmax(probs)) == MEL:
        assert v.level == verdict.ALERT and v.headline == verdict.ALERT_HEADLINE
    else:
        assert v.level == verdict.NO_ALERT and "melanoma" not in v.headline.lower()
        # the most likely class, or its group's share (the benign keratoses count as one)
        assert v.headline.endswith(f"({verdict.percent(verdict.shown_probability(pred))})")
    for text in (v.headline, *v.lines, v.detail, v.short):
        assert not JARGON.search(text), text
    assert verdict.prediction_record(pred)["alert_level"] == v.level


# Wording from the card's figures ------------------------------------------------------------
@pytest.mark.parametrize(
    ("rate", "cautious", "expected"),
    [
        (0.98, "down", "about 9 in 10"),
        (0.9074, "down", "about 9 in 10"),
        (0.9, "down", "about 9 in 10"),
        (1.0, "down", "nearly all"),
        (0.04, "down", "fewer than 1 in 10"),
        (0.496, "up", "about 5 in 10"),
        (0.02, "up", "about 1 in 10"),
        (0.3, "up", "about 3 in 10"),
        (0.0, "up", "fewer than 1 in 10"),
    ],
)
def test_in_ten_rounds_to_the_cautious_side(rate: float, cautious: str, expected: str) -> None:
    assert verdict.in_ten(rate, cautious) == expected


def test_alert_meaning_prefers_held_out_figures() -> None:
    c = card(
        metrics={"melanoma_sensitivity": 0.75, "melanoma_specificity": 0.8},
        alert={"validation_sensitivity": 0.95, "validation_specificity": 0.3},
    )
    text = verdict.alert_meaning(c)
    assert "about 7 in 10 melanomas" in text and "about 2 in 10 lesions that were not" in text
    assert "about 3 in 10 melanomas did not raise" in verdict.miss_note(c)
    assert verdict.alert_figures(c).measured_on == "held-out test images"


def test_alert_meaning_falls_back_to_validation_figures() -> None:
    c = card(alert={"validation_sensitivity": 0.9074, "validation_specificity": 0.5042})
    assert verdict.alert_meaning(c) == (
        "In testing, the alert flagged about 9 in 10 melanomas, and also about 5 in 10 "
        "lesions that were not melanoma."
    )
    assert verdict.alert_figures(c).measured_on == "validation images"


def test_alert_meaning_without_figures_says_so() -> None:
    c = card()
    assert "not measured" in verdict.alert_meaning(c)
    assert "does not rule out melanoma" in verdict.miss_note(c)
    bad = card(metrics={"melanoma_sensitivity": "high", "melanoma_specificity": 2.0})
    assert "not measured" in verdict.alert_meaning(bad)


def test_alert_verdict_carries_the_measured_meaning() -> None:
    c = card(metrics={"melanoma_sensitivity": 0.6, "melanoma_specificity": 0.9})
    v = verdict.verdict_for(prediction(p(melanoma=0.5)), c)
    assert "about 6 in 10 melanomas" in v.text and "about 1 in 10 lesions" in v.text


def test_per_source_figures_are_used_when_present_and_tolerated_when_broken() -> None:
    c = card(
        metrics={
            "melanoma_by_source": {
                "ham10000": {"sensitivity": 0.62, "specificity": 0.81, "images": 400},
                "isic2017": {"sensitivity": 0.9, "specificity": 0.5, "roc_auc": 0.8},
                "broken": "n/a",
                "empty": {"roc_auc": 0.7},
            }
        }
    )
    lines = verdict.source_lines(c)
    assert lines == [
        "Images from ham10000 (400 test images): the alert flagged about 6 in 10 melanomas "
        "and about 2 in 10 other lesions.",
        "Images from isic2017: the alert flagged about 9 in 10 melanomas and about 5 in 10 "
        "other lesions.",
    ]
    assert any("ham10000" in f for f in verdict.model_facts(c))
    assert verdict.source_lines(card()) == []
    assert verdict.source_lines(card(metrics={"melanoma_by_source": [1, 2]})) == []


def test_rarely_recognised_classes_are_named_in_plain_words() -> None:
    recall = dict.fromkeys(ISIC_CLASSES, 0.8)
    recall.update({"seborrheic keratosis": 0.0, "squamous cell carcinoma": 0.185})
    warning = verdict.rare_warning(card(metrics={"per_class_recall": recall}))
    assert warning is not None
    assert "Seborrheic keratosis: never recognised" in warning
    assert "Squamous cell carcinoma: recognised only about 1 in 10 times" in warning
    assert "Nevus" not in warning
    assert (
        verdict.rare_warning(card(metrics={"per_class_recall": dict.fromkeys(ISIC_CLASSES, 0.5)}))
        is None
    )
    assert verdict.rare_warning(card()) is None


def test_model_facts_use_no_raw_field_names() -> None:
    metrics = {
        "measured_on": "internal_test",
        "images": 293,
        "accuracy": 0.628,
        "balanced_accuracy": 0.624,
        "melanoma_sensitivity": 0.98,
        "melanoma_specificity": 0.544,
        "ece_after_temperature": 0.0745,
        "quantized_top1_agreement": 0.9898,
        "per_class_recall": {"seborrheic keratosis": 0.0},
    }
    facts = verdict.model_facts(card(metrics=metrics))
    text = " ".join(facts)
    assert "293 held-out test images" in text and "63\u00a0%" in text and "62\u00a0%" in text
    assert "7 percentage points" in text and "99\u00a0%" in text and "never recognised" in text
    for raw in ("ece", "quantized", "top1", "_", "balanced accuracy"):
        assert raw not in text.lower().replace("percentage", ""), raw


def test_model_facts_say_what_blurred_copies_kept_when_the_card_measured_it() -> None:
    from desktop import quality

    data = card_dict(threshold=0.3, min_top=0.5)
    data["quality"] = {
        "soft_focus": {
            "refused_under": quality.MIN_SHARPNESS,
            "caution_under": quality.SOFT_SHARPNESS,
            "alert_threshold": 0.3,
            "kept_alert": 0.8658,
            "kept_alert_sharp": 0.9634,
        }
    }
    (line,) = [f for f in verdict.model_facts(ModelCard.from_dict(data)) if "blurred" in f]
    assert "with a caution" in line and "87 times in 100" in line and "96 times in 100" in line
    assert not [f for f in verdict.model_facts(card()) if "blurred" in f]


def test_scope_note_says_whether_a_fitted_check_exists() -> None:
    assert "no fitted check" in verdict.scope_note(card())
    assert verdict.scope_note(None) == ""


def test_percent_never_shows_a_misleading_zero_or_hundred() -> None:
    assert verdict.percent(0.004) == "under 1\u00a0%"
    assert verdict.percent(0.9951) == "over 99\u00a0%"
    assert verdict.percent(0.8163) == "82\u00a0%"
    assert verdict.percent(0.0) == "0\u00a0%"
    assert verdict.percent(0.8163, 1) == "81.6\u00a0%"
    assert verdict.percent(0.0004, 1) == "under 0.1\u00a0%"


def test_levels_have_words_and_an_urgency_order() -> None:
    assert set(verdict.LEVEL_TEXT) == set(verdict.LEVELS) == set(verdict.LEVEL_RANK)
    rank = verdict.LEVEL_RANK
    assert rank[verdict.ALERT] > rank[verdict.CANNOT_ASSESS] > rank[verdict.NO_ALERT]
    assert verdict.summarise(["alert", "alert", "error"])[verdict.ALERT] == 2


# Through the classifier stand-in: the issue's tiny-image case end to end -------------------
def test_tiny_image_with_high_melanoma_is_cannot_assess_end_to_end() -> None:
    fake = FakeClassifier(probabilities=p(melanoma=0.9))
    result = classify_image(fake, lesion_image(20))
    v = verdict.verdict_of(result, fake.card)
    assert v.level == verdict.CANNOT_ASSESS and "too small" in v.text
    assert result.cam is None  # no heat-map either: no class to explain
    record = result.to_json()
    assert record["assessable"] is False and record["melanoma_alert"] is False


def test_report_text_names_the_file_not_the_path(tmp_path: Path) -> None:
    """The PDF's words (gathered without Qt drawing): file name, verdict, plain facts."""
    from desktop.qt.report import report_text

    metrics = {
        "melanoma_sensitivity": 0.98,
        "melanoma_specificity": 0.54,
        "ece_after_temperature": 0.07,
        "quantized_top1_agreement": 0.99,
        "per_class_recall": {"nevus": 0.9, "seborrheic keratosis": 0.0},
    }
    c = card(metrics=metrics)
    fake = FakeClassifier(probabilities=p(nevus=0.6, melanoma=0.31), card=c)
    folder = tmp_path / "Patients" / "Jane Doe 1970-01-01"
    folder.mkdir(parents=True)
    path = folder / "lesion.png"
    lesion_image(200).save(path)
    from desktop.results import classify_path

    result = classify_path(fake, path)
    content = report_text(result, c, "fake.tflite (t)", datetime(2026, 1, 1, tzinfo=UTC))
    text = content.all_text()
    assert "lesion.png" in text and "Jane Doe" not in text and "Patients" not in text
    assert content.verdict.headline == verdict.ALERT_HEADLINE
    assert content.heatmap_caption == "Heat-map: Melanoma"  # the map explains the alert
    assert content.warning is not None and "Seborrheic keratosis" in content.warning
    for raw in ("ece after", "quantized", "top1", "threshold"):
        assert raw not in text.lower(), raw
    unusable = classify_image(fake, lesion_image(20))
    bare = report_text(unusable, c, "fake", datetime(2026, 1, 1, tzinfo=UTC))
    assert bare.heatmap_caption is None and bare.warning is None
    assert bare.verdict.level == verdict.CANNOT_ASSESS


def test_out_of_source_figures_are_said_plainly_in_the_model_facts():
    from desktop import verdict as v

    c = card(
        {
            "out_of_source": {
                "source": "isic2017",
                "images": 2109,
                "melanoma_sensitivity": 0.86,
                "melanoma_specificity": 0.41,
            }
        }
    )
    line = v.out_of_source_line(c)
    assert line is not None and "2,109 images" in line and "isic2017" in line
    # Hits rounded down (8 in 10), false alarms up (59 % -> 6 in 10).
    assert "about 8 in 10 melanomas" in line and "about 6 in 10 lesions" in line
    assert line in v.model_facts(c)
    assert not JARGON.search(line)
    assert v.out_of_source_line(card({"out_of_source": {"source": "x"}})) is None
    # Several origins, each held out in turn: the mean, and the worst source said beside it.
    many = {
        "source": "each of 3 origins held out in turn",
        "origins": ["a", "b", "c"],
        "images": 12000,
        "melanoma_sensitivity": 0.84,
        "melanoma_specificity": 0.33,
        "worst_melanoma_sensitivity": 0.68,
    }
    line = v.out_of_source_line(card({"out_of_source": many}))
    assert "12,000 images from 3 sources (clinics and archives), each kept out of" in line
    assert "(a," not in line  # the report's plain words never meet a data set's name here
    assert "on average about 8 in 10 melanomas" in line and "about 7 in 10 lesions" in line
    assert "at the worst source, about 6 in 10 melanomas" in line
    assert not JARGON.search(line)


def test_melanoma_is_never_called_rarely_recognised_its_alert_has_own_figures():
    from desktop import verdict as v

    recall = {c: 0.9 for c in ISIC_CLASSES}
    recall["melanoma"] = 0.1
    recall["dermatofibroma"] = 0.2
    rare = v.rarely_recognised(card({"per_class_recall": recall}))
    assert rare == ["Dermatofibroma: recognised only about 2 in 10 times in testing"]


def test_a_tie_ranks_the_top_class_first_so_bars_and_headline_agree():
    probs = [0.0] * len(ISIC_CLASSES)
    nevus = ISIC_CLASSES.index("nevus")
    probs[MEL], probs[nevus] = 0.5, 0.5
    pred = prediction(probs)
    assert pred.ranked()[0][0] == pred.label == "melanoma"


def test_a_value_under_the_limit_never_rounds_to_the_limit():
    """Review: 'the most likely has only 45 %, under 45 %' read as a contradiction."""
    assert verdict.percent_under(0.4497, 0.45) == ("44.97\u00a0%", "45\u00a0%")
    assert verdict.percent_under(0.446, 0.45) == ("44.6\u00a0%", "45\u00a0%")
    assert verdict.percent_under(0.40, 0.5) == ("40\u00a0%", "50\u00a0%")
    v = verdict.verdict_for(prediction(p(nevus=0.4997, melanoma=0.01)), CARD)
    assert "49.97\u00a0%, under 50\u00a0%" in " ".join(v.lines)


# The borderline band ------------------------------------------------------------------------
BAND = {"band_log_odds": 0.25, "threshold": 0.3, "flips_in_band": 0.31, "flips_outside": 0.02}


def banded(**over: Any) -> ModelCard:
    return card(alert={"borderline": {**BAND, "images": 600, **over}})


def test_a_result_close_to_where_the_alert_starts_says_a_re_take_may_change_it() -> None:
    """Inside the band (either side of the alert) the verdict says so, with the card's
    measured re-take figures in plain words; outside it, or on a card without a band, not."""
    c = banded()
    assert c.borderline is not None and c.borderline.band == 0.25
    just_over = Prediction.for_card(c, np.asarray(p(nevus=0.6, melanoma=0.33)))
    just_under = Prediction.for_card(c, np.asarray(p(nevus=0.6, melanoma=0.27)))
    far = Prediction.for_card(c, np.asarray(p(nevus=0.85, melanoma=0.05)))
    for pred, alert in ((just_over, True), (just_under, False)):
        assert pred.near_alert_threshold and pred.melanoma_alert == alert
        v = verdict.verdict_for(pred, c)
        line = v.lines[1] if alert else v.lines[-2].split(". ", 1)[1]
        assert line.startswith("Borderline") and v.borderline
        assert "in 31\u00a0% of tries for images this close" in line
        assert "in 2\u00a0% for the others" in line and "starts (30.0\u00a0%)" in line
        assert not JARGON.search(line), line
        assert verdict.prediction_record(pred)["near_alert_threshold"] is True
        assert "borderline" in verdict.table_alert(v)
    assert verdict.verdict_for(just_over, c).lines.index(line_of(just_over, c)) == 1
    # with no alert it joins the "No melanoma alert" line, second to last, as the window reads it
    under = verdict.verdict_for(just_under, c)
    assert under.lines[-2].startswith("No melanoma alert") and "Borderline" in under.lines[-2]
    assert under.lines[-1].startswith("No alert does not rule out melanoma")
    assert not far.near_alert_threshold and not verdict.verdict_for(far, c).borderline
    assert verdict.table_alert(verdict.verdict_for(far, c)) == "-"
    plain = Prediction.for_card(CARD, np.asarray(p(nevus=0.6, melanoma=0.31)))
    assert not plain.near_alert_threshold and not verdict.verdict_for(plain, CARD).borderline
    unusable = Prediction.for_card(c, np.asarray(p(nevus=0.6, melanoma=0.3)), quality_issues=("x",))
    assert not unusable.near_alert_threshold


def test_the_model_card_text_says_what_a_re_take_did_near_the_alert() -> None:
    from desktop import verdict as v

    facts = v.model_facts(banded())
    line = next(f for f in facts if f.startswith("Borderline results"))
    assert (
        "600 images" in line and "31\u00a0% of tries" in line and "2\u00a0% for the others" in line
    )
    assert not JARGON.search(line), line
    assert not any(f.startswith("Borderline") for f in v.model_facts(CARD))


def line_of(pred: Prediction, c: ModelCard) -> str:
    return next(x for x in verdict.verdict_for(pred, c).lines if "Borderline" in x)


def test_a_band_measured_at_another_threshold_is_not_quoted_and_a_bad_one_is_refused() -> None:
    """``adapt`` moves the alert threshold: the band's figures no longer hold there."""
    from desktop.card import CardError

    assert banded(threshold=0.2).borderline is None
    for bad in ({"band_log_odds": 0}, {"flips_in_band": 1.5}, {"images": 0}, {"threshold": None}):
        with pytest.raises(CardError, match="borderline"):
            banded(**bad)


def test_the_borderline_line_gives_the_range_on_sources_the_model_did_not_learn_from() -> None:
    """Where the card holds the held-out origins' range (``benchmarks.borderline
    --write-card``), the line and the model card text add it; a malformed range is refused."""
    from desktop import verdict as v
    from desktop.card import CardError

    other = {
        "origins": ["a", "b", "c"],
        "flips_in_band": [0.275, 0.383],
        "flips_outside": [0.011, 0.047],
    }
    c = banded(other_origins=other)
    assert (
        c.borderline is not None
        and c.borderline.other is not None
        and c.borderline.other.origins == 3
    )
    pred = Prediction.for_card(c, np.asarray(p(nevus=0.6, melanoma=0.33)))
    line = line_of(pred, c)
    said = "(on 3 sources the model did not learn from: 28\u00a0% to 38\u00a0%, and 1\u00a0% to 5\u00a0%)"
    assert said in line and line.endswith("a re-take may change it.")
    assert not JARGON.search(line), line
    facts = next(f for f in v.model_facts(c) if f.startswith("Borderline results"))
    assert said in facts
    assert "sources the model did not learn" not in line_of(pred, banded())
    for bad in (
        {**other, "flips_outside": [0.05, 0.01]},  # the highest first
        {**other, "flips_in_band": [0.2]},
        {**other, "origins": []},
        "six",
    ):
        with pytest.raises(CardError, match="other_origins"):
            banded(other_origins=bad)


# Percentages as shown ------------------------------------------------------------------------
def test_the_table_says_what_the_bars_say() -> None:
    """The README's sample: melanoma 0.79537 plainly rounds to 79.5 %, the bars (which add up
    to 100) show 79.6 %; the batch table and the command line now show the bars' figure."""
    probs = [3.6e-6, 1.84e-4, 5.1e-7, 0.795374, 0.059504, 0.059308, 0.085354, 2.59e-4, 1.27e-5]
    pred = prediction(probs)
    bars = dict(zip(ISIC_CLASSES, verdict.shown_percents(probs), strict=True))
    shown, melanoma = verdict.shown_percent_texts(pred)
    assert bars["melanoma"] == melanoma == shown == "79.6\u00a0%"
    # A class the model gave any chance is not '0 %', whatever the rounding to 100 does.
    assert bars["dermatofibroma"] == "under 0.1\u00a0%"
    assert bars["basal cell carcinoma"] == "under 0.1\u00a0%" and bars["nevus"] == "6.0\u00a0%"


def test_a_keratosis_group_sums_the_members_as_the_bars_show_them() -> None:
    probs = p(seborrheic_keratosis=0.6858, pigmented_benign_keratosis=0.2711, melanoma=0.0218)
    pred = prediction(probs)
    bars = dict(zip(ISIC_CLASSES, verdict.display_percentages(probs), strict=True))
    shown, melanoma = verdict.shown_percent_texts(pred)
    group = bars["seborrheic keratosis"] + bars["pigmented benign keratosis"]
    assert shown == verdict.percent(group / 100, 1) == "95.7\u00a0%"
    assert melanoma == verdict.percent(bars["melanoma"] / 100, 1)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.floats(0.0, 1.0, allow_nan=False), min_size=2, max_size=12))
def test_shown_percents_never_say_zero_or_certain_for_what_is_not(values) -> None:
    words = verdict.shown_percents(values)
    total = sum(values)
    for v, w in zip(values, words, strict=True):
        if total > 0 and v / total > 0:
            assert w != "0\u00a0%"
        if total > 0 and v / total < 1:
            assert not w.startswith("100")
