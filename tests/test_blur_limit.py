"""benchmarks.blur_limit: blurred copies binned by sharpness and compared with their sharp
original, through a stand-in classifier on pictures made here."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
from PIL import Image, ImageFilter

from benchmarks import blur_limit
from desktop import quality
from desktop.imaging import preprocess
from desktop.preprocessing import Preprocessing
from tests.fakes import lesion_image

CLASSES = ("melanoma", "nevus")


class SharpnessReader:
    """Calls a picture melanoma while it is sharp, nevus once blurred: the verdict follows
    the measure the limit compares, so the bins must show it."""

    card = SimpleNamespace(
        preprocessing=Preprocessing(size=256, color_constancy="none"), melanoma_index=0
    )

    def views(self, arr: np.ndarray) -> SimpleNamespace:
        p = 0.9 if quality.sharpness(arr) >= 10 else 0.1
        return SimpleNamespace(probabilities=np.array([p, 1 - p]))


def test_copies_binned_by_sharpness_against_their_original(tmp_path: Path) -> None:
    rows = []
    for i, label in enumerate(("melanoma", "nevus", "melanoma")):
        path = tmp_path / f"lesion-{i}.png"
        lesion_image(200, seed=i).save(path)
        rows.append((path, label, "clinic"))
    (tmp_path / "broken.png").write_bytes(b"not a picture")
    rows.append((tmp_path / "broken.png", "nevus", "clinic"))  # skipped, not fatal
    m = blur_limit.measure(SharpnessReader(), rows)
    assert m["sharpness"].shape == (3, len(blur_limit.RADII))
    assert np.all(np.diff(m["sharpness"], axis=1) < 0)  # more blur, less sharpness
    res = blur_limit.summarise(m, CLASSES, threshold=0.5)
    assert res["images"] == 3 and res["originals"]["same_class"] == 1.0
    assert res["originals"]["accuracy"] == pytest.approx(2 / 3)
    bins = res["by_sharpness"]
    assert sum(b["copies"] for b in bins) == 3 * (len(blur_limit.RADII) - 1)
    for b in bins:  # under 10 every copy changed its class and alert, over it none did
        hi = float("inf") if b["to"] is None else b["to"]
        if hi <= 10:
            assert b["same_class"] == 0.0 and b["same_alert"] == 0.0
        elif b["from"] >= 10:
            assert b["same_class"] == 1.0 and b["same_alert"] == 1.0
    heaviest = res["by_radius"][str(blur_limit.RADII[-1])]
    assert heaviest["refused"] == 1.0 and heaviest["cautioned"] == 0.0
    assert heaviest["same_alert"] == 0.0 and res["originals_refused"] == 0
    assert "| sharpness of the blurred copy |" in blur_limit.markdown(res)


def test_the_card_block_is_what_the_caution_quotes(tmp_path: Path) -> None:
    """--write-card puts the band's and the barely blurred copies' kept-alert shares into the
    card; the card reads them back and the caution quotes them; a card at another threshold
    is refused and left as it was."""
    import json

    from desktop.card import load_card
    from tests.fakes import card_dict

    band = {"copies": 40, "same_alert": 0.8666}
    res = {
        "images": 10,
        "refused_under": quality.MIN_SHARPNESS,
        "caution_under": quality.SOFT_SHARPNESS,
        "alert_threshold": 0.3,
        "caution_band": band,
        "barely_blurred": {"copies": 30, "same_alert": 0.9631},
    }
    card_path = tmp_path / "model.json"
    card_path.write_text(json.dumps(card_dict(threshold=0.3)), encoding="utf-8")
    assert load_card(card_path).soft_focus is None
    blur_limit.write_card_block(
        card_path, ("quality",), blur_limit.card_block(res), blur_limit._takes_it
    )
    card = load_card(card_path)
    assert card.soft_focus == quality.SoftFocus(0.8666, 0.9631)
    soft = np.asarray(lesion_image(300).filter(ImageFilter.GaussianBlur(4)))
    arr = preprocess(
        Image.fromarray(soft), Preprocessing(size=128, color_constancy="shades_of_gray")
    )
    (caution,) = quality.quality_cautions(arr, card.soft_focus)
    assert "87 times in 100" in caution and "96 times in 100" in caution
    with pytest.raises(SystemExit, match="threshold"):
        blur_limit.write_card_block(
            card_path,
            ("quality",),
            blur_limit.card_block(res | {"alert_threshold": 0.2}),
            blur_limit._takes_it,
        )
    assert load_card(card_path).soft_focus == card.soft_focus  # left as it was
    with pytest.raises(SystemExit, match="nothing to write"):
        blur_limit.card_block(res | {"caution_band": None})
