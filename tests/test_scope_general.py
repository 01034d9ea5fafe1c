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
    v = sg.variants(s, {64: general[:, :2], 128: general})
    assert list(v) == [
        "lesion model's descriptor (shipped)",
        "general network's features (64 px)",
        "both (64 px)",
        "general network's features (128 px)",
        "both (128 px)",
    ]
    assert v["both (128 px)"].x.shape == (len(s.y), 7) and v["both (128 px)"].origin is s.origin
    v = {
        "lesion model's descriptor (shipped)": v["lesion model's descriptor (shipped)"],
        "both": v["both (128 px)"],
    }
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
    """The app's own general network on each row's views; a cache made for other rows, or by
    another network, is not reused."""
    from PIL import Image

    from desktop.card import load_card
    from desktop.general import GeneralNetwork, GeneralSpec

    calls = []

    class Counting(GeneralNetwork):
        def features(self, views):
            calls.append(len(views))
            return super().features(views)

    folder, block = tmp_path / "net", None
    import keras

    from trainer.general import export

    image = keras.Input((32, 32, 3))
    model = keras.Model(image, keras.layers.GlobalAveragePooling2D()(image), name="mean")
    block = export(folder / "g.tflite", 32, model)
    net = Counting(GeneralSpec.from_dict(block), folder)
    monkeypatch.setattr(sg, "FOLDER", tmp_path)
    rows = []
    for i, colour in enumerate(((200, 40, 40), (20, 20, 200), (90, 90, 90))):
        p = tmp_path / f"i{i}.png"
        Image.new("RGB", (40, 30), colour).save(p)
        rows.append((p, "nevus", "o", "g"))
    card = load_card(Path(__file__).resolve().parent.parent / "assets" / "model.json")
    first = sg.extract(rows, card, {32: net})[32]
    assert first.shape == (3, 3) and len(set(first[:, 0].round(3))) == 3
    assert len(calls) == 3 and calls[0] == 8  # every view of each image
    assert sg.extract(rows, card, {32: net})[32].tolist() == first.tolist() and len(calls) == 3
    sg.extract(rows[::-1], card, {32: net})  # other order: extracted again
    assert len(calls) == 6
    other = export(folder / "h.tflite", 32, keras.Model(image, 2 * model.output, name="twice"))
    again = sg.extract(rows[::-1], card, {32: GeneralNetwork(GeneralSpec.from_dict(other), folder)})
    assert np.allclose(again[32], 2 * first[::-1], rtol=0.05)  # another network: not the cache
