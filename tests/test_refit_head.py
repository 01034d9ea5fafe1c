"""benchmarks.refit_head: what the card says about sources kept out of training."""

from __future__ import annotations

from pathlib import Path

from benchmarks.refit_card import out_of_source
from desktop.general import copy_beside


def _held(images: int, sens: float, spec: float, auc: float) -> dict:
    h = {"images": images, "sensitivity": sens, "specificity": spec, "roc_auc": auc}
    h |= {"accuracy": 0.5, "balanced_accuracy": 0.4}
    return {"blend": {"holdout": h}, "refit": {"holdout": {**h, "sensitivity": 0.0}}}


def test_out_of_source_is_the_mean_over_every_held_out_origin_with_its_worst():
    held = {"b-clinic": _held(100, 0.9, 0.3, 0.7), "a-clinic": _held(300, 0.7, 0.5, 0.6)}
    oos = out_of_source(held, "blend")
    assert oos["origins"] == ["a-clinic", "b-clinic"]
    assert oos["images"] == 400
    assert oos["melanoma_sensitivity"] == 0.8 and oos["melanoma_specificity"] == 0.4
    assert oos["worst_melanoma_sensitivity"] == 0.7 and oos["worst_melanoma_roc_auc"] == 0.6
    assert "2 origins" in oos["source"]
    assert out_of_source(held, "refit")["melanoma_sensitivity"] == 0.0  # the shipped head's
    assert out_of_source({"a-clinic": held["a-clinic"]}, "blend")["source"] == "a-clinic"


def test_the_network_head_is_the_cards_own_last_layer_not_the_shipped_head(tmp_path):
    """Once a refitted head ships, the card's ``cam`` is that head: blending it with a refit
    would blend the refit with itself. The network's layer is the one kept in ``head.network``."""
    import json
    import shutil

    import numpy as np

    from benchmarks.refit_head import network_head

    root = Path(__file__).resolve().parent.parent / "assets"
    shutil.copyfile(root / "model.tflite", tmp_path / "model.tflite")
    card = json.loads((root / "model.json").read_text())
    copy_beside(card, root, tmp_path)
    card.pop("integrity", None)
    cam = np.asarray(card["cam"]["weights"])
    card["head"] = {
        **(card.get("head") or {}),
        "network": {
            "weights": (cam * 2).tolist(),
            "bias": card["cam"]["bias"],
            "temperature": 0.5,
            "melanoma_threshold": 0.123,
        },
    }
    (tmp_path / "model.json").write_text(json.dumps(card))
    head, threshold = network_head(str(tmp_path / "model.tflite"))
    assert np.allclose(head.weights, cam * 2) and head.temperature == 0.5 and threshold == 0.123
    del card["head"]
    (tmp_path / "model.json").write_text(json.dumps(card))
    head, _ = network_head(str(tmp_path / "model.tflite"))
    assert np.allclose(head.weights, cam)  # a card without a refitted head: its own layer


def test_writing_the_head_keeps_the_exports_out_of_source_figure_until_refits_exist(tmp_path):
    import json

    import numpy as np

    from benchmarks.refit_card import write_card
    from desktop.head import LinearHead

    export = {"source": "isic2017", "melanoma_sensitivity": 0.8, "melanoma_specificity": 0.4}
    card = {
        "model_version": "x",
        "cam": {"weights": [[0.0, 1.0]], "bias": [0.0, 0.0]},
        "calibration": {"temperature": 1.0},
        "alert": {"melanoma_threshold": 0.5},
        "metrics": {"out_of_source": export, "ece_sampling_floor": 0.02},
    }
    path = tmp_path / "model.json"
    path.write_text(json.dumps(card))
    entry = {
        "head": LinearHead(np.array([[0.5, 0.5]]), np.zeros(2), 1.0),
        "threshold": 0.3,
        "validation": {"sensitivity": 0.9, "specificity": 0.5},
        "test": {"accuracy": 0.7},
    }
    run = {"penalty": 0.01, "fit_images": 10, "blend": entry}
    write_card(path, run, "blend", {})
    written = json.loads(path.read_text())
    assert written["metrics"]["out_of_source"] == export
    assert written["head"]["kind"] == "blend" and written["alert"]["melanoma_threshold"] == 0.3
    figures = {"images": 5, "sensitivity": 1.0, "specificity": 0.2, "roc_auc": 0.6,
               "accuracy": 0.5, "balanced_accuracy": 0.5}  # fmt: skip
    held = {
        "o": {"blend": {"holdout": figures}, "recipe": {}},  # the card's own (default) recipe
        "p": {"blend": {"holdout": figures}, "recipe": {"consistency": 4.0}},  # another recipe
        "q": {"blend": {"holdout": figures}},  # a refit that never said its recipe
    }
    write_card(path, run, "blend", held)
    assert json.loads(path.read_text())["metrics"]["out_of_source"]["origins"] == ["o"]
    card["config"] = {"consistency": 4.0, "out": "runs/shipped"}  # the model of recipe "p"
    path.write_text(json.dumps(card))
    write_card(path, run, "blend", held)
    assert json.loads(path.read_text())["metrics"]["out_of_source"]["origins"] == ["p"]


def test_a_recipe_is_what_a_config_changes_from_the_defaults_but_where_it_was_held_out():
    from trainer.config import TrainConfig, recipe

    shipped = TrainConfig(data=("a", "b"), consistency=4.0).to_dict()
    held_out = shipped | {"holdout_source": "b", "out": "runs/holdout-b"}
    assert recipe(shipped) == recipe(held_out) == {"data": ["a", "b"], "consistency": 4.0}
    older = {k: v for k, v in shipped.items() if k != "consistency"}  # a card from before it
    assert recipe(older) == {"data": ["a", "b"]} != recipe(shipped | {"seed": 2})


