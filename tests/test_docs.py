"""Every figure in README.md and docs/*.md is rendered from the file that holds it.

The first tests re-render the committed documents and fail when one disagrees with
its source (run ``python -m docs.generate`` after a new model or measurement). The
others check the renderer on synthetic cards and results: the figures it must show,
the keys it must tolerate being absent, and how it tells whether a benchmark measured
the shipped model.
"""

from __future__ import annotations

import copy
import hashlib
import json
from pathlib import Path
from typing import Any

import pytest

from benchmarks import provenance, report
from docs import generate
from docs.generate import BLOCKS, GenerateError, Sources, render_text

ROOT = Path(__file__).resolve().parent.parent


# ---------------------------------------------------------------- the committed documents


@pytest.mark.parametrize("doc", generate.documents(), ids=lambda p: p.name)
def test_committed_document_agrees_with_its_sources(doc: Path) -> None:
    text = doc.read_text(encoding="utf-8")
    rendered = render_text(text, Sources(), doc.name)
    stale = generate.stale_blocks(text, rendered)
    assert not stale, f"{doc.name}: blocks {stale} are stale; run `python -m docs.generate`"
    assert rendered == text


def test_every_block_is_used_and_says_how_to_regenerate_it() -> None:
    used: dict[str, str] = {}
    for doc in generate.documents():
        for m in generate.BLOCK.finditer(doc.read_text(encoding="utf-8")):
            used[m.group("name")] = m.group(0).splitlines()[0]
    assert set(used) == set(BLOCKS)  # a block deleted from its document fails here
    for name, opening in used.items():
        assert "python -m docs.generate" in opening and "new figures: `make" in opening, name
        for source in BLOCKS[name].sources:
            assert source in opening, (name, source)


def test_model_report_describes_the_shipped_model() -> None:
    """docs/model-report.md is written by ``trainer export`` with the card it installs."""
    card = json.loads((ROOT / "assets" / "model.json").read_text(encoding="utf-8"))
    text = (ROOT / "docs" / "model-report.md").read_text(encoding="utf-8")
    assert f"Model `{card['model_version']}`" in text


def test_docs_generate_check_exits_0_on_the_committed_state(capsys) -> None:
    assert generate.main(["--check"]) == 0
    assert capsys.readouterr().out == ""


# ---------------------------------------------------------------- synthetic sources


def multi_source_card() -> dict[str, Any]:
    """The shape of a card from the multi-source trainer (figures made up)."""
    return {
        "name": "LesionLens custom CNN",
        "model_version": "2026.12.01-0badc0de",
        "classes": ["melanoma", "nevus", "vascular lesion"],
        "input": {"size": 128},
        "quantization": "int8",
        "alert": {"melanoma_threshold": 0.123},
        "training": {"train_seconds": 3000.0, "wall_seconds": 3600.0},
        "training_data": {
            "sources": [
                {
                    "name": "ham10000",
                    "format": "ham10000",
                    "images": 10015,
                    "licence": "CC BY-NC-SA 4.0",
                    "citation": "Tschandl 2018.",
                },
                {"name": "isic2017", "format": "isic2017", "images": 2750, "licence": "CC-BY-NC"},
            ],
            "identities": 12000,
            "cross_source_duplicates": 765,
        },
        "metrics": {
            "measured_on": "internal_test",
            "model": "int8",
            "images": 1500,
            "accuracy": 0.7512,
            "balanced_accuracy": 0.6634,
            "macro_roc_auc": 0.9321,
            "melanoma_sensitivity": 0.9111,
            "melanoma_specificity": 0.6222,
            "ece_after_temperature": 0.0411,
            "ece_sampling_floor": 0.0301,
            "quantized_top1_agreement": 0.9876,
            "per_class_recall": {"melanoma": 0.5, "nevus": 0.9, "vascular lesion": 0.1},
            "melanoma_by_source": {
                "ham10000": {
                    "images": 1200,
                    "melanomas": 130,
                    "sensitivity": 0.8846,
                    "specificity": 0.7001,
                    "roc_auc": 0.9012,
                },
                "isic2017": {
                    "images": 300,
                    "melanomas": 70,
                    "sensitivity": 0.9571,
                    "specificity": None,
                    "roc_auc": 0.8123,
                },
            },
            "out_of_source": {
                "source": "isic2017",
                "images": 2750,
                "accuracy": 0.5432,
                "balanced_accuracy": 0.4321,
                "melanoma_sensitivity": 0.8766,
                "melanoma_specificity": 0.4567,
                "melanoma_roc_auc": 0.7789,
            },
        },
    }


