"""benchmarks.recipe_compare: mean and worst over the scored sets, one table row per recipe."""

from __future__ import annotations

from pathlib import Path

from benchmarks.recipe_compare import markdown, summary


def _entry(auc: float, flips: float | None = None) -> dict:
    e = {"melanoma_roc_auc": auc, "specificity_at_sensitivity_0.90": 0.3, "balanced_accuracy": 0.5}
    if flips is not None:
        e["worst_recapture"] = {"alert_flips": flips, "class_changes": 2 * flips}
    return e


def test_summary_takes_mean_and_worst_per_recipe_and_head():
    n = {"images": 400, "melanomas": 100}
    sets = {
        "a held out: a": {
            "shipped recipe": n | {"network": _entry(0.70, 0.1), "blend": _entry(0.74, 0.12)},
            "zoom": n | {"network": _entry(0.72, 0.05), "blend": _entry(0.75, 0.06)},
        },
        "a held out: isic2020": {
            "shipped recipe": n | {"network": _entry(0.56), "blend": _entry(0.60)},
            "zoom": n | {"network": _entry(0.62), "blend": _entry(0.58)},
        },
    }
    s = summary(sets, ["shipped recipe", "zoom"])
    assert s["shipped recipe: network"] == {
        "mean_melanoma_roc_auc": 0.63,
        "worst_melanoma_roc_auc": 0.56,
    }
    assert s["zoom: blend"]["worst_melanoma_roc_auc"] == 0.58
    inside = {"a": {"shipped recipe": 0.61, "zoom": None}}
    table = markdown({"sets": sets, "summary": s, "inside_sources": inside})
    assert "| a: internal-test balanced accuracy | 0.610 | n/a |" in table
    assert "| a held out: a | zoom | 0.720 / 0.30 / 0.50 / 5.0 % / 10.0 % |" in table
    assert "| a held out: isic2020 | zoom | 0.620 / 0.30 / 0.50 / n/a |" in table
    assert "| zoom: blend | 0.665 | 0.580 | -0.005 (± " in table
    assert "| shipped recipe: network | 0.630 | 0.560 |  |" in table


def test_auc_standard_error_is_hanley_mcneil():
    """At AUC 0.5 with 100 cases a side the error is about 0.041 (the textbook value); it
    shrinks with more images and with an AUC nearer 1."""
    from benchmarks.recipe_compare import auc_standard_error

    assert abs(auc_standard_error(0.5, 100, 100) - 0.0409) < 5e-4
    assert auc_standard_error(0.7, 400, 4000) < auc_standard_error(0.7, 40, 400)
    assert auc_standard_error(0.95, 100, 100) < auc_standard_error(0.7, 100, 100)


def test_proxy_check_ranks_full_pass_recipes_on_the_proxy_origins(tmp_path):
    """Three head-level recipes on four origins: on the proxy (a and isic2020) 'b' and 'c'
    swap places, so the rankings disagree once and the best recipes differ."""
    import json

    from benchmarks.recipe_compare import proxy_check

    auc = {  # recipe -> origin -> AUC
        "a": {"a": 0.60, "b": 0.60, "c": 0.60, "isic2020": 0.60},
        "b": {"a": 0.70, "b": 0.90, "c": 0.90, "isic2020": 0.70},
        "c": {"a": 0.80, "b": 0.70, "c": 0.70, "isic2020": 0.80},
    }
    origins = {
        o: {r: {"melanoma_roc_auc": auc[r][o]} for r in auc} | {"images": 10}
        for o in ("a", "b", "c", "isic2020")
    }
    (tmp_path / "benchmarks").mkdir()
    (tmp_path / "benchmarks" / "head_inputs.json").write_text(json.dumps({"origins": origins}))
    check = proxy_check(["a"], root=tmp_path)
    assert check["origins"] == ["a", "isic2020"]
    assert check["recipes"] == 3
    assert check["best_on_all_seven"] == "head_inputs: b"
    assert check["best_on_the_proxy"] == "head_inputs: c"
    assert abs(check["kendall_tau"] - 1 / 3) < 1e-3
    assert proxy_check(["missing"], root=tmp_path) == {}


