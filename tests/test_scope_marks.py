"""Marked copies in the "is this dermoscopy" fit (benchmarks.marks): patches, ink and rulers
drawn onto dermoscopy images are positives of their origin, left out with it, and never part
of an origin's limit or its figures."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from benchmarks import scope_sides as sides_mod
from benchmarks.marks import KINDS, marked
from desktop.inference import Classifier
from tests.fakes import lesion_image

SHIPPED = Path(__file__).resolve().parent.parent / "assets" / "model.tflite"


def test_a_marked_copy_keeps_the_size_changes_pixels_and_is_seeded() -> None:
    img = lesion_image(240)
    seen = set()
    for seed in range(12):
        out, kinds = marked(img, np.random.default_rng(seed))
        again, same_kinds = marked(img, np.random.default_rng(seed))
        assert out.size == img.size and out.mode == "RGB"
        assert np.array_equal(np.asarray(out), np.asarray(again)) and kinds == same_kinds
        changed = np.abs(np.asarray(out, int) - np.asarray(img, int)).max(axis=2) > 40
        assert changed.mean() > 0.002  # something was drawn, not only the optics' softening
        seen.update(kinds.split("+"))
        assert set(kinds.split("+")) <= set(KINDS)
    assert seen == set(KINDS)  # every kind of mark is drawn


def _sides() -> sides_mod.Sides:
    """Two origins, each with two images and a marked copy of one; one clinical photo.
    Origin b's image '1.jpg' has the file name of a's (the same ISIC image in two sources)."""
    names = ["1.jpg", "2.jpg", "marks:1.jpg", "1.jpg", "3.jpg", "marks:3.jpg", "c.jpg"]
    origin = ["a", "a", "a", "b", "b", "b", sides_mod.CLINICAL]
    n = len(names)
    return sides_mod.Sides(
        x=np.arange(n, dtype=float)[:, None],
        y=np.array([1, 1, 1, 1, 1, 1, 0]),
        origin=np.array(origin),
        group=np.array(origin),
        name=np.array(names),
        melanoma=np.array([False, True, True, False, False, False, False]),
        alert=np.zeros(n, bool),
    )


def test_held_out_scores_leave_out_every_copy_and_score_only_the_origins_own(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    s = _sides()
    fitted: dict[str, list[str]] = {}

    class Scores:
        def score(self, x: np.ndarray) -> np.ndarray:
            return x[:, 0]

    def fit_on(s_: sides_mod.Sides, rows: np.ndarray, fit: object) -> Scores:
        fitted[str(len(fitted))] = [
            f"{o}/{nm}" for o, nm in zip(s_.origin[rows], s_.name[rows], strict=True)
        ]
        return Scores()

    monkeypatch.setattr(sides_mod, "fit_on", fit_on)
    scores = sides_mod.held_out_scores(s, s.y == 0, None)
    assert list(scores) == ["a", "b"]
    assert list(scores["a"]) == [0.0, 1.0] and list(scores["b"]) == [3.0, 4.0]  # no copies
    a_out, b_out = fitted["0"], fitted["1"]
    # a held out: its images, its copy and b's image of the same name are left out; b's other
    # image and b's marked copy are positives, the clinical photo a negative.
    assert sorted(a_out) == ["b/3.jpg", "b/marks:3.jpg", f"{sides_mod.CLINICAL}/c.jpg"]
    assert sorted(b_out) == ["a/2.jpg", f"{sides_mod.CLINICAL}/c.jpg"]  # a's 1.jpg and its copy

    per = sides_mod.limits(s, {"a": np.array([5.0, 0.5]), "b": np.array([4.0, 3.0])})[2]
    assert per["a"] == 0.5  # a's own melanoma (2.jpg), not its marked copy's row
    assert sides_mod.own(s, "a").tolist() == [True, True, False, False, False, False, False]


def test_marked_rows_are_positives_of_their_origin_through_the_apps_path(tmp_path: Path) -> None:
    if not SHIPPED.is_file():
        pytest.skip("no shipped model")
    clf = Classifier(SHIPPED)
    paths = []
    for i, origin in enumerate(("a", "a", "a", "b", "b")):
        p = tmp_path / f"{origin}{i}.png"
        lesion_image(200, seed=i).save(p)
        paths.append((p, origin))
    (tmp_path / "broken.png").write_bytes(b"not a png")
    paths.append((tmp_path / "broken.png", "b"))
    rows = sides_mod.marked_rows(clf, paths, per_origin=2)
    again = sides_mod.marked_rows(clf, paths, per_origin=2)
    assert np.all(rows.y == 1) and list(rows.origin).count("a") == 2
    assert 1 <= list(rows.origin).count("b") <= 2  # the broken file is skipped, not fatal
    assert all(n.startswith(sides_mod.MARKED) for n in rows.name)
    assert set(rows.group) == {sides_mod.MARKED + "a", sides_mod.MARKED + "b"}
    assert np.array_equal(rows.x, again.x) and np.all(np.isfinite(rows.x))
    assert sides_mod.marked(rows).all()
    plain = sides_mod.marked_rows(clf, paths, per_origin=0)
    assert len(plain.y) == 0