class Fake(Sources):
    """Sources held in memory instead of read from a repository."""

    def __init__(self, card=None, model: bytes | None = b"x" * 2048, results=None, bundle=None):
        super().__init__(Path("/nonexistent"))
        self.__dict__.update(card=card, model_bytes=model, results=results, bundle=bundle)


def committed_results() -> dict[str, Any]:
    """A frozen benchmark result (model 2026.11.28-bc78c5fa, before file hashes were recorded),
    so the renderer's tests do not change whenever `make bench` is rerun."""
    return json.loads(
        (ROOT / "tests" / "data" / "results-2026-11-28.json").read_text(encoding="utf-8")
    )


def test_model_summary_shows_per_source_and_out_of_source_figures() -> None:
    text = generate.model_summary(Fake(multi_source_card()))
    assert "`2026.12.01-0badc0de`" in text and "**2 KiB int8**" in text
    assert (
        "trained in 50 minutes (60 for the whole run) from 2 sources (`ham10000`, `isic2017`)"
        in text
    )
    assert "**75.1 % accuracy, 66.3 % balanced accuracy**" in text
    assert "sensitivity 91.1 % at specificity 62.2 % at the shipped alert threshold (0.123)" in text
    assert "ECE 0.041" in text and "about 0.030" in text and "98.8 % top-1 agreement" in text
    assert "| ham10000 | 1200 | 130 | 88.5 % | 70.0 % | 0.901 |" in text
    assert "| isic2017 | 300 | 70 | 95.7 % | n/a | 0.812 |" in text  # a missing figure is n/a
    assert "Out of source (`isic2017`)" in text
    assert "2750 images, accuracy 54.3 %, balanced accuracy 43.2 %" in text
    assert "melanoma sensitivity 87.7 % at specificity 45.7 %, melanoma ROC AUC 0.779" in text
    assert "no out-of-source figures" not in text
    assert "vascular lesion 10.0 %" in text and "nevus 90.0 %" not in text  # only rare classes


def test_model_summary_quotes_the_high_level_and_referrals_out_of_source() -> None:
    card = copy.deepcopy(multi_source_card())
    high = {"sensitivity": 0.2, "specificity": 0.95, "positives": 400}
    high["origins"] = ["a", "b"]
    bcc = {"sensitivity": 0.7, "specificity": 0.9, "positives": 30, "origins": ["a"]}
    card["metrics"]["out_of_source"]["operating_points"] = {
        "melanoma_high": high,
        "referrals": {"basal cell carcinoma": bcc, "actinic keratosis": {"positives": 0}},
    }
    card["metrics"]["out_of_source"]["origins"] = ["a", "b"]
    text = generate.model_summary(Fake(card))
    assert "Out of source (`a`, `b`): the same recipe trained without each origin in turn" in text
    assert (
        "There, the high melanoma level caught 20.0 % of 400 melanomas at specificity 95.0 % "
        "(the mean over 2 origins); the basal cell carcinoma referral caught 70.0 % of 30 "
        "positives at specificity 90.0 %." in text
    )
    assert "actinic" not in text  # no positives there: no figure


def test_model_summary_tolerates_a_card_without_figures() -> None:
    card = {"name": "LesionLens custom CNN", "model_version": "v", "classes": ["a", "b"]}
    text = generate.model_summary(Fake(card, model=None))
    assert "`v` is a LesionLens custom CNN (2 classes" in text and "no model file" in text
    assert "accuracy" not in text and "no out-of-source figures" in text
    partial = copy.deepcopy(multi_source_card())
    for key in ("balanced_accuracy", "ece_sampling_floor", "melanoma_by_source", "out_of_source"):
        del partial["metrics"][key]
    text = generate.model_summary(Fake(partial))
    assert "macro ROC AUC 0.932" in text and "ECE 0.041 after temperature scaling and" in text
    assert "| source |" not in text and "75.1 % accuracy" not in text


def test_training_data_lists_sources_with_licences_or_the_old_single_folder() -> None:
    text = generate.training_data(Fake(multi_source_card()))
    assert (
        "- `ham10000` (ham10000, 10,015 images; licence: CC BY-NC-SA 4.0). Tschandl 2018." in text
    )
    assert (
        "12,000 distinct images after copies were merged (765 found in more than one source)"
        in text
    )
    old = {"training_data": {"source": "/data/isic-9class", "images": 2241}}
    assert "`isic-9class` (2,241 images)" in generate.training_data(Fake(old))


