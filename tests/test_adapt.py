"""Clinic adaptation: the numpy fit on synthetic features, and the command end to end on
tiny synthetic clinics with the shipped model (no ../shared)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from desktop.adapt import fit
from desktop.adapt.clinic import ClinicData
from desktop.adapt.run import main as adapt_main
from desktop.card import load_card
from desktop.hashing import sha256_file
from desktop.labelled.labels import BENIGN_UNSPECIFIED, CLASSES
from tests.conftest import make_dataset
from tests.fakes import lesion_image, tree_hash

MEL = CLASSES.index("melanoma")
NEV = CLASSES.index("nevus")


def _synthetic(n: int, shift: float, seed: int) -> tuple[fit.Data, fit.Base, np.ndarray]:
    """Two classes; the clinic's 'device' adds a shift along a direction the base head reads
    as melanoma, so the base alert fires on every nevus of this clinic."""
    rng = np.random.default_rng(seed)
    d = 16
    signal = rng.normal(size=d)
    device = rng.normal(size=d)
    y = rng.random(n) < 0.3
    x = rng.normal(size=(n, d)) + np.outer(y, signal) + shift * device
    x += np.outer(rng.normal(size=n), device)  # device noise the base head is sensitive to
    weights = np.zeros((d, len(CLASSES)))
    weights[:, MEL] = signal + 1.5 * device
    base = fit.Base(weights=weights, bias=np.zeros(len(CLASSES)), temperature=1.0)
    allowed = np.zeros((n, len(CLASSES)), dtype=bool)
    allowed[y, MEL] = True
    allowed[~y, NEV] = True
    return fit.Data(x, allowed, np.arange(n).astype(str)), base, y


def test_adaptation_gains_cross_validated_auc_on_a_shifted_clinic() -> None:
    data, base, y = _synthetic(240, shift=2.0, seed=1)
    before = fit.roc_auc(fit.softmax(data.x @ base.weights)[:, MEL], y)
    probs, thresholds = fit.nested_oof(data, base, MEL, k=4)
    after = fit.figures(probs, data.allowed, MEL, thresholds)
    assert after.roc_auc > before + 0.05
    assert after.sensitivity >= 0.8


def test_classes_absent_from_the_clinic_keep_the_base_head() -> None:
    data, base, _ = _synthetic(200, shift=1.0, seed=2)
    rng = np.random.default_rng(0)
    base = fit.Base(rng.normal(size=base.weights.shape), rng.normal(size=len(CLASSES)), 0.8)
    trainable = fit.trainable_classes(data)
    assert trainable[MEL] and trainable[NEV] and trainable.sum() == 2
    head = fit.fit_head(data, base, lam=0.01, trainable=trainable)
    x = data.x[:5]
    base_logits = (x @ base.weights + base.bias) / base.temperature
    kept = ~trainable
    assert np.allclose(head.logits(x)[:, kept], base_logits[:, kept], atol=1e-8)
    assert not np.allclose(head.logits(x)[:, MEL], base_logits[:, MEL], atol=1e-3)


def test_partial_label_allows_every_class_but_melanoma() -> None:
    data = ClinicData([Path("a"), Path("b")], [BENIGN_UNSPECIFIED, "nevus"], ["", ""])
    allowed = data.allowed_matrix(CLASSES)
    assert not allowed[0, MEL] and allowed[0].sum() == len(CLASSES) - 1
    assert allowed[1].tolist() == [c == "nevus" for c in CLASSES]


def test_threshold_reaches_the_target_sensitivity() -> None:
    rng = np.random.default_rng(3)
    scores = rng.random(500)
    positive = rng.random(500) < 0.2
    t = fit.threshold_for_sensitivity(scores, positive, 0.9)
    assert (scores[positive] >= t).mean() >= 0.9
    # It splits the images as the highest such threshold does (the last kept positive's
    # score), but halfway to the next lower score: rounding cannot move an image across it.
    last = np.sort(scores[positive])[::-1][int(np.ceil(0.9 * positive.sum())) - 1]
    assert np.array_equal(scores >= t, scores >= last)
    gap = last - scores[scores < last].max()
    assert t == pytest.approx(last - gap / 2)


def test_specificity_at_sensitivity_counts_the_negatives_under_that_threshold() -> None:
    rng = np.random.default_rng(5)
    scores = rng.random(400)
    positive = rng.random(400) < 0.25
    t = fit.threshold_for_sensitivity(scores, positive, 0.9)
    spec = fit.specificity_at_sensitivity(scores, positive, 0.9)
    assert spec == pytest.approx((scores[~positive] < t).mean())
    # A set the score separates perfectly keeps every negative quiet; the reversed one none.
    assert fit.specificity_at_sensitivity(positive * 1.0, positive, 0.9) == 1.0
    assert fit.specificity_at_sensitivity(1.0 - positive, positive, 0.9) == 0.0
    # Asking for more of the positives never leaves more negatives quiet.
    assert fit.specificity_at_sensitivity(scores, positive, 0.99) <= spec


def test_roc_auc_matches_the_pairwise_definition() -> None:
    rng = np.random.default_rng(4)
    s = rng.integers(0, 5, 60).astype(float)  # ties on purpose
    p = rng.random(60) < 0.4
    pairs = [(a > b) + 0.5 * (a == b) for a in s[p] for b in s[~p]]
    assert fit.roc_auc(s, p) == pytest.approx(np.mean(pairs))


def test_groups_stay_within_one_fold() -> None:
    groups = np.array([f"g{i // 3}" for i in range(90)])
    positive = np.array([i % 7 == 0 for i in range(90)])
    folds = fit.folds(groups, positive, 5)
    for g in np.unique(groups):
        assert len(set(folds[groups == g])) == 1


def test_folds_are_at_most_one_per_melanoma_group_and_at_least_two() -> None:
    """A fold without a melanoma cannot set a threshold: the command and the benchmark
    count folds by the groups that hold one, never by melanoma images."""
    data, _, y = _synthetic(60, shift=0.0, seed=3)
    assert fit.fold_count(data, MEL, 5) == 5  # each image its own group
    groups = np.where(y, "one lesion", np.arange(60).astype(str))  # every melanoma one lesion
    lesion = fit.Data(data.x, data.allowed, groups)
    assert fit.fold_count(lesion, MEL, 5) == 2
    three = np.where(y, np.array(["a", "b", "c"])[np.arange(60) % 3], groups)
    assert fit.fold_count(fit.Data(data.x, data.allowed, three), MEL, 5) == 3


def test_adapt_writes_only_an_adapted_model_that_ranks_melanomas_better() -> None:
    def figures(auc: float) -> fit.Figures:
        return fit.Figures(
            images=100,
            melanomas=20,
            roc_auc=auc,
            sensitivity=0.9,
            specificity=0.5,
            balanced_accuracy=0.6,
        )

    assert fit.adapted_is_better(figures(0.70), figures(0.71))
    assert not fit.adapted_is_better(figures(0.70), figures(0.70))
    assert not fit.adapted_is_better(figures(0.70), figures(float("nan")))


def test_recaptured_copies_teach_the_head_to_lean_on_what_a_retake_keeps() -> None:
    """Two features carry the label; a re-take scrambles the second (a JPEG artefact, say).
    Fitted also on copies, the head leans on the first; every figure is still the images'."""
    rng = np.random.default_rng(5)
    n = 300
    y = rng.random(n) < 0.4
    x = np.stack([y + rng.normal(0, 0.8, n), y + rng.normal(0, 0.5, n)], axis=1)
    copies = x[None].copy()
    copies[0, :, 1] = rng.permutation(x[:, 1])  # the re-take keeps feature 0 only
    allowed = np.zeros((n, len(CLASSES)), dtype=bool)
    allowed[y, MEL], allowed[~y, NEV] = True, True
    base = fit.Base(np.zeros((2, len(CLASSES))), np.zeros(len(CLASSES)), 1.0)
    groups = np.arange(n).astype(str)
    plain = fit.Data(x, allowed, groups)
    both = fit.Data(x, allowed, groups, copies)
    trainable = fit.trainable_classes(plain)

    def lean(data: fit.Data) -> float:
        w = fit.fit_head(data, base, 0.01, trainable).weights[:, MEL]
        return abs(w[1]) / abs(w[0])

    assert lean(plain) > 1.0 > lean(both)
    choice = fit.choose(both, base, MEL, k=3)
    assert choice.oof_probabilities.shape == (n, len(CLASSES))  # the images, not the copies
    assert both.subset(np.array([4, 7])).copies.shape == (1, 2, 2)
    with pytest.raises(ValueError, match="copies"):
        fit.Data(x, allowed, groups, copies[:, :10])