def test_stored_baseline_takes_the_newest_result_holding_both_sets(tmp_path):
    """Runs are not kept between checkouts: the shipped recipe's figures come from the newest
    earlier comparison holding the origin and isic2020, never from the candidate's own file."""
    import json

    from benchmarks.recipe_compare import stored_baseline

    def result(created: str, auc: float, sets=("a held out: a", "a held out: isic2020")) -> str:
        entry = {"network": _entry(auc), "blend": _entry(auc)}
        return json.dumps(
            {
                "created": created,
                "sets": {k: {"shipped recipe": entry, "x": entry} for k in sets},
                "inside_sources": {"a": {"shipped recipe": 0.6}},
            }
        )

    bench = tmp_path / "benchmarks"
    bench.mkdir()
    (bench / "recipe_old.json").write_text(result("2026-12-01", 0.61))
    (bench / "recipe_new.json").write_text(result("2026-12-02", 0.62))
    (bench / "recipe_half.json").write_text(result("2026-12-03", 0.63, sets=("a held out: a",)))
    (bench / "recipe_cand.json").write_text(result("2026-12-04", 0.64))
    chained = json.loads(result("2026-12-05", 0.62)) | {"shipped_recipe_from": {"a": "x.json"}}
    (bench / "recipe_chained.json").write_text(json.dumps(chained))
    name, base = stored_baseline("cand", "a", root=tmp_path)
    assert name == "recipe_new.json"
    assert base["sets"]["a held out: a"]["network"]["melanoma_roc_auc"] == 0.62
    assert base["inside"] == 0.6
    assert stored_baseline("cand", "b", root=tmp_path) is None
    table = markdown(
        {
            "sets": {},
            "summary": {},
            "shipped_recipe_from": {"a": name},
        }
    )
    assert "a (from `benchmarks/recipe_new.json`)" in table


def test_yardstick_baseline_gives_the_network_head_on_the_origin_only(tmp_path):
    """Where no comparison holds an origin, the yardstick's figures stand in: the network
    head on the origin itself, nothing for isic2020; the summary then skips the blend there."""
    import json

    from benchmarks.recipe_compare import yardstick_baseline

    figs = {
        "melanoma_roc_auc": 0.654,
        "specificity_at_sensitivity_0.90": 0.2,
        "balanced_accuracy": 0.36,
    }
    body = {"origins": {"b": {"images": 500, "melanomas": 90, "alert_threshold": 0.1} | figs}}
    (tmp_path / "benchmarks").mkdir()
    (tmp_path / "benchmarks" / "yardstick.json").write_text(json.dumps(body))
    name, base = yardstick_baseline("b", root=tmp_path)
    assert name == "yardstick.json" and base["inside"] is None
    assert base["sets"] == {"b held out: b": {"images": 500, "melanomas": 90, "network": figs}}
    assert yardstick_baseline("isic2020", root=tmp_path) is None
    assert yardstick_baseline("c", root=tmp_path) is None
    sets = {"b held out: b": {"shipped recipe": base["sets"]["b held out: b"]}}
    sets["b held out: b"]["x"] = {"images": 500, "melanomas": 90, "network": _entry(0.70)}
    s = summary(sets, ["shipped recipe", "x"])
    assert set(s) == {"shipped recipe: network", "x: network"}
    table = markdown({"sets": sets, "summary": s, "shipped_recipe_from": {"b": name}})
    assert "| b held out: b | x | 0.700 / 0.30 / 0.50 / n/a | n/a |" in table
    assert "| x: network | 0.700 | 0.700 | +0.046 (± " in table
    assert "For b they are the yardstick's" in table and "no isic2020 set" in table
    assert "earlier comparison" not in table


def _fake_run(root: Path, name: str) -> None:
    """An empty model and feature rows where ``full_pass`` looks for run ``name``."""
    (root / "runs" / name).mkdir(parents=True)
    (root / "runs" / name / "model.tflite").write_bytes(b"")
    (root / "runs" / "features" / name).mkdir(parents=True)
    (root / "runs" / "features" / name / "rows.npz").write_bytes(b"")


