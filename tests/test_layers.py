"""The layers declared in pyproject.toml ([tool.importlinter]) hold, and the app core runs
without TensorFlow: a clinic PC has neither TensorFlow nor the trainer installed."""

from __future__ import annotations

import os
import pkgutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

import desktop

ROOT = Path(__file__).resolve().parents[1]
LINT_IMPORTS = Path(sys.executable).parent / "lint-imports"

# What the trainer may import from desktop/: everything else there is forbidden to it in
# pyproject.toml (contract trainer-uses-public-core). A new desktop module must be put on
# one side or the other, so this list and that contract change together.
PUBLIC_CORE = {
    "desktop.card",
    "desktop.alert_card",  # the card's alert blocks, read with the card
    "desktop.descriptor",  # what the feature maps say: pooled features, the scope's descriptor
    "desktop.features",
    "desktop.hashing",
    "desktop.general",  # the general network beside the model: its card block and forward pass
    "desktop.head",
    "desktop.imaging",
    "desktop.colour_constancy",  # the colour cast taken out of model input
    "desktop.preprocessing",  # the card's settings for turning an image into model input
    "desktop.inference",
    "desktop.integrity",
    "desktop.labelled",
    "desktop.lanes",  # the model's interpreters, one caller each: no Qt, no TensorFlow
    "desktop.pipeline",  # images worked on by every core: no Qt, no TensorFlow
    "desktop.pixel_cues",  # what the pixels alone rule out: the scope reads it
    "desktop.prediction",  # one image's result in numbers, returned by inference
    "desktop.quality",
    "desktop.recapture",  # a photo taken again (Pillow only): benchmarks and head augmentation
    "desktop.samples",  # the sample images' manifest: the window reads it, the trainer draws it
    "desktop.scope",
    "desktop.seal",  # writing a card's seal: the trainer's export seals the card it writes
    "desktop.verdict",
}


def _contracts() -> dict[str, dict]:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    return {c["id"]: c for c in config["tool"]["importlinter"]["contracts"]}


def test_import_contracts_are_kept() -> None:
    """Runs the same check as `make lint`, so CI (`make test`) enforces the layers too."""
    if not LINT_IMPORTS.exists():
        pytest.skip("import-linter is not installed (pip install -e '.[dev]')")
    proc = subprocess.run(
        [str(LINT_IMPORTS), "--no-logo", "--no-cache"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "0 broken" in proc.stdout


def test_every_desktop_module_is_public_core_or_forbidden_to_the_trainer() -> None:
    forbidden = set(_contracts()["trainer-uses-public-core"]["forbidden_modules"])
    children = {f"desktop.{m.name}" for m in pkgutil.iter_modules(desktop.__path__)}
    undecided = children - forbidden - PUBLIC_CORE
    assert not undecided, (
        f"decide whether {sorted(undecided)} is public core (PUBLIC_CORE here) or "
        "forbidden to the trainer (pyproject.toml, trainer-uses-public-core)"
    )
    assert not forbidden & PUBLIC_CORE


def test_app_core_modules_do_not_import_tensorflow_at_runtime() -> None:
    """Import every module of desktop/ outside desktop/qt/ in a fresh interpreter (lazy imports
    in functions are not covered here; import-linter sees those)."""
    code = (
        "import importlib, pkgutil, sys, desktop\n"
        "names = [m.name for m in pkgutil.walk_packages(desktop.__path__, 'desktop.')\n"
        "         if not m.name.startswith('desktop.qt')]\n"
        "for name in names:\n"
        "    importlib.import_module(name)\n"
        "bad = sorted(m for m in sys.modules if m.split('.')[0] in\n"
        "             ('tensorflow', 'keras', 'trainer', 'benchmarks', 'PySide6'))\n"
        "print(len(names), bad)\n"
        "sys.exit(1 if bad else 0)\n"
    )
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert int(proc.stdout.split()[0]) > 20, proc.stdout  # the walk found the modules
