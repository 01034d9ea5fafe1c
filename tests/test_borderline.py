"""benchmarks.borderline: re-takes that changed the alert, inside the band and outside it."""

from __future__ import annotations

import numpy as np
import pytest

from benchmarks.borderline import band_figures, markdown
from benchmarks.run_heads import Heads


def _probs(mel: np.ndarray) -> np.ndarray:
    return np.stack([1 - mel, mel], axis=1)


def test_flips_are_counted_per_re_take_inside_and_outside_the_band():
    """Images near the threshold flip under a small nudge, those far from it do not; the
    test-time views (mirror, quarter turn) are not re-takes here."""
    rng = np.random.default_rng(0)
    n = 400
    mel = rng.uniform(0.01, 0.99, n)
    is_mel = mel > 0.6
    nudged = np.clip(mel + rng.normal(0, 0.03, n), 0.001, 0.999)
    heads = Heads(
        probs={"blend": _probs(mel)},
        moved={"blend": {"jpeg_q40": _probs(nudged), "mirror": _probs(1 - mel)}},
        names=np.arange(n).astype(str),
        is_mel=is_mel,
        allowed=np.ones((n, 2), bool),
        mel=1,
    )
    f = band_figures(heads, "blend", band=0.25)
    assert f["images"] == n and 0 < f["images_in_band"] < n
    assert f["flips_in_band"] > 0.1 and f["flips_in_band"] > 5 * f["flips_outside"]
    table = markdown({"band_log_odds": 0.25, "sets": {"r: o": {"blend": f, "network": f}}})
    assert "| r: o |" in table and "±0.25" in table
    heads.moved["blend"] = {"mirror": _probs(mel)}
    with pytest.raises(ValueError, match="re-captures"):
        band_figures(heads, "blend")


def test_the_shipped_blend_is_refitted_also_on_the_fitting_rows_re_captured_copies(
    tmp_path, monkeypatch
):
    """``head_parts(recaptured=True)``: the refit sees each fitting row's random re-captures
    as well (so it differs from the plain refit when the copies differ), and refuses re-captures
    that do not cover the fitting rows; the table gives its column, 'n/a' where it is missing."""
    from benchmarks import run_heads
    from benchmarks.borderline import SHIPPED
    from benchmarks.recapture_features import NAME
    from desktop.head import LinearHead

    rng = np.random.default_rng(1)
    n, d = 40, 3
    labels = np.array(["melanoma", "nevus"] * (n // 2))
    origins = np.array(["a"] * (n // 2) + ["b"] * (n // 2))
    x = rng.normal(size=(n, d)) + (labels == "melanoma")[:, None]
    np.savez(
        tmp_path / "rows.npz",
        classes=np.array(["melanoma", "nevus"]), names=np.array([f"{i}.jpg" for i in range(n)]),
        origins=origins, labels=labels, groups=np.array([f"g{i}" for i in range(n)]), pooled=x,
    )  # fmt: skip
    copies = x[None] + rng.normal(0, 2.0, size=(1, n, d))  # noisy re-captures of every row
    np.savez(tmp_path / NAME, draws=copies, draw_index=np.arange(n))
    head = LinearHead(np.zeros((d, 2)), np.zeros(2), 1.0)
    monkeypatch.setattr(run_heads, "network_head", lambda m: (head, 0.5))
    plain = run_heads.head_parts(tmp_path / "m.tflite", tmp_path, "b")
    shipped = run_heads.head_parts(tmp_path / "m.tflite", tmp_path, "b", recaptured=True)
    assert plain.refit[""].shape == shipped.refit[""].shape == (n // 2, 2)
    assert not np.allclose(plain.refit[""], shipped.refit[""])
    np.savez(tmp_path / NAME, draws=copies[:, :5], draw_index=np.arange(5))
    with pytest.raises(ValueError, match="do not cover"):
        run_heads.head_parts(tmp_path / "m.tflite", tmp_path, "b", recaptured=True)
    f = {"images": 10, "images_in_band": 2, "flips_in_band": 0.5, "flips_outside": 0.1}
    table = markdown({"band_log_odds": 0.25, "sets": {
        "r: o": {"blend": f, "network": f, SHIPPED: f}, "s: o": {"blend": f, "network": f}}})  # fmt: skip
    assert "| 2; 50.0 % / 10.0 % |" in table and table.rstrip().count("| n/a |") == 1


def test_the_card_gets_the_shipped_recipes_range_and_keeps_the_rest_of_its_band(tmp_path):
    """``--write-card``: the lowest and highest share over the shipped recipe's own held-out
    runs (a candidate recipe's runs do not count), into ``alert.borderline.other_origins`` only."""
    import json
    import shutil
    from pathlib import Path

    from benchmarks.borderline import SHIPPED, other_origins, write_other_origins
    from desktop.card import load_card
    from desktop.general import copy_beside

    def e(inside: float, outside: float) -> dict:
        return {SHIPPED: {"flips_in_band": inside, "flips_outside": outside}}

    sets = {
        "holdout-a: a": e(0.3, 0.02),
        "holdout-b: b": e(0.4, 0.05),
        "zoom-holdout-a: a": e(0.9, 0.9),  # another recipe's run
    }
    other = other_origins(sets)
    assert other is not None and other["origins"] == ["a", "b"]
    assert other["flips_in_band"] == [0.3, 0.4] and other["flips_outside"] == [0.02, 0.05]
    assert other_origins({"zoom-holdout-a: a": e(0.9, 0.9)}) is None
    root = Path(__file__).resolve().parent.parent / "assets"
    shutil.copyfile(root / "model.tflite", tmp_path / "model.tflite")
    card = json.loads((root / "model.json").read_text())
    copy_beside(card, root, tmp_path)
    (tmp_path / "model.json").write_text(json.dumps(card))
    write_other_origins(tmp_path / "model.json", other)
    after = json.loads((tmp_path / "model.json").read_text())["alert"]["borderline"]
    before = card["alert"]["borderline"]
    assert after["other_origins"] == other
    assert {k: v for k, v in after.items() if k != "other_origins"} == {
        k: v for k, v in before.items() if k != "other_origins"
    }
    assert load_card(tmp_path / "model.json").borderline.other.origins == 2