def test_a_missing_source_file_is_an_error_naming_it() -> None:
    with pytest.raises(GenerateError, match="benchmarks/results.json"):
        generate.speed_summary(Fake(multi_source_card()))


# ---------------------------------------------------------------- blocks in a document


def test_stale_block_is_rewritten_and_the_rest_left_alone(tmp_path: Path) -> None:
    card = multi_source_card()
    (tmp_path / "assets").mkdir()
    (tmp_path / "assets" / "model.json").write_text(json.dumps(card), encoding="utf-8")
    (tmp_path / "assets" / "model.tflite").write_bytes(b"m" * 4096)
    (tmp_path / "docs").mkdir()
    text = (
        "# Title\n\nHand-written 1.0 %.\n\n<!-- generated:model-summary old opening -->\n"
        "The shipped model measures 99.9 % accuracy.\n<!-- /generated:model-summary -->\n\nEnd.\n"
    )
    (tmp_path / "README.md").write_text(text, encoding="utf-8")
    (tmp_path / "docs" / "other.md").write_text("No blocks, 12 %.\n", encoding="utf-8")

    assert generate.main(["--check", "--root", str(tmp_path)]) == 1
    assert (tmp_path / "README.md").read_text(encoding="utf-8") == text  # --check writes nothing
    assert generate.main(["--root", str(tmp_path)]) == 0
    new = (tmp_path / "README.md").read_text(encoding="utf-8")
    assert new.startswith("# Title\n\nHand-written 1.0 %.\n\n<!-- generated:model-summary from ")
    assert new.endswith("<!-- /generated:model-summary -->\n\nEnd.\n")
    assert "99.9 %" not in new and "75.1 % accuracy" in new and "**4 KiB int8**" in new
    assert generate.stale_blocks(text, new) == ["model-summary"]
    assert generate.main(["--check", "--root", str(tmp_path)]) == 0
    assert (tmp_path / "docs" / "other.md").read_text(encoding="utf-8") == "No blocks, 12 %.\n"


@pytest.mark.parametrize(
    "text, message",
    [
        ("<!-- generated:no-such-block -->\nx\n<!-- /generated:no-such-block -->\n", "unknown"),
        ("<!-- generated:model-summary -->\nnever closed\n", "not closed"),
        ("stray\n<!-- /generated:model-summary -->\n", "not closed"),
    ],
)
def test_unknown_or_unclosed_blocks_are_errors(text: str, message: str) -> None:
    with pytest.raises(GenerateError, match=message):
        render_text(text, Fake(multi_source_card()), "x.md")


# ---------------------------------------------------------------- benchmarks vs the shipped model


def test_results_are_matched_to_the_shipped_model_by_file_hash() -> None:
    res = committed_results()
    card = multi_source_card()
    res["meta"]["card"]["model_sha256"] = "a" * 64
    assert provenance.measured_model(res, "a" * 64, card) == "same"
    assert provenance.measured_model(res, "b" * 64, card) == "different"
    same = provenance.identity_sentence(res, "same", card)
    assert "shipped model" in same and "Not" not in same


def test_results_without_a_hash_are_compared_by_the_cards_own_figure() -> None:
    """Old results: the same bytes on the same split give the same accuracy; 0.608 vs 0.628 does not."""
    res = committed_results()
    res["meta"]["card"].pop("model_sha256", None)
    card = {
        "model_version": res["meta"]["card"]["model_version"],
        "metrics": {"measured_on": "internal_test", "images": 293, "accuracy": 0.628},
    }
    assert provenance.measured_model(res, "c" * 64, card) == "different"
    text = provenance.identity_sentence(res, "different", card)
    assert "**Not the shipped model**" in text and "0.608" in text and "0.628" in text
    card["metrics"]["accuracy"] = res["accuracy"]["int8_tflite"]["internal_test"]
    assert provenance.measured_model(res, "c" * 64, card) == "unknown"
    assert "not recorded" in provenance.identity_sentence(res, "unknown", card)


