"""A clinic's own "unlike this clinic's dermoscopy" limit (``adapt --clinic-limit``): the rule,
its cross-validated safety gate, the card block, the refusal and its words.

Scores and descriptors are made here; the shipped model only where adapt runs end to end.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from desktop import verdict
from desktop.adapt import run as adapt_run
from desktop.adapt.scope_limits import (
    MARGIN,
    MELANOMA_MARGIN,
    NOTHING_MORE,
    ONE_SIDED,
    REFUSES_OWN,
    ClinicLimitOutcome,
    clinic_limit,
    extend_scope,
    limit_from_scores,
    with_clinic_limit,
)
from desktop.card import CardError, ModelCard, load_card
from desktop.scope import OUT_OF_SCOPE_REASON, ScopeError, judge, load_scope
from tests.fakes import card_dict
from tests.test_scope_two_sided import ARR, prediction, sides, two_sided_block


def _groups(n: int) -> np.ndarray:
    return np.array([f"lesion{i}" for i in range(n)])


def test_a_clinic_with_a_narrow_spread_gets_a_limit_under_its_own_images() -> None:
    rng = np.random.default_rng(0)
    scores = rng.normal(6.0, 0.4, 300)
    mel = np.arange(300) % 6 == 0
    found = limit_from_scores(scores, mel, _groups(300), threshold=-4.0)
    assert found.why is None and found.block is not None
    q = np.quantile(scores, 0.01, method="lower") - MARGIN
    q_mel = np.quantile(scores[mel], 0.01, method="lower") - MELANOMA_MARGIN
    assert found.block["threshold"] == pytest.approx(min(q, q_mel))
    assert MELANOMA_MARGIN > MARGIN  # melanomas get the wider margin
    assert found.kept >= 0.99 and found.melanomas_kept == 1.0
    assert found.block["images"] == 300 and found.block["melanomas"] == 50


def test_a_melanoma_the_limit_would_refuse_out_of_fold_keeps_the_limit_off() -> None:
    """One melanoma far under every other image: a limit set without it refuses it."""
    scores = np.concatenate([[0.0], np.linspace(5.0, 7.0, 299)])
    mel = np.zeros(300, dtype=bool)
    mel[[0, 100, 200]] = True
    # The card's limit well under the melanoma (less the melanoma margin): a limit is tried.
    found = limit_from_scores(scores, mel, _groups(300), threshold=-MELANOMA_MARGIN - 1.0)
    assert found.block is None and found.why == REFUSES_OWN
    assert found.melanomas_kept == pytest.approx(2 / 3)
    # The same image, not a melanoma: 1 in 300 refused is within what the gate allows.
    mel[0] = False
    assert (
        limit_from_scores(scores, mel, _groups(300), threshold=-MELANOMA_MARGIN - 1.0).block
        is not None
    )


def test_too_many_of_the_clinics_own_images_refused_keeps_the_limit_off() -> None:
    """One lesion photographed three times, far under the rest: within 1 % of the sample it
    sets the limit, but a limit set without that lesion refuses all three (1.5 %)."""
    scores = np.concatenate([[0.0, 0.1, 0.2], np.linspace(5.0, 7.0, 197)])
    groups = _groups(200)
    groups[:3] = "one lesion"
    found = limit_from_scores(scores, np.zeros(200, bool), groups, threshold=-3.0)
    assert found.why == REFUSES_OWN and found.kept == pytest.approx(197 / 200)
    apart = limit_from_scores(scores, np.zeros(200, bool), _groups(200), threshold=-3.0)
    assert apart.block is not None  # as three lesions, each is within what the others allow


def test_a_limit_that_would_not_rise_over_the_cards_own_is_not_set() -> None:
    scores = np.linspace(0.0, 10.0, 101)
    found = limit_from_scores(scores, np.zeros(101, bool), _groups(101), threshold=0.0)
    assert found.why == NOTHING_MORE and found.block is None
    with pytest.raises(ValueError, match="score per image"):
        limit_from_scores(scores[:5], np.zeros(6, bool), _groups(6), threshold=0.0)


def _clinic_descriptors() -> tuple[dict, np.ndarray]:
    block = two_sided_block()
    x, y = sides(seed=5)
    clinic = x[y == 1][:200].copy()
    clinic[:, 0] += 4.0  # a dermatoscope whose images score higher than the fit's
    return extend_scope(block, clinic), clinic


def test_the_card_refuses_what_lies_under_the_clinics_limit_for_its_own_reason() -> None:
    block, clinic = _clinic_descriptors()
    limit = clinic_limit(block, clinic, np.arange(200) % 5 == 0, _groups(200))
    assert limit.block is not None, limit
    scope = load_scope(json.loads(json.dumps(with_clinic_limit(block, limit))))
    assert scope.clinic is not None and scope.clinic.threshold > scope.threshold
    # Every image of the clinic scoring over its limit is assessed as before.
    over = clinic[scope.score(clinic) >= scope.clinic.threshold]
    assert len(over) >= 198 and all(judge(ARR, c, scope).issues == () for c in over)
    # Between the card's own limit and the clinic's: refused, as unlike this clinic.
    between = clinic[0].copy()
    lo, hi = scope.threshold, scope.clinic.threshold
    for step in np.linspace(0, 1, 400):  # move the first feature until the score lands between
        between[0] = clinic[0][0] * (1 - step)
        if lo < float(scope.score(between)) < hi:
            break
    assert lo < float(scope.score(between)) < hi
    assert judge(ARR, between, scope).issues == (verdict.CLINIC_SCOPE_REASON,)
    assert judge(ARR, between, load_scope(block)).issues == ()  # the card without the limit
    # Under the card's own limit: still "not a dermoscopy image".
    below = np.zeros_like(clinic[0])
    assert judge(ARR, below, scope).issues == (OUT_OF_SCOPE_REASON,)


def test_an_older_one_sided_scope_has_no_score_to_limit() -> None:
    block = two_sided_block()["familiar"]
    found = clinic_limit(block, np.asarray(block["means"]), np.zeros(2, bool), _groups(2))
    assert found.why == ONE_SIDED and with_clinic_limit(block, found) == block


@pytest.mark.parametrize(
    "clinic, message",
    [
        ({"threshold": -100.0, "images": 3, "kept": 1.0, "melanomas": 0}, "below"),
        ({"threshold": 50.0, "images": "3", "kept": 1.0, "melanomas": 0}, "count"),
        ({"threshold": 50.0, "images": 3, "melanomas": 0}, "kept"),
        ({"threshold": 50.0, "images": 3, "kept": 1.5, "melanomas": 0}, "kept"),
        ([1, 2], "object"),
    ],
)
def test_a_malformed_clinic_limit_is_refused_with_its_reason(clinic, message: str) -> None:
    block = {**two_sided_block(), "clinic": clinic}
    with pytest.raises(ScopeError, match=message):
        load_scope(block)
    with pytest.raises(CardError):
        ModelCard.from_dict({**card_dict(), "scope": block})


def test_the_refusal_is_headed_as_unlike_this_clinic_and_says_what_to_do() -> None:
    card = ModelCard.from_dict(card_dict(threshold=0.3, min_top=0.5))
    refused = prediction(scope=(verdict.CLINIC_SCOPE_REASON,))
    assert not refused.assessable and not refused.melanoma_alert
    said = verdict.verdict_for(refused, card)
    assert said.level == verdict.CANNOT_ASSESS and said.top_class is None
    assert said.headline == verdict.CLINIC_SCOPE_HEADLINE
    assert "shipped model" in said.text and "dermatoscope" in said.text
    record = verdict.prediction_record(refused)
    assert (
        record["label"] is None
        and "unlike the dermoscopy images of this clinic" in record["reason"]
    )
    other = verdict.verdict_for(prediction(scope=(OUT_OF_SCOPE_REASON,)), card)
    assert other.headline == verdict.NOT_DERMOSCOPY_HEADLINE


def test_the_model_card_text_gives_the_clinics_cross_validated_figures() -> None:
    block, clinic = _clinic_descriptors()
    limit = clinic_limit(block, clinic, np.arange(200) % 5 == 0, _groups(200))
    card = ModelCard.from_dict({**card_dict(), "scope": with_clinic_limit(block, limit)})
    note = verdict.scope_note(card)
    assert "unlike this clinic's own dermoscopy" in note and "200 images" in note
    assert "40 melanomas" in note and "shipped model" in note
    plain = ModelCard.from_dict({**card_dict(), "scope": block})
    assert "this clinic" not in verdict.scope_note(plain)


# adapt, end to end with the shipped model ------------------------------------------------------
def _adapt(tmp_path: Path, *extra: str) -> tuple[int, str, Path]:
    import contextlib
    import io

    from tests.test_adapt import _clinic

    clinic = _clinic(tmp_path / "clinic")
    out = tmp_path / "out"
    stdout = io.StringIO()
    with contextlib.redirect_stdout(stdout), contextlib.redirect_stderr(io.StringIO()):
        code = adapt_run.main(
            ["--data", str(clinic), "--out", str(out), "--force", "--folds", "3", *extra]
        )
    return code, stdout.getvalue(), out


@pytest.mark.slow
def test_adapt_says_whether_it_set_the_clinic_limit_and_records_why(tmp_path) -> None:
    code, stdout, out = _adapt(tmp_path, "--clinic-limit")
    assert code == 0
    card = load_card(out / "model.json")
    record = card.adaptation["clinic_limit"]
    assert record["images"] == 50 and record["melanomas"] == 24
    # The synthetic clinic's images spread far below each other: nothing more to refuse.
    assert record["why"] == NOTHING_MORE and card.scope.clinic is None
    assert "Clinic limit: not set" in stdout
    assert "Clinic limit: not set" in (out / "report.md").read_text()


@pytest.mark.slow
def test_adapt_writes_a_clinic_limit_the_app_loads_and_applies(tmp_path, monkeypatch) -> None:
    """The wiring when the gate lets a limit through: card, seal, app."""
    seen = {}

    def high_limit(scope, descriptors, melanoma, groups):  # noqa: ANN001
        found = clinic_limit(scope, descriptors, melanoma, groups)
        score = load_scope(scope).score(descriptors)
        seen["scores"] = np.sort(score)
        block = {
            "threshold": float(np.sort(score)[1]),  # the lowest image falls under it
            "images": len(score),
            "kept": 0.99,
            "melanomas": int(np.sum(melanoma)),
            "melanomas_kept": 1.0,
        }
        return ClinicLimitOutcome(found.images, found.melanomas, 0.99, 1.0, block)

    monkeypatch.setattr(adapt_run, "clinic_limit", high_limit)
    code, stdout, out = _adapt(tmp_path, "--clinic-limit")
    assert code == 0 and "Clinic limit: set" in stdout
    card = load_card(out / "model.json")  # sealed, validated
    assert card.scope.clinic is not None
    assert card.scope.clinic.threshold == pytest.approx(seen["scores"][1])
    assert "unlike this clinic's own dermoscopy" in verdict.scope_note(card)
    code, _, plain = _adapt(tmp_path / "again")  # without the option: no limit, no record
    assert code == 0 and load_card(plain / "model.json").scope.clinic is None
    assert "clinic_limit" not in load_card(plain / "model.json").adaptation


def test_the_benchmark_table_names_the_least_clinic_for_each_rule() -> None:
    from benchmarks.clinic_scope import RULES, markdown

    def entry(clin: float, kept: float, mel: float | None, raised: int) -> dict:
        return {
            "kept": kept,
            "mel_kept": mel,
            "clinical_refused": clin,
            "pictures_refused": 0.5,
            "raised_in_folds": raised,
        }

    result = {
        "sample": 300,
        "origins": {
            "a": {r: entry(0.9, 0.995, 1.0, 5) for r in RULES},
            "b": {r: entry(0.6, 0.991, 0.98, 2) for r in RULES},
        },
    }
    table = markdown(result)
    row = next(line for line in table.splitlines() if "`adapt --clinic-limit`" in line)
    assert "75.0 % (b: 60.0 %)" in row and "b: 99.1 %" in row and "b: 98.0 %" in row
    assert row.endswith("7 of 10 |")
    rules_table = table.split("\n\n")[1]
    assert (
        len([line for line in rules_table.splitlines() if line.startswith("| ")]) == len(RULES) + 1
    )
    assert "| b | 60.0 % \u2192 60.0 % | 99.1 % \u2192 99.1 % | 98.0 % \u2192 98.0 % |" in table


def test_the_benchmark_counts_each_rule_from_the_fits_scores() -> None:
    """benchmarks.clinic_scope.measure on made-up scores of one clinic and its folds."""
    from benchmarks.clinic_scope import FOLDS, measure

    rng = np.random.default_rng(0)
    scores = {
        "c/sample_melanoma": np.arange(300) % 10 == 0,
        "c/sample_group": _groups(300),
        "c/rest_melanoma": np.arange(100) % 10 == 0,
    }
    # The clinic's limit lies near 5.4 - MELANOMA_MARGIN (its melanomas' 1 % quantile, less the
    # margin); one image far under it sets the floor, and "between" lies between the two.
    floor, between = 4.0 - MELANOMA_MARGIN, 4.5 - MELANOMA_MARGIN
    for k in range(FOLDS):
        sample = rng.normal(6.0, 0.3, 300)
        sample[1] = floor  # one image (not a melanoma) far under the rest sets the floor
        scores[f"c/{k}/sample"] = sample
        rest = np.concatenate([[between], rng.normal(6.0, 0.3, 99)])  # the first a melanoma
        scores[f"c/{k}/rest"] = rest
        scores[f"c/{k}/clinical"] = np.array([-10.0, between, 8.0])  # under both, between, over
        scores[f"c/{k}/clinical_pixels"] = np.array([False, False, True])  # pixels refuse one
        scores[f"c/{k}/pictures"] = np.array([between])
        scores[f"c/{k}/pictures_pixels"] = np.array([False])
    res = measure(scores)["c"]
    lowest = res["extended"]  # just under the sample's lowest: the photo between is kept
    assert lowest["clinical_refused"] == pytest.approx(2 / 3, abs=1e-4)
    assert lowest["raised_in_folds"] == 0
    assert lowest["pictures_refused"] == 0.0 and lowest["kept"] == 1.0
    assert lowest["mel_kept"] == 1.0
    own = res["adapt --clinic-limit"]  # raised to its melanomas' 1 % less the margin, every fold
    assert own["raised_in_folds"] == FOLDS and own["clinical_refused"] == 1.0
    assert own["pictures_refused"] == 1.0
    assert own["kept"] == pytest.approx(0.99) and own["mel_kept"] == pytest.approx(0.9)


def test_the_benchmark_table_names_the_model_it_was_measured_on() -> None:
    """Two backbones shipped on one day: 'measured 2026-12-06' alone did not say which."""
    from benchmarks.clinic_scope import RULES, markdown

    side = {"kept": 1.0, "mel_kept": 1.0, "clinical_refused": 0.9, "pictures_refused": 0.8}
    origins = {"a": {r: side | {"raised_in_folds": 0} for r in RULES}}
    result = {"sample": 300, "created": "2026-12-06", "origins": origins}
    assert "(measured 2026-12-06)." in markdown(result)  # a file from before it named one
    result["model_version"] = "2026.12.06-f0341fec"
    assert "(measured 2026-12-06 on model `2026.12.06-f0341fec`)." in markdown(result)