def test_image_weights_decide_which_group_the_head_follows() -> None:
    """Two origins label the same feature in opposite ways: the head follows the one that
    weighs more, equal weights land in between, and a weight of the wrong shape is refused."""
    rng = np.random.default_rng(7)
    n = 200
    x = rng.normal(size=(2 * n, 1))
    first = np.arange(2 * n) < n
    y = np.where(first, x[:, 0] > 0, x[:, 0] < 0)
    allowed = np.zeros((2 * n, len(CLASSES)), dtype=bool)
    allowed[y, MEL], allowed[~y, NEV] = True, True
    base = fit.Base(np.zeros((1, len(CLASSES))), np.zeros(len(CLASSES)), 1.0)
    groups = np.arange(2 * n).astype(str)
    trainable = fit.trainable_classes(fit.Data(x, allowed, groups))

    def slope(weight: np.ndarray | None) -> float:
        w = fit.fit_head(fit.Data(x, allowed, groups, weight=weight), base, 0.01, trainable)
        return float(w.weights[0, MEL] - w.weights[0, NEV])

    assert slope(np.where(first, 9.0, 1.0)) > 1.0
    assert slope(np.where(first, 1.0, 9.0)) < -1.0
    assert abs(slope(None)) < 0.5
    data = fit.Data(x, allowed, groups, weight=np.where(first, 9.0, 1.0))
    assert data.subset(np.array([0, n])).weight.tolist() == [9.0, 1.0]
    with pytest.raises(ValueError, match="weight"):
        fit.Data(x, allowed, groups, weight=np.ones(3))
    with pytest.raises(ValueError, match="weight"):
        fit.Data(x, allowed, groups, weight=np.zeros(2 * n))


