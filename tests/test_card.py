"""The model card: a valid one loads; every kind of damage is a CardError with a useful message."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from desktop.card import (
    FORMAT_VERSION,
    MELANOMA,
    REQUIRED_KEYS,
    CardError,
    ModelCard,
    card_path_for,
    load_card,
    validate,
)
from desktop.preprocessing import Preprocessing

CLASSES = ["nevus", MELANOMA, "basal cell carcinoma", "seborrheic keratosis"]
CHANNELS = 3


def valid_card() -> dict[str, Any]:
    """A complete, self-consistent card, built here so the test owns its shape."""
    pre = Preprocessing(size=64)
    return {
        "format_version": FORMAT_VERSION,
        "model_version": "2025.01.01-abcdef12",
        "classes": list(CLASSES),
        "melanoma_index": 1,
        "input": {"name": "image", "size": 64},
        "preprocessing": pre.to_dict(),
        "outputs": {"probabilities": "probabilities", "features": "features"},
        "calibration": {"temperature": 1.3},
        "alert": {"melanoma_threshold": 0.25},
        "uncertainty": {"min_top_probability": 0.4},
        "cam": {
            "weights": [[0.1 * (c + k) for k in range(len(CLASSES))] for c in range(CHANNELS)],
            "bias": [0.0, 0.1, -0.1, 0.2],
        },
        "metrics": {"balanced_accuracy": 0.61},
        "training_data": {"images": 1000},
        "trainer_version": "1.0",
        "created": "2025-01-01T00:00:00+00:00",
        "intended_use": "Decision aid for clinicians.",
        "limitations": "Not a diagnosis.",
    }


def write(tmp_path: Path, data: Any, name: str = "model.json") -> Path:
    path = tmp_path / name
    path.write_text(json.dumps(data), encoding="utf-8")
    return path


def refused(data: Any, *fragments: str) -> CardError:
    """``validate`` and ``ModelCard.from_dict`` both refuse ``data`` with a one-line reason."""
    with pytest.raises(CardError) as info:
        validate(data)
    message = str(info.value)
    assert message and "\n" not in message
    for fragment in fragments:
        assert fragment in message, message
    with pytest.raises(CardError):
        ModelCard.from_dict(data)
    return info.value


# --------------------------------------------------------------------------- the happy path


def test_valid_card_loads_from_disk(tmp_path: Path) -> None:
    data = valid_card()
    card = load_card(write(tmp_path, data))
    assert card.classes == tuple(CLASSES)
    assert card.melanoma_index == 1 and card.classes[card.melanoma_index] == MELANOMA
    assert card.input_size == 64 and card.num_classes == 4
    assert card.preprocessing == Preprocessing(size=64)
    assert card.input_name == "image"
    assert (card.probabilities_output, card.features_output) == ("probabilities", "features")
    assert card.temperature == pytest.approx(1.3)
    assert card.melanoma_threshold == pytest.approx(0.25)
    assert card.min_top_probability == pytest.approx(0.4)
    assert len(card.cam_weights) == CHANNELS and all(len(r) == 4 for r in card.cam_weights)
    assert card.cam_bias == (0.0, 0.1, -0.1, 0.2)
    assert card.metrics == {"balanced_accuracy": 0.61}
    assert card.raw == data


def test_card_path_sits_beside_the_model(tmp_path: Path) -> None:
    assert card_path_for(tmp_path / "model.tflite") == tmp_path / "model.json"


def test_extra_keys_are_kept_not_rejected() -> None:
    data = valid_card()
    data["quantization"] = "int8"
    data["preprocessing"]["future_option"] = True
    assert ModelCard.from_dict(data).raw["quantization"] == "int8"


def test_numpy_scalars_from_the_trainer_are_accepted() -> None:
    data = valid_card()
    data["calibration"]["temperature"] = np.float32(1.5)
    data["preprocessing"]["size"] = np.int64(64)
    card = ModelCard.from_dict(data)
    assert card.temperature == 1.5 and type(card.preprocessing.size) is int


def test_utf8_bom_is_accepted(tmp_path: Path) -> None:
    path = tmp_path / "model.json"
    path.write_bytes(b"\xef\xbb\xbf" + json.dumps(valid_card()).encode())
    assert load_card(path).num_classes == 4


def test_non_ascii_text_is_fine(tmp_path: Path) -> None:
    data = valid_card()
    data["intended_use"] = "Entscheidungshilfe für Ärztinnen – 决策辅助"
    path = tmp_path / "model.json"
    path.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
    assert load_card(path).raw["intended_use"].startswith("Entscheidungshilfe")


# --------------------------------------------------------------------------- each breakage


@pytest.mark.parametrize("key", REQUIRED_KEYS)
def test_missing_key(key: str) -> None:
    data = valid_card()
    del data[key]
    refused(data, "missing", key)


def test_all_missing_keys_are_named_at_once() -> None:
    refused({"format_version": 1}, "model_version", "limitations")


@pytest.mark.parametrize("version", [0, 2, "1", 1.5, True, None, [1]])
def test_wrong_format_version(version: Any) -> None:
    data = valid_card()
    data["format_version"] = version
    refused(data, "format", "not supported")


def test_huge_format_version_message_stays_short() -> None:
    data = valid_card()
    data["format_version"] = ["x" * 10_000]
    assert len(str(refused(data, "format"))) < 200


@pytest.mark.parametrize(
    "classes",
    [
        ["nevus", MELANOMA, "nevus"],
        [MELANOMA],
        [],
        "nevus,melanoma",
        ["nevus", MELANOMA, ""],
        ["nevus", MELANOMA, 3],
        {"nevus": 0, MELANOMA: 1},
        None,
    ],
    ids=["duplicate", "one", "empty", "string", "blank-name", "number", "dict", "null"],
)
def test_bad_classes(classes: Any) -> None:
    data = valid_card()
    data["classes"] = classes
    refused(data, "classes")


@pytest.mark.parametrize("index", [-1, 4, 99, 1.0, True, "1", None])
def test_melanoma_index_out_of_range_or_not_an_index(index: Any) -> None:
    data = valid_card()
    data["melanoma_index"] = index
    refused(data, "melanoma_index")


def test_melanoma_index_pointing_at_another_class() -> None:
    data = valid_card()
    data["melanoma_index"] = 0  # "nevus": the alert would fire on the wrong class
    refused(data, "melanoma_index", "nevus")


@pytest.mark.parametrize(
    "section, key", [("alert", "melanoma_threshold"), ("uncertainty", "min_top_probability")]
)
@pytest.mark.parametrize("value", [-0.01, 1.01, 5, -1e9])
def test_probability_settings_outside_unit_interval(section: str, key: str, value: float) -> None:
    data = valid_card()
    data[section][key] = value
    refused(data, f"{section}.{key}", "[0, 1]")


@pytest.mark.parametrize("value", [0, 0.0, -1.0, -1e-9])
def test_non_positive_temperature(value: float) -> None:
    data = valid_card()
    data["calibration"]["temperature"] = value
    refused(data, "temperature", "positive")


@pytest.mark.parametrize(
    "value",
    [float("nan"), float("inf"), "1.0", None, True, pytest.param(10**400, id="10**400"), [1.0]],
    ids=repr,
)
@pytest.mark.parametrize(
    "section, key",
    [
        ("calibration", "temperature"),
        ("alert", "melanoma_threshold"),
        ("uncertainty", "min_top_probability"),
    ],
)
def test_non_numeric_settings(section: str, key: str, value: Any) -> None:
    data = valid_card()
    data[section][key] = value
    refused(data, f"{section}.{key}", "number")


@pytest.mark.parametrize("section", ["calibration", "alert", "uncertainty"])
def test_settings_section_not_an_object(section: str) -> None:
    data = valid_card()
    data[section] = [0.5]
    refused(data, section)


CamEdit = Callable[[dict[str, Any]], None]
CAM_BREAKAGES: dict[str, CamEdit] = {
    "weights-row-too-short": lambda cam: cam["weights"][0].pop(),
    "weights-row-too-long": lambda cam: cam["weights"][1].append(0.0),
    "weights-transposed": lambda cam: cam.update(
        weights=[list(col) for col in zip(*cam["weights"], strict=True)]
    ),
    "weights-empty": lambda cam: cam.update(weights=[]),
    "bias-too-short": lambda cam: cam["bias"].pop(),
    "bias-too-long": lambda cam: cam["bias"].append(1.0),
    "no-bias": lambda cam: cam.pop("bias"),
    "no-weights": lambda cam: cam.pop("weights"),
    "weights-strings": lambda cam: cam.update(weights=["abcd", "efgh"]),
    "weights-scalar": lambda cam: cam.update(weights=3),
    "bias-dict": lambda cam: cam.update(bias={"a": 1, "b": 2, "c": 3, "d": 4}),
}


@pytest.mark.parametrize("breakage", sorted(CAM_BREAKAGES))
def test_mismatched_cam_shapes(breakage: str) -> None:
    data = valid_card()
    CAM_BREAKAGES[breakage](data["cam"])
    refused(data, "cam")


@pytest.mark.parametrize("bad", [float("nan"), "0.1", None, True, float("inf")], ids=repr)
def test_cam_values_must_be_finite_numbers(bad: Any) -> None:
    data = valid_card()
    data["cam"]["weights"][2][3] = bad
    refused(data, "cam", "finite")
    data = valid_card()
    data["cam"]["bias"][0] = bad
    refused(data, "cam")


def test_cam_not_an_object() -> None:
    data = valid_card()
    data["cam"] = [[0.1] * 4]
    refused(data, "cam")


def test_input_size_differs_from_preprocessing_size() -> None:
    data = valid_card()
    data["input"]["size"] = 128
    refused(data, "input", "preprocessing size")


@pytest.mark.parametrize(
    "inp", [{"size": 64}, {"name": "", "size": 64}, {"name": 7, "size": 64}, "image", None]
)
def test_input_must_be_named(inp: Any) -> None:
    data = valid_card()
    data["input"] = inp
    refused(data, "input")


@pytest.mark.parametrize(
    "outputs",
    [{"probabilities": "p"}, {"features": "f"}, {"probabilities": None, "features": "f"}, ["p"]],
)
def test_outputs_must_name_both(outputs: Any) -> None:
    data = valid_card()
    data["outputs"] = outputs
    refused(data, "outputs")


@pytest.mark.parametrize(
    "pre",
    [
        {"size": 64, "resize": "crop"},
        {"size": 64, "color_constancy": "magic"},
        {"size": 4},
        {"size": 100_000},
        {"size": "64"},
        {"size": float("inf")},
        {"size": 64, "constancy_power": 0},
        "center_crop",
        ["size"],
        None,
    ],
    ids=repr,
)
def test_invalid_preprocessing(pre: Any) -> None:
    data = valid_card()
    data["preprocessing"] = pre
    refused(data, "preprocessing")


@pytest.mark.parametrize("version", ["", "   ", None, 3])
def test_model_version_must_be_text(version: Any) -> None:
    data = valid_card()
    data["model_version"] = version
    refused(data, "model_version")


def test_metrics_must_be_an_object() -> None:
    data = valid_card()
    data["metrics"] = [0.61]
    refused(data, "metrics")


@pytest.mark.parametrize("data", [None, [], "card", 1, [valid_card()]], ids=repr)
def test_not_an_object(data: Any) -> None:
    refused(data, "not a JSON object")


def test_validation_does_not_modify_the_card() -> None:
    data = valid_card()
    before = copy.deepcopy(data)
    ModelCard.from_dict(data)
    assert data == before


# --------------------------------------------------------------------------- files


def load_refused(path: Path, *fragments: str) -> CardError:
    with pytest.raises(CardError) as info:
        load_card(path)
    message = str(info.value)
    assert "\n" not in message
    for fragment in fragments:
        assert fragment in message, message
    return info.value


@pytest.mark.parametrize(
    "text",
    ['{"format_version": 1,', "", "not json", "{'single': 'quotes'}", '{"a": 1} trailing'],
    ids=["truncated", "empty", "words", "python-dict", "trailing"],
)
def test_invalid_json_file(tmp_path: Path, text: str) -> None:
    path = tmp_path / "model.json"
    path.write_text(text, encoding="utf-8")
    load_refused(path, "not valid JSON", "model.json")


def test_json_that_is_not_an_object(tmp_path: Path) -> None:
    load_refused(write(tmp_path, [1, 2, 3]), "not a JSON object")


def test_missing_file(tmp_path: Path) -> None:
    load_refused(tmp_path / "gone.json", "not found", "gone.json")


def test_non_utf8_file(tmp_path: Path) -> None:
    path = tmp_path / "model.json"
    path.write_bytes(json.dumps(valid_card()).replace("Not a", "Nicht \xfc").encode("latin-1"))
    load_refused(path, "cannot be read", "UTF-8")


def test_folder_instead_of_file(tmp_path: Path) -> None:
    folder = tmp_path / "model.json"
    folder.mkdir()
    load_refused(folder, "cannot be read")


def test_nul_byte_in_path(tmp_path: Path) -> None:
    load_refused(tmp_path / "mo\0del.json", "cannot be read")


def test_newline_in_path_keeps_message_on_one_line(tmp_path: Path) -> None:
    load_refused(tmp_path / "two\nlines.json", "two\\nlines.json")


def test_absurdly_deep_json(tmp_path: Path) -> None:
    path = tmp_path / "model.json"
    path.write_text("[" * 200_000 + "]" * 200_000, encoding="utf-8")
    load_refused(path, "model.json")


def test_number_too_long_to_parse(tmp_path: Path) -> None:
    path = tmp_path / "model.json"
    text = json.dumps(valid_card()).replace('"temperature": 1.3', '"temperature": ' + "9" * 5000)
    path.write_text(text, encoding="utf-8")
    load_refused(path, "model.json")


def test_json_nan_and_infinity_literals(tmp_path: Path) -> None:
    # Python's json writes NaN/Infinity happily; the card must still refuse them.
    data = valid_card()
    data["calibration"]["temperature"] = float("nan")
    load_refused(write(tmp_path, data), "temperature")
    data = valid_card()
    data["preprocessing"]["size"] = float("inf")
    load_refused(write(tmp_path, data), "preprocessing")


# --------------------------------------------------------------------------- property tests

JSONISH = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=8),
    lambda children: (
        st.lists(children, max_size=5) | st.dictionaries(st.text(max_size=8), children, max_size=5)
    ),
    max_leaves=25,
)


def _assert_only_card_error(data: Any) -> None:
    try:
        card = ModelCard.from_dict(data)
    except CardError as err:
        assert str(err) and "\n" not in str(err)
    else:
        assert isinstance(card, ModelCard)


@settings(max_examples=60, deadline=None)
@given(JSONISH)
def test_random_values_only_raise_card_error(data: Any) -> None:
    _assert_only_card_error(data)


@settings(max_examples=60, deadline=None)
@given(
    key=st.sampled_from(REQUIRED_KEYS),
    sub=st.one_of(st.none(), st.text(min_size=1, max_size=20)),
    value=JSONISH,
)
def test_one_corrupted_field_only_raises_card_error(key: str, sub: str | None, value: Any) -> None:
    """Near-valid cards are where a validator's blind spots are: replace one field or sub-field."""
    data = valid_card()
    if sub is not None and isinstance(data[key], dict) and data[key]:
        inner = sorted(data[key])
        data[key][inner[len(sub) % len(inner)]] = value
    else:
        data[key] = value
    _assert_only_card_error(data)