def test_full_pass_scores_every_origin_against_the_shipped_full_pass(tmp_path, monkeypatch):
    """Every origin from the shipped recipe's full pass (head_inputs.json, both heads); the
    candidate's isic2020 from its backbone with no origin held out; an origin named the same
    takes the shipped figures for both; a missing run stops with its name."""
    import json

    import pytest

    from benchmarks import recipe_compare
    from benchmarks.yardstick import ORIGINS

    base = {
        o: {"images": 300, "melanomas": 60, "network": _entry(0.6), "mean + network": _entry(0.65)}
        for o in ORIGINS
    }
    (tmp_path / "benchmarks").mkdir()
    (tmp_path / "benchmarks" / "head_inputs.json").write_text(json.dumps({"origins": base}))
    scored = []

    def fake_score(model, features, origin):
        scored.append((model.parent.name, features.name, origin))
        return {"images": 300, "melanomas": 60, "network": _entry(0.7), "blend": _entry(0.7)}

    monkeypatch.setattr(recipe_compare, "score", fake_score)
    monkeypatch.setattr(recipe_compare, "card_balanced_accuracy", lambda model: 0.5)
    with pytest.raises(SystemExit, match="c-holdout-"):
        recipe_compare.full_pass("c", ["isic-9class"], root=tmp_path)
    for o in ORIGINS:
        _fake_run(tmp_path, recipe_compare.full_run("c", o))
    per, inside = recipe_compare.full_pass("c", ["isic-9class"], root=tmp_path)
    assert ("c-shipped", "c-shipped", "isic2020") in scored
    assert ("c-holdout-rosendahl", "c-holdout-rosendahl", "rosendahl") in scored
    assert len(scored) == len(ORIGINS) - 1 and "isic-9class" not in inside
    same = per["isic-9class held out: isic-9class"]
    assert same["c"] == same["shipped recipe"]
    assert same["c"]["blend"]["melanoma_roc_auc"] == 0.65
    s = summary(per, ["shipped recipe", "c"])
    assert s["c: network"]["worst_melanoma_roc_auc"] == 0.6  # the shared origin
    table = markdown(
        {"sets": per, "summary": s, "full_pass": {"baseline": "head_inputs.json", "same": ["x"]}}
    )
    assert "The full pass" in table and "With x held out" in table
    assert "earlier comparison" not in table and "in progress" not in table


def test_a_full_pass_in_progress_leaves_the_untrained_origins_out_of_both_recipes(
    tmp_path, monkeypatch
):
    """With ``missing`` given, an origin whose run is not trained yet is named there and left
    out of both recipes (the mean and the worst compare like with like), and the table says so."""
    import json

    from benchmarks import recipe_compare
    from benchmarks.yardstick import ORIGINS

    base = {
        o: {"images": 300, "melanomas": 60, "network": _entry(0.6), "mean + network": _entry(0.5)}
        for o in ORIGINS
    }
    (tmp_path / "benchmarks").mkdir()
    (tmp_path / "benchmarks" / "head_inputs.json").write_text(json.dumps({"origins": base}))
    monkeypatch.setattr(
        recipe_compare,
        "score",
        lambda m, f, o: {
            "images": 300,
            "melanomas": 60,
            "network": _entry(0.7),
            "blend": _entry(0.7),
        },
    )
    monkeypatch.setattr(recipe_compare, "card_balanced_accuracy", lambda model: 0.5)
    trained = [o for o in ORIGINS if o != "isic-9class"][:2]
    for o in trained:
        _fake_run(tmp_path, recipe_compare.full_run("c", o))
    missing: list[str] = []
    per, _ = recipe_compare.full_pass("c", ["isic-9class"], root=tmp_path, missing=missing)
    assert sorted(missing) == sorted(set(ORIGINS) - set(trained) - {"isic-9class"})
    assert sorted(per) == sorted(f"{o} held out: {o}" for o in [*trained, "isic-9class"])
    assert all(set(v) == {"shipped recipe", "c"} for v in per.values())
    s = summary(per, ["shipped recipe", "c"])
    table = markdown(
        {
            "sets": per,
            "summary": s,
            "full_pass": {"baseline": "head_inputs.json", "same": [], "missing": missing},
        }
    )
    assert "in progress" in table and missing[0] in table