# --- the command, on synthetic clinics with the shipped model ---------------------------------
def _clinic(root: Path, melanomas: int = 24, nevi: int = 26) -> Path:
    """Two class folders, a folder with a label outside the nine classes, one broken file."""
    make_dataset(root, classes=("melanoma",), per_class=melanomas, size=96, seed=1)
    make_dataset(root, classes=("nevus",), per_class=nevi, size=96, seed=2, first_id=500)
    make_dataset(root, classes=("eczema",), per_class=3, size=96, seed=3, first_id=900)
    (root / "nevus" / "ISIC_9999999.jpg").write_bytes(b"not a jpeg at all")
    return root


@pytest.fixture(scope="module")
def adapted(tmp_path_factory) -> tuple[Path, Path, str, int, str, str]:
    base = tmp_path_factory.mktemp("adapt")
    clinic = _clinic(base / "clinic")
    before = tree_hash(clinic)
    out = base / "out"
    import contextlib
    import io

    stdout, stderr = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(stdout), contextlib.redirect_stderr(stderr):
        code = adapt_main(["--data", str(clinic), "--out", str(out), "--force", "--folds", "3"])
    assert tree_hash(clinic) == before, "adapt wrote into the clinic's folder"
    return clinic, out, before, code, stdout.getvalue(), stderr.getvalue()