@settings(max_examples=40, deadline=None)
@given(
    weights=st.lists(
        st.lists(st.floats(allow_nan=True) | st.integers() | st.none(), max_size=6), max_size=4
    ),
    bias=st.lists(st.floats(allow_nan=True) | st.integers(), max_size=6),
)
def test_random_cam_only_raises_card_error(weights: list, bias: list) -> None:
    data = valid_card()
    data["cam"] = {"weights": weights, "bias": bias}
    _assert_only_card_error(data)


def test_deeply_nested_values_only_raise_card_error() -> None:
    deep: Any = "x"
    for _ in range(5000):
        deep = [deep]
    for key in ("format_version", "classes", "preprocessing", "cam", "input"):
        data = valid_card()
        data[key] = deep
        _assert_only_card_error(data)
    data = valid_card()
    data["preprocessing"]["resize"] = deep
    _assert_only_card_error(data)


# --------------------------------------------------------------------------- test-time views


def test_test_time_views_default_to_none_and_are_checked() -> None:
    assert ModelCard.from_dict(valid_card()).test_time_views == "none"  # an older card
    card = ModelCard.from_dict({**valid_card(), "test_time_views": "dihedral"})
    assert card.test_time_views == "dihedral"
    for bad in ("rotate", "", None, ["flips"], 8):
        refused({**valid_card(), "test_time_views": bad}, "test_time_views")


