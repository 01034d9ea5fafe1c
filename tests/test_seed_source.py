"""benchmarks.seed_source: the class-share re-weighting and the paired copies it reports."""

from __future__ import annotations

import numpy as np

from benchmarks import seed_source as ss

CLASSES = ("melanoma", "nevus", "vascular lesion")


def _calibrated(shares: np.ndarray, n: int, rng: np.random.Generator) -> tuple[np.ndarray, ...]:
    """Labels drawn with ``shares`` and probabilities calibrated for uniform shares."""
    means = np.eye(3) * 2.0
    y = rng.choice(3, size=n, p=shares)
    x = means[y] + rng.normal(size=(n, 3))
    logits = x @ means.T - 0.5 * (means**2).sum(axis=1)  # Gaussian posterior, equal priors
    p = np.exp(logits - logits.max(axis=1, keepdims=True))
    return p / p.sum(axis=1, keepdims=True), y


def test_em_finds_the_class_shares_of_unlabelled_images():
    rng = np.random.default_rng(0)
    shares = np.array([0.15, 0.7, 0.15])
    p, _ = _calibrated(shares, 6000, rng)
    uniform = np.full(3, 1 / 3)
    est = ss.em_priors(p, uniform)
    assert np.allclose(est, shares, atol=0.03)
    assert not np.allclose(p.mean(axis=0), shares, atol=0.03)  # the plain mean is biased


def test_reweighting_to_the_true_shares_raises_accuracy():
    rng = np.random.default_rng(1)
    shares = np.array([0.1, 0.8, 0.1])
    p, y = _calibrated(shares, 4000, rng)
    q = ss.reweighted(p, np.full(3, 1 / 3), shares)
    assert np.allclose(q.sum(axis=1), 1.0)
    assert (q.argmax(1) == y).mean() > (p.argmax(1) == y).mean() + 0.02
    assert np.allclose(ss.reweighted(p, shares, shares), p)  # no change of shares, no change


def test_copies_pair_the_same_image_in_two_sources_with_one_label():
    p_good, p_bad = [0.1, 0.8, 0.1], [0.8, 0.1, 0.1]
    z = {
        "names": np.array(["ISIC_0000001.jpg", "ISIC_0000001.jpg", "ISIC_0000002.jpg",
                           "ISIC_0000002.jpg", "ISIC_0000003.jpg", "ISIC_0000003.jpg"]),
        "origins": np.array(["isic-9class", "rosendahl", "isic-9class", "isic2017",
                             "isic-9class", "vidir_modern"]),
        "labels": np.array(["nevus", "nevus", "nevus", "nevus", "nevus", "melanoma"]),
        "probabilities": np.array([p_bad, p_good, p_good, p_good, p_good, p_bad]),
    }  # fmt: skip
    out = ss.copies(z, CLASSES)
    assert out["ham10000"] == {
        "pairs": 1,
        "accuracy_seed_copy": 0.0,
        "accuracy_other_copy": 1.0,
        "only_seed_copy_right": 0,
        "only_other_copy_right": 1,
    }  # the third image's labels disagree: not a pair
    assert out["isic2017"]["pairs"] == 1 and out["isic2017"]["accuracy_seed_copy"] == 1.0

    seen = []

    def unsqueeze(rows):  # the seed copies of the HAM10000 pairs only, read right
        seen.extend(rows.tolist())
        return np.array([p_good] * len(rows))

    out = ss.copies(z, CLASSES, unsqueeze)
    assert seen == [0]
    assert out["ham10000"]["accuracy_seed_copy_unsqueezed"] == 1.0
    assert "accuracy_seed_copy_unsqueezed" not in out["isic2017"]


def test_in_source_pairs_each_internal_test_lesion_with_its_seed_copy():
    good, bad = [0.9, 0.05, 0.05], [0.05, 0.9, 0.05]
    z = {
        "classes": np.array(CLASSES),
        "names": np.array(["ISIC_0000001.jpg", "ISIC_0000001.jpg", "ISIC_0000002.jpg",
                           "ISIC_0000002.jpg", "ISIC_0000003.jpg"]),
        "origins": np.array(["isic-9class", "rosendahl", "isic-9class", "isic2017",
                             "isic-9class"]),
        "probabilities": np.array([bad, good, good, good, good]),
    }  # fmt: skip
    split = {
        "internal_test": [
            {"path": "/d/ham/ISIC_0000001.jpg", "class": "melanoma", "source": "ham10000"},
            {"path": "/d/17/ISIC_0000002.jpg", "class": "melanoma", "source": "isic2017"},
            {"path": "/d/9/ISIC_0000003.jpg", "class": "melanoma", "source": "isic-9class"},
        ]
    }  # the third is the seed's own copy: nothing to pair it with
    out = ss.in_source(z, split)
    assert out["images"] == 2 and out["melanomas"] == 2
    assert out["seed_copy"]["accuracy"] == 0.5 and out["kept_copy"]["accuracy"] == 1.0
    assert ss.in_source(z, {"internal_test": []}) == {}


