"""The clinical photos' out-of-fold figures split by topic (benchmarks.scope_topics): the families
and topics get exactly the refusals the scope benchmark's scores file gives them."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from benchmarks import scope_topics
from benchmarks.scope_sides import CLINICAL
from desktop.card import ModelCard

MODEL = Path(__file__).resolve().parent.parent / "assets" / "model.tflite"
pytestmark = pytest.mark.skipif(not MODEL.is_file(), reason="no shipped model")


def _card() -> ModelCard:
    return ModelCard.from_dict(json.loads(MODEL.with_suffix(".json").read_text(encoding="utf-8")))


def _rows(path: Path, card: ModelCard, origins: list[str], groups: list[str]) -> None:
    """Rows as benchmarks.origin_features writes them: random features, no melanoma alert."""
    n = len(origins)
    rng = np.random.default_rng(0)
    probs = np.zeros((n, len(card.classes)))
    probs[:, card.classes.index("nevus")] = 1.0
    np.savez(
        path,
        labels=np.array(["nevus" if o != CLINICAL else "not dermoscopy" for o in origins]),
        origins=np.array(origins),
        groups=np.array(groups),
        names=np.array([f"{i}.jpg" for i in range(n)]),
        hashes=np.array(["0" * 64] * n),
        probabilities=probs,
        pooled=rng.random((n, len(card.cam_weights))),
        descriptors=rng.random((n, card.descriptor_width)).astype(np.float32),
        classes=np.array(card.classes),
        general=rng.random((n, card.general.features)).astype(np.float32),
        general_sha256=np.array(card.general.sha256),
    )


def test_each_topic_gets_the_refusals_of_its_own_photos(tmp_path: Path) -> None:
    card = _card()
    origins = ["isic2017"] * 3 + [CLINICAL] * 14
    groups = ["isic2017:a"] * 3 + [f"{CLINICAL}:Melanoma"] * 4 + [f"{CLINICAL}:Acne vulgaris"] * 10
    rows = tmp_path / "rows.npz"
    _rows(rows, card, origins, groups)
    # Out-of-fold scores against a limit of 0: refused below it, or by the pixels.
    score = np.array([5.0] * 3 + [-1, 1, 1, 1] + [-1] * 6 + [1] * 4 + [-1, 1])  # 2 pictures last
    pixels = np.zeros(len(score), bool)
    pixels[3 + 4 + 6] = True  # one acne photo above the limit, refused by its pixels
    scores = tmp_path / "scores.npz"
    np.savez(
        scores,
        origin=np.array([*origins, "picture:text", "picture:text"]),
        pixels=pixels,
        score=score,
        threshold=np.zeros(len(score)),
        caution=np.full(len(score), -10.0),
    )
    r = scope_topics.by_topic(rows, scores, MODEL)
    fam = r["families"]
    assert fam[scope_topics.LESIONS]["images"] == 4 and fam[scope_topics.LESIONS]["refused"] == 0.25
    assert fam[scope_topics.OTHERS]["images"] == 10 and fam[scope_topics.OTHERS]["refused"] == 0.7
    assert fam[scope_topics.OTHERS]["no_alert"] == 1.0  # no photo would raise the alert
    assert list(r["least_refused_topics"]) == ["Acne vulgaris"]  # Melanoma: under 10 photos
    assert r["lesion_topics"] == ["Melanoma"] and r["clinical_photos"] == 14
    assert "| topic: Acne vulgaris | 10 | 70.0 % |" in scope_topics.markdown(r)
    # The two pictures of the scores file, past the rows: one under the limit, one over it.
    assert r["pictures"] == {
        "text": {"images": 2, "refused": 0.5, "refused_by_pixels_or_quality": 0.0}
    }
    assert "| text | 2 | 50.0 % | 0.0 % |" in scope_topics.markdown(r)


def test_picture_kinds_come_least_refused_first() -> None:
    origin = np.array(["isic2017", "picture:text", "picture:natural", "picture:natural"])
    score = np.array([5.0, 1.0, -1.0, 1.0])
    pixels = np.array([False, True, False, False])
    kinds = scope_topics.picture_kinds(origin, score, np.zeros(4), pixels)
    assert list(kinds) == ["natural", "text"]  # 50 % refused, then 100 %
    assert kinds["text"] == {"images": 1, "refused": 1.0, "refused_by_pixels_or_quality": 1.0}


def test_a_scores_file_of_other_rows_is_refused(tmp_path: Path) -> None:
    card = _card()
    rows = tmp_path / "rows.npz"
    _rows(rows, card, ["isic2017", CLINICAL], ["isic2017:a", f"{CLINICAL}:Acne vulgaris"])
    scores = tmp_path / "scores.npz"
    z = {k: np.zeros(2) for k in ("score", "threshold", "caution")}
    np.savez(scores, origin=np.array([CLINICAL, "isic2017"]), pixels=np.zeros(2, bool), **z)
    with pytest.raises(ValueError, match="rows differ"):
        scope_topics.by_topic(rows, scores, MODEL)
