"""The general-network probe of the "is this dermoscopy" decision: same protocol as the shipped
fit, inputs compared on the same rows, the features cached against the rows' names."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from benchmarks import scope_general as sg
from benchmarks.scope_sides import CLINICAL, Sides


def _sides(rng: np.random.Generator) -> tuple[Sides, np.ndarray]:
    """Three dermoscopy origins and clinical photos the descriptor cannot tell apart, which the
    general features can (their second column)."""
    n_derm, n_clin = 3 * 120, 240
    n = n_derm + n_clin
    x = np.abs(rng.normal(1, 0.5, (n, 4)))  # the same for both sides
    general = np.abs(rng.normal(1, 0.3, (n, 3)))
    general[:n_derm, 1] += 3.0
    origin = np.array([f"o{i % 3}" for i in range(n_derm)] + [CLINICAL] * n_clin)
    s = Sides(
        x=x,
        y=(origin != CLINICAL).astype(int),
        origin=origin,
        group=np.array([f"g{i % 20}" for i in range(n)]),
        name=np.array([f"img{i}" for i in range(n)]),
        melanoma=np.r_[rng.random(n_derm) < 0.2, np.zeros(n_clin, bool)],
        alert=np.r_[np.zeros(n_derm, bool), rng.random(n_clin) < 0.5],
    )
    return s, general


def test_the_general_features_are_measured_beside_the_descriptor() -> None:
    s, general = _sides(np.random.default_rng(0))
    v = sg.variants(s, general)
    assert list(v) == [
        "lesion model's descriptor (shipped)",
        "general network's features",
        "both",
    ]
    assert v["both"].x.shape == (len(s.y), 7) and v["both"].origin is s.origin
    shipped = sg.measure(v["lesion model's descriptor (shipped)"], "dermoscopy-vs-other-logistic")
    both = sg.measure(v["both"], "dermoscopy-vs-other-logistic")
    assert both["clinical_refused"] > shipped["clinical_refused"] + 0.3
    assert both["clinical_assessed_with_alert"] <= 1 - both["clinical_refused"]
    for e in (shipped, both):
        assert set(e["kept"]) == {"o0", "o1", "o2"}
        assert min(e["kept"].values()) >= 0.99  # the limit keeps every left-out origin
        assert e["clinical_photos"] == 240
    table = sg.markdown({"method": "m", "inputs": {"a": shipped, "b": both}})
    assert "| b | " in table and f"{100 * both['clinical_refused']:.1f} %" in table


def test_features_are_read_back_only_for_the_same_rows(tmp_path: Path, monkeypatch) -> None:
    """A cache made for other rows is not reused: its names must match, in order."""
    from PIL import Image

    import trainer.pretrained

    calls = []

    class Fake:
        output_shape = (None, 2)

        def predict(self, x, verbose=0, batch_size=None):
            calls.append(len(x))
            return np.repeat(x.mean(axis=(1, 2, 3))[:, None], 2, axis=1)

    monkeypatch.setattr(trainer.pretrained, "imagenet_features", lambda size: Fake())
    rows = []
    for i, colour in enumerate(((200, 40, 40), (20, 20, 200), (90, 90, 90))):
        p = tmp_path / f"i{i}.png"
        Image.new("RGB", (40, 30), colour).save(p)
        rows.append((p, "nevus", "o", "g"))

    from desktop.card import load_card

    card = load_card(Path(__file__).resolve().parent.parent / "assets" / "model.json")
    out = tmp_path / "general.npz"
    first = sg.extract(rows, card, out)
    assert first.shape == (3, 2) and len(set(first[:, 0].round(6))) == 3
    assert sg.extract(rows, card, out).tolist() == first.tolist() and len(calls) == 1
    sg.extract(rows[::-1], card, out)  # other order: extracted again
    assert len(calls) == 2