def test_benchmark_records_the_model_hash_and_compares_bytes_not_versions(tmp_path: Path) -> None:
    """Two files with one model_version are different models."""
    from benchmarks.model_side import model_identity

    class Card:
        model_version, input_size = "2026.11.28-bc78c5fa", 128

    shipped, run = tmp_path / "model.tflite", tmp_path / "run"
    run.mkdir()
    shipped.write_bytes(b"one model")
    (run / "model.tflite").write_bytes(b"another model")
    ident = model_identity(shipped, Card(), run)
    assert ident["model_sha256"] == hashlib.sha256(b"one model").hexdigest()
    assert ident["same_model"] is False
    (run / "model.tflite").write_bytes(b"one model")
    assert model_identity(shipped, Card(), run)["same_model"] is True


def test_tables_and_findings_show_n_a_for_missing_measurements() -> None:
    res = committed_results()
    res["training"] = report.na("no config")
    res["classify"] = report.na("no images")
    del res["inference_ms"]["keras_float"]
    table = report.format_table(res)
    assert "| training throughput | n/a (no config) |" in table
    assert "| --classify throughput | n/a (no images) |" in table
    rows = dict((r[0], r[1]) for r in report.readme_rows(res))
    assert rows["int8 vs float Keras `model(x)`, 1 thread"] == "n/a"
    assert rows["int8 TFLite, batch 1, 1 thread"] == "0.93 ms/image"
    found = "\n".join(report.findings(res))
    assert (
        "forward pass of the int8 model takes 0.93 ms" in found
        and "Training" not in found
        and "--classify" not in found
    )


def test_training_rows_say_which_pipeline_was_timed() -> None:
    res = committed_results()
    assert report.OLD_PIPELINE in report.format_table(res)  # results from the copied pipeline
    res["training"]["pipeline"] = "trainer.train.train_dataset"
    table = report.format_table(res)
    assert report.OLD_PIPELINE not in table and "trainer.train.train_dataset" in table


def test_held_out_refits_are_summed_up_per_recipe_naming_how_it_differs() -> None:
    entry = json.loads((generate.ROOT / "benchmarks" / "refit_head.json").read_text())["isic2017"]
    ours = {"data": ["a"], "consistency": 4.0}
    refits = {
        "shipped": {"recipe": ours},
        "x": entry | {"recipe": ours},
        "y": entry | {"recipe": {"data": ["a"]}},
        "z": entry | {"recipe": {"data": ["a"]}},
    }
    s = Sources()
    s.__dict__["refit_head"] = refits  # the cached property, set
    text = generate.refit_head_table(s)
    assert "Over the 1 origins (x), each held out of a run of the shipped recipe, blend" in text
    assert (
        "Over the 2 origins (y, z), each held out of a run of another recipe: "
        "consistency default (shipped: 4.0), blend" in text
    )


def test_the_block_an_export_drops_from_the_model_report_is_put_back(tmp_path: Path) -> None:
    """`trainer export --report docs/` rewrites model-report.md from the run, without the
    shipped-head block; `python -m docs.generate` (make train's next step) puts it back."""
    text = (generate.ROOT / "docs" / "model-report.md").read_text(encoding="utf-8")
    start, end = (
        text.index("<!-- generated:shipped-head"),
        text.index("<!-- /generated:shipped-head -->"),
    )
    exported = text[:start] + text[end + len("<!-- /generated:shipped-head -->\n\n") :]
    assert "generated:shipped-head" not in exported and exported.startswith("# Model report\n\n")
    again = render_text(
        generate.restored(exported, "model-report.md"), Sources(), "model-report.md"
    )
    assert again == text
    assert generate.restored(text, "model-report.md") == text  # present: left alone
    assert generate.restored(exported, "README.md") == exported  # only the exported report


def test_the_adaptation_table_says_which_recipe_and_day_each_origin_was_measured_on() -> None:
    median = {"base": {"roc_auc": 0.6, "sensitivity": 0.8, "specificity": 0.3}}
    median |= {"adapted": {"roc_auc": 0.7, "sensitivity": 0.9, "specificity": 0.4}}
    sizes = {"100": {"runs": [{}], "median": median | {"train_melanomas": 25}}}

    def origin(recipe: dict, day: str) -> dict:
        return {"images": 500, "melanomas": 80, "sizes": sizes, "recipe": recipe, "measured": day}

    ours, older = {"consistency": 4.0}, {"width": 192}
    adaptation = {"date": "2026-12-06T10:00:00", "method": "How.", "origins": {}}
    adaptation["origins"] = {
        "a": origin(older, "2026-12-04"),
        "b": origin(ours, "2026-12-06"),
        "c": origin(ours, "2026-12-06"),
    }
    fake = Fake()
    fake.__dict__.update(adaptation=adaptation, refit_head={"shipped": {"recipe": ours}})
    text = generate.adaptation_curve(fake)
    assert "| b (500, 80) | 100 | 25 | 1 | 0.600 | **0.700** |" in text
    assert "b, c: held-out runs of the shipped recipe, measured 2026-12-06" in text
    assert "a: held-out runs of another recipe: consistency default (shipped: 4.0)" in text
    assert "width 192 (shipped: default), measured 2026-12-04" in text