def test_adapt_writes_a_complete_model_the_app_loads(adapted) -> None:
    clinic, out, _, code, stdout, _ = adapted
    assert code == 0, stdout
    card = load_card(out / "model.json")
    assert card.head is not None and card.adaptation is not None
    block = card.adaptation
    assert block["images"] == 50
    assert block["images_per_class"] == {"melanoma": 24, "nevus": 26}
    assert set(block["cross_validation"]) >= {"base", "adapted", "folds"}
    assert "melanoma ROC AUC" in stdout and "adapted" in stdout
    text = (out / "model.json").read_text()
    assert str(clinic) not in text and "ISIC_00" not in text  # no paths, no file names
    assert (out / "report.md").is_file() and (out / "roc.png").is_file()
    assert Image.open(out / "roc.png").size[0] > 100

    from desktop.inference import Classifier

    clf = Classifier(out / "model.tflite")
    pred = clf.predict_image(Image.open(next((clinic / "melanoma").iterdir())))
    assert abs(float(pred.probabilities.sum()) - 1) < 1e-6
    assert pred.melanoma_threshold == pytest.approx(block["melanoma_threshold"])


def test_adapt_reports_what_it_left_out(adapted) -> None:
    _, _, _, _, _, stderr = adapted
    assert "label not in the label map: eczema" in stderr
    assert "unreadable image" in stderr and "ISIC_9999999.jpg" in stderr


def test_classify_uses_the_adapted_model(adapted, capsys) -> None:
    from desktop.cli import parse_args, run

    clinic, out, *_ = adapted
    code = run(
        parse_args(
            ["--classify", str(clinic / "melanoma"), "--json", "--model", str(out / "model.tflite")]
        )
    )
    records = json.loads(capsys.readouterr().out)
    assert code == 0 and len(records) == 24
    assert all(
        r["probabilities"] is None or abs(sum(r["probabilities"].values()) - 1) < 1e-6
        for r in records
    )


def test_rerun_extracts_only_new_images(adapted, tmp_path, monkeypatch) -> None:
    clinic, out, *_ = adapted
    import desktop.features as features

    calls = tmp_path / "decoded.txt"  # a file: the command line decodes in forked children
    real = features.load_image

    def counted(path, pre):  # noqa: ANN001, ANN202
        with calls.open("a", encoding="utf-8") as f:
            f.write(f"{os.fspath(path)}\n")
        return real(path, pre)

    monkeypatch.setattr(features, "load_image", counted)
    code = adapt_main(["--data", str(clinic), "--out", str(out), "--force", "--folds", "3"])
    assert code == 0
    assert len(calls.read_text(encoding="utf-8").splitlines()) == 1  # only the unreadable file


def test_too_few_melanomas_says_how_many_more(tmp_path, capsys) -> None:
    clinic = _clinic(tmp_path / "clinic", melanomas=8, nevi=30)
    code = adapt_main(["--data", str(clinic), "--out", str(tmp_path / "out")])
    err = capsys.readouterr().err
    assert code == 2
    assert "12 more melanomas" in err
    assert not (tmp_path / "out" / "model.json").exists()


def test_unknown_layout_names_the_layouts(tmp_path, capsys) -> None:
    folder = tmp_path / "photos"
    folder.mkdir()
    (folder / "notes.txt").write_text("hello")
    code = adapt_main(["--data", str(folder), "--out", str(tmp_path / "out")])
    err = capsys.readouterr().err
    assert code == 2 and "no known layout" in err and "image,label" in err


def test_output_inside_the_data_folder_is_refused(tmp_path, capsys) -> None:
    clinic = _clinic(tmp_path / "clinic")
    before = tree_hash(clinic)
    code = adapt_main(["--data", str(clinic), "--out", str(clinic / "adapted")])
    assert code == 2 and "never writes into" in capsys.readouterr().err
    assert tree_hash(clinic) == before


def test_an_adapted_model_is_not_adapted_again(adapted, tmp_path, capsys) -> None:
    clinic, out, *_ = adapted
    code = adapt_main(
        [
            "--data",
            str(clinic),
            "--out",
            str(tmp_path / "again"),
            "--model",
            str(out / "model.tflite"),
        ]
    )
    assert code == 2 and "already adapted" in capsys.readouterr().err