def test_the_app_reports_the_mean_over_the_cards_views_from_one_forward_each() -> None:
    """Through the shipped model: the probabilities are the mean of single forward passes
    over the views, the feature map (heat-map, scope) is the unchanged image's."""
    from desktop.imaging import model_views
    from desktop.inference import Classifier

    root = Path(__file__).resolve().parent.parent
    raw = json.loads((root / "assets" / "model.json").read_text(encoding="utf-8"))
    rng = np.random.default_rng(3)
    size = raw["preprocessing"]["size"]
    arr = rng.integers(0, 256, (size, size, 3), dtype=np.uint8)
    for views in ("none", "flips", "dihedral"):
        card = ModelCard.from_dict({**raw, "test_time_views": views})
        clf = Classifier(root / "assets" / "model.tflite", card=card)
        probs, feats = clf.probabilities(arr)
        singles = [clf.run(v) for v in model_views(arr, views)]
        assert len(singles) == {"none": 1, "flips": 4, "dihedral": 8}[views]
        if card.head is not None:  # a refitted head reads the mean of the views' pooled maps
            pooled = np.mean([f.astype(np.float64).mean(axis=(0, 1)) for _, f in singles], 0)
            assert np.allclose(probs, card.head.probabilities(pooled))
        else:
            assert np.allclose(probs, np.mean([p for p, _ in singles], axis=0))
        assert np.array_equal(feats, clf.run(arr)[1])
        assert probs.sum() == pytest.approx(1.0, abs=1e-5)
    # A lopsided image: the views disagree, so the mean is not the plain forward pass.
    arr[:, : size // 3] = 0
    flat = Classifier(root / "assets" / "model.tflite", card=ModelCard.from_dict(raw))
    tta = Classifier(
        root / "assets" / "model.tflite",
        card=ModelCard.from_dict({**raw, "test_time_views": "dihedral"}),
    )
    assert not np.allclose(flat.run(arr)[0], tta.probabilities(arr)[0])


# ----------------------------------------------------------------- quality.soft_focus


def soft_focus_card(**changes: Any) -> dict[str, Any]:
    from desktop import quality

    card = valid_card()
    block = {
        "refused_under": quality.MIN_SHARPNESS,
        "caution_under": quality.SOFT_SHARPNESS,
        "alert_threshold": card["alert"]["melanoma_threshold"],
        "kept_alert": 0.87,
        "kept_alert_sharp": 0.96,
    }
    card["quality"] = {"soft_focus": block | changes}
    return card


def test_soft_focus_figures_are_read_where_they_were_measured() -> None:
    """The figures hold for the limits and the alert threshold they were measured at: a card
    ``adapt`` moved, or limits changed since, reads none (the caution then quotes none)."""
    from desktop import quality

    assert ModelCard.from_dict(valid_card()).soft_focus is None
    assert ModelCard.from_dict(soft_focus_card()).soft_focus == quality.SoftFocus(0.87, 0.96)
    assert ModelCard.from_dict(soft_focus_card(alert_threshold=0.3)).soft_focus is None
    assert ModelCard.from_dict(soft_focus_card(caution_under=8.0)).soft_focus is None


@pytest.mark.parametrize(
    "changes",
    [
        {"kept_alert": 1.5},
        {"kept_alert_sharp": "most"},
        {"kept_alert": None},
        {"alert_threshold": True},
        {"refused_under": float("nan")},
    ],
)
def test_a_malformed_soft_focus_block_refuses_the_card(changes: dict[str, Any]) -> None:
    with pytest.raises(CardError, match="quality.soft_focus"):
        ModelCard.from_dict(soft_focus_card(**changes))
    for bad in ({"soft_focus": [0.87]}, [0.87]):
        with pytest.raises(CardError, match="quality.soft_focus"):
            ModelCard.from_dict(valid_card() | {"quality": bad})