def _card(path: Path, content: str = "abc", seed: int = 1337, train: int = 10) -> Path:
    import json

    split = {"train": train, "val": 3, "internal_test": 3}
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(
        json.dumps(
            {
                "training_data": {"split": split, "content_sha256": content},
                "config": {"seed": seed},
            }
        )
    )
    return path


def test_in_source_compares_backbones_only_on_one_split(tmp_path):
    """Two cards agree only with the same data hash, split counts and seed; the comparison
    waits (None) until the candidate's no-holdout run has its feature rows, and stops on a
    different split rather than read two internal tests as one."""
    import pytest

    from benchmarks import in_source

    a = _card(tmp_path / "a" / "model.json")
    assert in_source.same_split(a, _card(tmp_path / "b" / "model.json")) == []
    assert in_source.same_split(a, _card(tmp_path / "c" / "model.json", content="x"))
    assert in_source.same_split(a, _card(tmp_path / "d" / "model.json", seed=1))
    assert in_source.same_split(a, _card(tmp_path / "e" / "model.json", train=11))
    assert in_source.compare("c", root=tmp_path) is None
    run = tmp_path / "runs" / "c-shipped"
    for p in (
        run / "model.tflite",
        run / "split.json",
        tmp_path / "runs" / "features" / "c-shipped" / "rows.npz",
        tmp_path / "runs" / "features" / "shipped" / "rows.npz",
    ):
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(b"")
    _card(run / "model.json", seed=7)
    _card(tmp_path / "assets" / "model.json")
    with pytest.raises(SystemExit, match="not the shipped model's split: the seed differs"):
        in_source.compare("c", root=tmp_path)


def test_in_source_table_names_each_backbone_and_head():
    from benchmarks import in_source

    def heads(acc: float) -> dict:
        e = {"images": 1841.0, "accuracy": acc, "balanced_accuracy": 0.6}
        e |= {"melanoma_roc_auc": 0.85, "melanoma_sensitivity": 0.9, "melanoma_specificity": 0.5}
        return {h: e for h in in_source.HEADS}

    table = in_source.markdown(
        {"split": "runs/c-shipped/split.json", "shipped recipe": heads(0.711), "c": heads(0.724)}
    )
    assert "1,841 internal-test images" in table
    assert "| shipped recipe | blend | 0.711 |" in table and "| c | refit | 0.724 |" in table
    assert "runs/c-shipped/split.json" in table


def test_the_yardstick_reads_the_models_own_head_not_the_rows_stored_probabilities(
    tmp_path, monkeypatch
):
    """isic2020's rows are the shipped model's, whose stored probabilities come from a head
    refitted with isic2020's labels: the yardstick scores the pooled features through the
    held-out model's own last layer and alert instead."""
    import numpy as np

    from benchmarks import refit_head, yardstick
    from desktop.card import load_card
    from desktop.head import LinearHead

    model = Path(__file__).resolve().parent.parent / "assets" / "model.tflite"
    classes = load_card(model.with_suffix(".json")).classes
    labels = ["melanoma", "nevus", "melanoma", "nevus", "basal cell carcinoma", "nevus"]
    pooled = np.stack([np.eye(len(classes))[classes.index(c)] for c in labels])
    wrong = np.tile(np.eye(len(classes))[classes.index("nevus")], (len(labels), 1))
    np.savez(
        tmp_path / "rows.npz",
        labels=np.array(labels), origins=np.array(["isic2020"] * len(labels)),
        probabilities=wrong, pooled=pooled,
    )  # fmt: skip
    head = LinearHead(np.eye(len(classes)) * 5, np.zeros(len(classes)), 1.0)
    monkeypatch.setattr(refit_head, "network_head", lambda m: (head, 0.5))
    got = yardstick.origin_figures("isic2020", model, tmp_path / "rows.npz")
    assert got["melanomas"] == 2 and got["melanoma_roc_auc"] == 1.0
    assert got["alert_threshold"] == 0.5 and got["sensitivity_at_alert"] == 1.0
    assert got["specificity_at_alert"] == 1.0