def test_the_model_facts_say_the_figures_are_this_clinics_cross_validated(adapted) -> None:
    from desktop.verdict import model_facts

    _, out, *_ = adapted
    facts = " ".join(model_facts(load_card(out / "model.json")))
    assert "this clinic's images" in facts and "cross-validated" in facts
    assert "held-out test images" not in facts


def test_the_feature_cache_is_keyed_by_the_cards_head() -> None:
    """Cached probabilities come from the card's head: another head must not reuse them."""
    import dataclasses

    from desktop.features import cache_key
    from desktop.head import LinearHead
    from desktop.inference import Classifier

    clf = Classifier()
    other = Classifier(
        card=dataclasses.replace(
            clf.card,
            head=LinearHead(
                np.zeros((len(clf.card.cam_weights), clf.card.num_classes)),
                np.zeros(clf.card.num_classes),
                1.0,
            ),
        )
    )
    assert cache_key(clf) != cache_key(other)


def test_a_feature_cache_without_descriptors_is_rebuilt_not_trusted(tmp_path) -> None:
    """A cache from before the descriptors (pooled features only, under the same key) cannot
    give the "is this dermoscopy" decision what it reads: it is extracted again."""
    from desktop.descriptor import DESCRIPTOR
    from desktop.features import CACHE_NAME, cache_key, extract
    from desktop.inference import Classifier

    clf = Classifier()
    path = tmp_path / "a.png"
    lesion_image(120, seed=1).save(path)
    out = tmp_path / "cache"
    out.mkdir()
    channels = len(clf.card.cam_weights)
    np.savez(
        out / CACHE_NAME,
        key=np.array(cache_key(clf)),
        hashes=np.array([sha256_file(path)]),
        probabilities=np.full((1, clf.card.num_classes), 1 / clf.card.num_classes),
        pooled=np.zeros((1, channels)),
    )
    feats = extract(clf, [path], cache_dir=out)
    general = clf.card.general.features if clf.card.general is not None else 0
    assert feats.descriptors.shape == (1, len(DESCRIPTOR) * channels + general)
    np.testing.assert_array_equal(feats.pooled, feats.descriptors[:, :channels])
    assert feats.pooled.any()  # extracted, not the stale zeros
    with np.load(out / CACHE_NAME) as z:  # and the cache now holds them
        np.testing.assert_array_equal(z["descriptors"], feats.descriptors)


def test_recaptured_copies_are_extracted_once_seeded_by_content(tmp_path, monkeypatch) -> None:
    """Each image's copies come beside it, the same copies for the same file wherever it lies,
    kept in the cache: a re-run decodes nothing again."""
    import shutil

    import desktop.features as features
    from desktop.inference import Classifier

    clf = Classifier()
    paths = []
    for i in range(3):
        paths.append(tmp_path / f"l{i}.png")
        lesion_image(140, seed=10 + i).save(paths[-1])
    twin = tmp_path / "twin" / "l0.png"  # the same file elsewhere
    twin.parent.mkdir()
    shutil.copyfile(paths[0], twin)
    out = tmp_path / "cache"
    feats = features.extract(clf, [*paths, twin], cache_dir=out, recaptures=2)
    channels = len(clf.card.cam_weights)
    assert feats.copies is not None and feats.copies.shape == (2, 4, channels)
    assert np.array_equal(feats.copies[:, 0], feats.copies[:, 3])  # seeded by content
    assert not np.allclose(feats.copies[0], feats.pooled)  # a copy is not its image
    assert not np.allclose(feats.copies[0], feats.copies[1])  # nor another draw
    opened = []
    real = features.open_image
    monkeypatch.setattr(features, "open_image", lambda *a, **k: opened.append(a) or real(*a, **k))
    again = features.extract(clf, [*paths, twin], cache_dir=out, recaptures=2)
    assert opened == [] and np.array_equal(again.copies, feats.copies)
    assert features.extract(clf, paths, cache_dir=out).copies is None  # only when asked