def test_in_source_network_reads_each_backbone_with_its_own_last_layer(tmp_path, monkeypatch):
    """Two backbones' rows on the same lesions: each scored through its network head from the
    pooled features (not the stored probabilities); a backbone without rows is left out."""
    from benchmarks import refit_head
    from desktop.head import LinearHead

    names = np.array(["ISIC_0000001.jpg"] * 2 + ["ISIC_0000002.jpg"] * 2)
    origins = np.array(["isic-9class", "rosendahl"] * 2)
    wrong = np.full((4, 3), 1 / 3)  # stored probabilities the heads must not read
    for run, pooled in (("a", np.eye(3)[[0, 0, 0, 0]]), ("b", np.eye(3)[[1, 0, 1, 0]])):
        (tmp_path / run).mkdir()
        np.savez(
            tmp_path / run / "rows.npz",
            classes=np.array(CLASSES), names=names, origins=origins,
            probabilities=wrong, pooled=pooled,
        )  # fmt: skip
    monkeypatch.setattr(ss, "ROOT", tmp_path)
    monkeypatch.setattr(
        ss, "BACKBONES",
        {"a": ("a/m.tflite", "a/rows.npz"), "b": ("b/m.tflite", "b/rows.npz"),
         "c": ("c/m.tflite", "c/rows.npz")},
    )  # fmt: skip
    for run in "ab":
        (tmp_path / run / "m.tflite").write_bytes(b"")
    head = LinearHead(np.eye(3) * 5, np.zeros(3), 1.0)
    monkeypatch.setattr(refit_head, "network_head", lambda model: (head, 0.5))
    split = {
        "internal_test": [
            {"path": f"/d/ham/ISIC_000000{i}.jpg", "class": "melanoma", "source": "ham10000"}
            for i in (1, 2)
        ]
    }
    out = ss.in_source_network(split)
    assert set(out) == {"a", "b"}
    assert out["a"]["seed_copy"]["accuracy"] == 1.0
    assert out["b"]["seed_copy"]["accuracy"] == 0.0 and out["b"]["kept_copy"]["accuracy"] == 1.0


def test_a_run_measured_again_comes_first_and_the_others_are_kept(tmp_path, monkeypatch):
    """A recipe whose run is here is measured again and listed first; a recipe whose run is not
    (an earlier recipe's, a candidate's) keeps its stored figures and its date, and the same for
    the in-source backbones."""
    import json

    from benchmarks import seed_source as ss

    out = tmp_path / "seed_source.json"
    stored = {"runs": {"old recipe": {"date": "2026-12-03"}, "shipped recipe": {"date": "x"}}}
    stored["in_source_network"] = {"old recipe": {"a": 1}, "shipped recipe": {"a": 2}}
    out.write_text(json.dumps(stored))
    (tmp_path / "runs" / "features" / "new").mkdir(parents=True)
    (tmp_path / "runs" / "features" / "new" / "rows.npz").write_bytes(b"")
    (tmp_path / "runs" / "new").mkdir()
    (tmp_path / "runs" / "new" / "split.json").write_text("{}")
    monkeypatch.setattr(ss, "ROOT", tmp_path)
    monkeypatch.setattr(ss, "OUT", out)
    monkeypatch.setattr(ss, "RUNS", {"shipped recipe": "new", "gone": "missing"})
    monkeypatch.setattr(ss, "SHIPPED_ROWS", tmp_path / "none.npz")
    monkeypatch.setattr(ss, "split_file", lambda: tmp_path / "runs" / "new" / "split.json")
    monkeypatch.setattr(ss, "measure", lambda rows, run: {"date": "2026-12-07"})
    monkeypatch.setattr(ss, "in_source_network", lambda split: {"shipped recipe": {"a": 3}})
    monkeypatch.setattr(ss, "markdown", lambda r: "")
    assert ss.main([]) == 0
    r = json.loads(out.read_text())
    assert list(r["runs"]) == ["shipped recipe", "old recipe"]
    assert r["runs"]["shipped recipe"]["date"] == "2026-12-07"
    assert r["runs"]["old recipe"]["date"] == "2026-12-03"
    assert r["in_source_network"] == {"shipped recipe": {"a": 3}, "old recipe": {"a": 1}}