def test_recaptured_copies_join_the_fit_with_their_images_label_and_group(tmp_path):
    import numpy as np
    import pytest

    from benchmarks.recapture_features import NAME
    from benchmarks.refit_head import _with_copies, recaptured_rows
    from desktop.adapt import fit

    rows = tmp_path / "rows.npz"
    draws = np.arange(2 * 3 * 4, dtype=np.float32).reshape(2, 3, 4)  # 2 draws of rows 0, 2, 3
    np.savez(tmp_path / NAME, draws=draws, draw_index=np.array([0, 2, 3]))
    copies = recaptured_rows(rows, 5)
    assert copies.shape == (2, 5, 4)
    assert np.array_equal(copies[1, 2], draws[1, 1]) and np.isnan(copies[:, 1]).all()
    train = fit.Data(
        np.ones((2, 4)), np.array([[True, False], [False, True]]), np.array(["a", "b"])
    )
    both = _with_copies(train, copies[:, [0, 3]])
    x, allowed = both.fitted_on()
    assert x.shape == (6, 4) and np.array_equal(x[2:4], copies[0, [0, 3]])
    assert np.array_equal(allowed[4:], train.allowed)  # each copy with its image's label
    assert np.array_equal(both.subset(np.array([1])).copies, copies[:, [3]])  # and fold
    with pytest.raises(SystemExit, match="no re-captured copy"):
        _with_copies(train, copies[:, [0, 1]])  # row 1 was never re-captured
    with pytest.raises(SystemExit, match="recapture_features"):
        recaptured_rows(tmp_path / "elsewhere" / "rows.npz", 5)


def test_the_card_says_when_the_head_was_fitted_on_recaptured_copies(tmp_path):
    import json

    import numpy as np

    from benchmarks.refit_card import write_card
    from desktop.head import LinearHead

    card = {
        "model_version": "x",
        "cam": {"weights": [[0.0, 1.0]], "bias": [0.0, 0.0]},
        "calibration": {"temperature": 1.0},
        "alert": {"melanoma_threshold": 0.5},
        "metrics": {},
    }
    path = tmp_path / "model.json"
    entry = {
        "head": LinearHead(np.array([[0.5, 0.5]]), np.zeros(2), 1.0),
        "threshold": 0.3,
        "validation": {"sensitivity": 0.9, "specificity": 0.5},
        "test": {"accuracy": 0.7},
    }
    for copies, said in ((0, False), (2, True)):
        path.write_text(json.dumps(card))
        run = {"penalty": 0.01, "fit_images": 10, "blend": entry, "recaptured_copies": copies}
        write_card(path, run, "blend", {})
        head = json.loads(path.read_text())["head"]
        assert head["recaptured_copies"] == copies
        assert ("2 random re-captures" in head["method"]) is said


def test_the_network_model_of_a_card_without_a_refitted_head_is_that_card(tmp_path):
    """`make ship` measures isic2020 on the network model before it refits the head, so the
    export's card (no ``head``) is the network's own; a refitted card keeps it in head.network."""
    import json
    import shutil

    import pytest

    from benchmarks.refit_head import network_model

    root = Path(__file__).resolve().parent.parent / "assets"
    shutil.copyfile(root / "model.tflite", tmp_path / "model.tflite")
    card = json.loads((root / "model.json").read_text())
    copy_beside(card, root, tmp_path)
    for key in ("head", "integrity"):
        card.pop(key, None)
    (tmp_path / "model.json").write_text(json.dumps(card))
    made = json.loads(
        network_model(tmp_path / "model.json", tmp_path / "net").with_suffix(".json").read_text()
    )
    assert made["cam"] == card["cam"] and made["alert"] == card["alert"]
    assert made["model_version"] == card["model_version"] + "-network-head"
    card["head"] = {"kind": "blend"}  # a refitted head that lost the network's own: refused
    (tmp_path / "model.json").write_text(json.dumps(card))
    with pytest.raises(SystemExit, match="head.network"):
        network_model(tmp_path / "model.json", tmp_path / "net2")


def test_the_out_of_source_update_rewrites_only_those_figures_from_its_recipes_refits(tmp_path):
    import json

    from benchmarks.refit_card import update_out_of_source

    card = {
        "config": {"consistency": 4.0},
        "head": {"kind": "blend"},
        "alert": {"melanoma_threshold": 0.3, "borderline": {"band": 0.1}},
        "metrics": {"accuracy": 0.7, "out_of_source": {"source": "isic2017"}},
        "integrity": {"sha256": "x"},
    }
    path = tmp_path / "model.json"
    path.write_text(json.dumps(card))
    older = {"a": _held(100, 0.9, 0.3, 0.7) | {"recipe": {}}}
    assert not update_out_of_source(path, older)  # another recipe's runs: nothing written
    assert json.loads(path.read_text()) == card
    ours = older | {"b": _held(300, 0.7, 0.5, 0.6) | {"recipe": {"consistency": 4.0}}}
    assert update_out_of_source(path, ours)
    written = json.loads(path.read_text())
    assert written["metrics"]["out_of_source"]["origins"] == ["b"]
    assert written["alert"] == card["alert"] and written["metrics"]["accuracy"] == 0.7
    assert "integrity" not in written  # to be sealed again
