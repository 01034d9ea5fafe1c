"""Each training knob is documented once, beside its default in trainer/config.py, and
`python -m trainer --help` shows that text."""

from __future__ import annotations

from dataclasses import fields

from trainer.__main__ import build_parser
from trainer.config import TrainConfig, help_of


def test_every_knob_has_its_help_where_it_is_declared() -> None:
    missing = [f.name for f in fields(TrainConfig) if not f.metadata.get("help", "").strip()]
    assert missing == []


def test_the_options_show_the_declared_help_and_default() -> None:
    parser = build_parser()
    options = {a.dest: a for a in parser._actions}  # argparse lists them nowhere else
    defaults = TrainConfig()
    for f in fields(TrainConfig):
        action = options[f.name]
        assert action.default == getattr(defaults, f.name) or f.name in ("data", "out")
        assert action.help.startswith(help_of(f.name)), f.name


def test_the_options_build_the_same_config_as_the_defaults() -> None:
    args = build_parser().parse_args(["--data", "d", "--out", "o"])
    names = {f.name for f in fields(TrainConfig)}
    config = TrainConfig(**{k: v for k, v in vars(args).items() if k in names})
    assert config == TrainConfig(data=("d",), out="o")


def test_the_exposure_level_is_checked_and_reaches_the_card_preprocessing() -> None:
    """`--exposure-level` is what the card's preprocessing (and so the app) levels to."""
    import pytest

    from trainer.train import preprocessing_for

    args = build_parser().parse_args(["--data", "d", "--exposure-level", "170"])
    names = {f.name for f in fields(TrainConfig)}
    config = TrainConfig(**{k: v for k, v in vars(args).items() if k in names})
    assert preprocessing_for(config).to_dict()["level"] == 170
    assert "level" not in preprocessing_for(TrainConfig()).to_dict()
    for bad in ({"exposure_level": 20}, {"exposure_level": 170, "color_constancy": "none"}):
        with pytest.raises(ValueError, match="exposure_level"):
            TrainConfig(**bad)
