"""benchmarks.recipe_seeds: a candidate read against the shipped recipe trained with the same seed."""

from __future__ import annotations

import json

import pytest

from benchmarks.recipe_seeds import DEFAULT_SEED, compare, markdown, seed_pairs


def _head(auc: float, flips: float) -> dict:
    return {
        "melanoma_roc_auc": auc,
        "worst_recapture": {"alert_flips": flips, "class_changes": 2 * flips},
        "recaptures": {
            "bright": {"alert_flips": flips / 2, "class_changes": flips},
            "jpeg": {"alert_flips": flips, "class_changes": 2 * flips},
        },
    }


def _entry(auc: float, flips: float) -> dict:
    return {
        "images": 100,
        "melanomas": 20,
        "network": _head(auc, flips),
        "blend": _head(auc, flips),
    }


def _write(bench, name: str, sets: dict, inside: dict | None = None) -> None:
    body = {"created": "2026-12-06", "sets": sets, "inside_sources": inside or {}}
    (bench / name).write_text(json.dumps(body), encoding="utf-8")


@pytest.fixture
def bench(tmp_path):
    b = tmp_path / "benchmarks"
    b.mkdir()
    a, u = "a held out: a", "a held out: isic2020"
    # default seed: candidate +0.04 on a, +0.02 on isic2020
    _write(
        b,
        "recipe_cand.json",
        {
            a: {"shipped recipe": _entry(0.70, 0.10), "cand": _entry(0.74, 0.06)},
            u: {"shipped recipe": _entry(0.56, 0.0), "cand": _entry(0.58, 0.0)},
            "b held out: b": {"shipped recipe": _entry(0.6, 0.1), "cand": _entry(0.9, 0.1)},
        },
        {"a": {"shipped recipe": 0.62, "cand": 0.60}},
    )
    # seed 2: its own file carries the default-seed shipped figures, which must not be used
    _write(
        b,
        "recipe_cand-seed2.json",
        {
            a: {"shipped recipe": _entry(0.70, 0.10), "cand-seed2": _entry(0.65, 0.05)},
            u: {"shipped recipe": _entry(0.56, 0.0), "cand-seed2": _entry(0.53, 0.0)},
        },
        {"a": {"shipped recipe": 0.62, "cand-seed2": 0.64}},
    )
    _write(
        b,
        "recipe_seed2.json",
        {
            a: {"shipped recipe": _entry(0.70, 0.10), "seed2": _entry(0.66, 0.08)},
            u: {"shipped recipe": _entry(0.56, 0.0), "seed2": _entry(0.53, 0.0)},
        },
        {"a": {"shipped recipe": 0.62, "seed2": 0.63}},
    )
    return tmp_path


def test_each_seed_is_paired_with_the_shipped_recipe_of_that_seed(bench):
    pairs = seed_pairs("cand", root=bench)
    assert sorted(pairs) == [2, DEFAULT_SEED]
    r = compare(pairs)
    # only the sets both seeds scored
    assert sorted(r["sets"]) == ["a held out: a", "a held out: isic2020"]
    auc = r["sets"]["a held out: a"]["network"]["melanoma_roc_auc"]
    assert auc["2"] == {"candidate": 0.65, "shipped": 0.66, "change": -0.01}
    s = r["summary"]["network: melanoma_roc_auc"]
    # default seed: (+0.04 + 0.02) / 2 = +0.03; seed 2: (-0.01 + 0.0) / 2 = -0.005
    assert s["change_by_seed"] == {str(DEFAULT_SEED): 0.03, "2": -0.005}
    assert s["mean_change"] == pytest.approx(0.0125)
    assert s["seeds_agree"] is False
    assert s["shipped_seed_spread"] == pytest.approx(0.04)  # 0.70 against 0.66 on a
    flips = r["summary"]["network: alert_flips"]
    assert flips["sets"] == 2 and flips["seeds_agree"] is True  # both seeds steadier on a
    assert r["inside_sources"]["2"]["a"] == {"candidate": 0.64, "shipped": 0.63}
    bright = r["summary"]["network: alert_flips: bright"]
    assert bright["change_by_seed"]["2"] == pytest.approx((0.025 - 0.04) / 2)
    # a re-capture one seed's results lack is paired over the seeds that hold it
    path = bench / "benchmarks" / "recipe_seed2.json"
    body = json.loads(path.read_text())
    for by in body["sets"].values():
        for e in by.values():
            for h in ("network", "blend"):
                del e[h]["recaptures"]["jpeg"]
    path.write_text(json.dumps(body))
    again = compare(seed_pairs("cand", root=bench))
    assert list(again["summary"]["network: alert_flips: jpeg"]["change_by_seed"]) == [
        str(DEFAULT_SEED)
    ]
    assert len(again["summary"]["network: alert_flips: bright"]["change_by_seed"]) == 2
    assert again["summary"]["network: melanoma_roc_auc"]["sets"] == 2
    table = markdown(r, "cand")
    # alert flips under "bright": (-0.02 + 0) / 2 at the default seed, (-0.015 + 0) / 2 at seed 2
    assert "| bright | -0.9 pts / " in table
    assert "seed 2: cand / shipped" in table and "| no |" in table


def test_a_seed_without_its_shipped_run_is_refused_by_name(bench):
    (bench / "benchmarks" / "recipe_seed2.json").unlink()
    with pytest.raises(SystemExit, match="recipe_seed2.json"):
        seed_pairs("cand", root=bench)


def test_one_seed_pairs_alone_and_none_is_refused(bench):
    (bench / "benchmarks" / "recipe_cand.json").unlink()
    r = compare(seed_pairs("cand", root=bench))
    assert r["seeds"] == [2]
    assert r["summary"]["network: melanoma_roc_auc"]["mean_change"] == pytest.approx(-0.005)
    (bench / "benchmarks" / "recipe_cand-seed2.json").unlink()
    with pytest.raises(SystemExit, match="no seed holds both"):
        compare(seed_pairs("cand", root=bench))