def test_the_adaptation_table_says_what_the_clinic_keeps_where_it_was_measured() -> None:
    """adapt writes the adapted model only when it beats the base out of fold: the table
    said what adapting gave, not what a clinic ends up with."""
    side = {"roc_auc": 0.6, "sensitivity": 0.8, "specificity": 0.3}
    old = {"base": side, "adapted": side, "train_melanomas": 25}
    new = old | {"kept": side | {"roc_auc": 0.65}, "written": 1, "chose_right": 2}

    def origin(median: dict) -> dict:
        sizes = {"100": {"runs": [{}, {}, {}], "median": median}}
        return {"images": 500, "melanomas": 80, "sizes": sizes, "recipe": {}, "measured": "d"}

    adaptation = {"date": "2026-12-06T10:00:00", "method": "How.", "origins": {}}
    adaptation["origins"] = {"a": origin(old), "b": origin(new)}
    fake = Fake()
    fake.__dict__.update(adaptation=adaptation, refit_head={"shipped": {"recipe": {}}})
    lines = generate.adaptation_curve(fake).splitlines()
    assert lines[2].endswith("| 0.800 / 0.300 | - |")  # measured before the rule
    assert lines[3].endswith("| 0.800 / 0.300 | 1 / 2: 0.650 |")


def test_the_refit_table_gives_specificity_at_sensitivity_090_where_it_was_recorded() -> None:
    """#26's yardstick column: a refit made before it was recorded reads '-' and is left out of
    the mean, which says on how many origins it stands."""
    import copy

    old = json.loads((generate.ROOT / "benchmarks" / "refit_head.json").read_text())["isic2017"]
    old = copy.deepcopy(old)
    for head in ("network", "refit", "blend"):
        old[head]["holdout"].pop(generate.SPEC_90, None)
    new = copy.deepcopy(old)
    for head, value in (("network", 0.2), ("refit", 0.3), ("blend", 0.25)):
        new[head]["holdout"][generate.SPEC_90] = value
    ours = {"data": ["a"]}
    s = Sources()
    s.__dict__["refit_head"] = {
        "shipped": {"recipe": ours},
        "x": old | {"recipe": ours},
        "y": new | {"recipe": ours},
    }
    text = generate.refit_head_table(s)
    rows = [line for line in text.splitlines() if line.startswith("| x | blend")]
    assert rows and "| - |" in rows[0]
    assert any(line.startswith("| y | blend") and "| 0.250 |" in line for line in text.splitlines())
    assert "'-': refitted before the column was recorded" in text
    assert (
        "specificity at sensitivity 0.90 mean 0.250, worst 0.250 (on the 1 of them measured so)"
        in text
    )


def test_the_rule_against_adapting_every_time_counts_each_draw_once():
    """By clinic size: what the clinic keeps under adapt's rule (a draw not written changes
    nothing) against adapting every time; 'hurt' beyond 0.01 AUC; draws without the rule
    (measured before it was applied) are left out."""
    from docs.generate import rule_against_always

    def draw(base: float, adapted: float, written: bool | None) -> dict:
        d = {"base": {"roc_auc": base}, "adapted": {"roc_auc": adapted}}
        return d if written is None else d | {"written": written}

    origins = {
        "a": {"sizes": {"50": {"runs": [draw(0.7, 0.6, True), draw(0.7, 0.8, False)]}}},
        "b": {"sizes": {"50": {"runs": [draw(0.7, 0.705, False), draw(0.5, 0.9, None)]}}},
    }
    table = rule_against_always(origins)
    row = next(line for line in table if line.startswith("| 50 |"))
    # kept: -0.1, 0, 0 -> mean -0.033, 1 hurt; always: -0.1, +0.1, +0.005 -> +0.002, 1 hurt
    assert row == "| 50 | 3 | -0.033, 1 (-0.100) | +0.002, 1 (-0.100) | 1 |"
    assert rule_against_always({"c": {"sizes": {"50": {"runs": [draw(0.5, 0.6, None)]}}}}) == []
