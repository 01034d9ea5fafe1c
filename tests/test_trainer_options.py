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
