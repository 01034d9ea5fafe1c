"""The training run folder: every file a run writes, by name, and its one reader and writer.

A run folder is the trainer's only output and the input of ``export``, ``analyse``, the
benchmarks and the scope fit. Its file names used to be spelled out in a dozen modules;
here they are spelled once, so renaming or adding a file is one change, and a missing file
is reported the same way (:class:`RunFileMissing`) wherever it is read.

Layout::

    config.json  audit.json  split.json  balance.json    data stage (config first of all)
    checkpoints/{last.keras, best.weights.h5, state.json} fit (resumable)
    cache/<split>.npz                                    decoded images, reused on resume
    model.tflite  model_float32.tflite  model.keras      export
    report.json  model.json  report.md  plots/*.png      evaluation, card, report
    model.installed.json  report.installed.md            ``export --out-of-source``

No TensorFlow here: every tool that reads a run imports this module first.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from trainer.config import TrainConfig

CARD = "model.json"
MODEL = "model.tflite"
REPORT_MD = "report.md"


class RunFileMissing(FileNotFoundError):
    """A file the caller needs is not in the run folder (an unfinished or foreign run)."""

    def __init__(self, path: Path, what: str) -> None:
        super().__init__(f"{what} not found: {path} (has the run got this far?)")
        self.path, self.what = path, what


def write_json(path: Path, data: dict[str, Any]) -> None:
    """Indented JSON with a final newline; numpy scalars and arrays and paths as plain JSON."""
    path.write_text(json.dumps(data, indent=2, default=_json_default) + "\n", encoding="utf-8")


def read_json(path: Path, what: str | None = None) -> dict[str, Any]:
    """A JSON file, or :class:`RunFileMissing` naming it when it is not there."""
    try:
        return json.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise RunFileMissing(Path(path), what or Path(path).name) from None


def _json_default(obj: Any) -> Any:
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if isinstance(obj, Path):
        return str(obj)
    raise TypeError(f"not JSON serialisable: {type(obj).__name__}")


def read_cache(path: Path, key: str) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
    """Decoded images ``(x, y, kept)`` saved under ``key``; None when absent or stale."""
    if not path.is_file():
        return None
    with np.load(path, allow_pickle=False) as z:
        if str(z["key"]) != key:
            return None
        return z["x"], z["y"], z["kept"]


def write_cache(path: Path, x: np.ndarray, y: np.ndarray, kept: list[int], key: str) -> None:
    """Save decoded images atomically (temp file + rename): a killed run leaves no half file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp.npz")
    np.savez(tmp, x=x, y=y, kept=np.array(kept, dtype=np.int64), key=np.array(key))
    tmp.replace(path)


class RunFolder:
    """Paths, readers and writers of one run folder; nothing is read until asked."""

    def __init__(self, path: Path | str) -> None:
        self.path = Path(path)

    def __repr__(self) -> str:
        return f"RunFolder({str(self.path)!r})"

    @property
    def name(self) -> str:
        return self.path.name

    # -- paths ---------------------------------------------------------------------------

    @property
    def config(self) -> Path:
        return self.path / "config.json"

    @property
    def audit(self) -> Path:
        return self.path / "audit.json"

    @property
    def split(self) -> Path:
        return self.path / "split.json"

    @property
    def balance(self) -> Path:
        return self.path / "balance.json"

    @property
    def report_json(self) -> Path:
        return self.path / "report.json"

    @property
    def report_md(self) -> Path:
        return self.path / REPORT_MD

    @property
    def card(self) -> Path:
        return self.path / CARD

    @property
    def model(self) -> Path:
        """The shipped model (what ``export`` installs)."""
        return self.path / MODEL

    @property
    def model_float32(self) -> Path:
        """The float model, for benchmarks."""
        return self.path / "model_float32.tflite"

    @property
    def model_keras(self) -> Path:
        return self.path / "model.keras"

    @property
    def installed_card(self) -> Path:
        """The card with another run's out-of-source check added (``export --out-of-source``)."""
        return self.path / "model.installed.json"

    @property
    def installed_report(self) -> Path:
        return self.path / "report.installed.md"

    @property
    def plots(self) -> Path:
        return self.path / "plots"

    @property
    def work(self) -> Path:
        """Scratch space of the data stage (augmented images)."""
        return self.path / "work"

    @property
    def cache_dir(self) -> Path:
        return self.path / "cache"

    def cache(self, split: str) -> Path:
        """Decoded images of one split (``train`` or an evaluation split)."""
        return self.cache_dir / f"{split}.npz"

    def probs(self, split: str) -> Path:
        """Shipped-model probabilities of one split (``operating-points``)."""
        return self.path / f"{split}_probs.npz"

    @property
    def operating_points(self) -> Path:
        return self.path / "operating_points.json"

    @property
    def checkpoints(self) -> Path:
        return self.path / "checkpoints"

    @property
    def last_checkpoint(self) -> Path:
        """Model and optimizer state after the last finished epoch."""
        return self.checkpoints / "last.keras"

    @property
    def best_weights(self) -> Path:
        return self.checkpoints / "best.weights.h5"

    @property
    def state(self) -> Path:
        """Epoch, best epoch, history and times; written after ``last.keras``."""
        return self.checkpoints / "state.json"

    # -- readers and writers -------------------------------------------------------------

    def read_config(self) -> TrainConfig:
        """The run's configuration (a setting added since is at its default)."""
        return TrainConfig.from_dict(read_json(self.config, "config.json"))

    def write_config(self, config: TrainConfig) -> None:
        write_json(self.config, config.to_dict())

    def read_audit(self) -> dict[str, Any]:
        return read_json(self.audit, "audit.json")

    def write_audit(self, audit: dict[str, Any]) -> None:
        write_json(self.audit, audit)

    def read_split(self) -> dict[str, Any]:
        return read_json(self.split, "split.json")

    def write_split(self, split: dict[str, Any]) -> None:
        write_json(self.split, split)

    def split_records(self, name: str) -> list[tuple[Path, str]]:
        """(path, class) of one split: the one reader of ``split.json`` for every tool.

        Older runs listed bare paths (class = the folder name); newer ones list records.
        """
        out = []
        for row in self.read_split().get(name) or []:
            if isinstance(row, str):
                out.append((Path(row), Path(row).parent.name))
            else:
                out.append((Path(row["path"]), row["class"]))
        return out

    def split_sources(self, name: str) -> dict[Path, str]:
        """Each image of one split with the source it was read from (older runs kept none)."""
        rows = self.read_split().get(name) or []
        return {Path(r["path"]): r["source"] for r in rows if isinstance(r, dict) and "source" in r}

    def read_balance(self) -> dict[str, Any]:
        return read_json(self.balance, "balance.json")

    def write_balance(self, before: dict[str, int], after: dict[str, int]) -> None:
        write_json(self.balance, {"before": before, "after": after})

    def read_report(self) -> dict[str, Any]:
        return read_json(self.report_json, "report.json")

    def write_report(self, report: dict[str, Any]) -> None:
        write_json(self.report_json, report)

    def read_report_md(self) -> str:
        try:
            return self.report_md.read_text(encoding="utf-8")
        except FileNotFoundError:
            raise RunFileMissing(self.report_md, REPORT_MD) from None

    def write_report_md(self, text: str) -> None:
        self.report_md.write_text(text, encoding="utf-8")

    def read_card(self) -> dict[str, Any]:
        return read_json(self.card, "model card (model.json)")

    def write_card(self, card: dict[str, Any]) -> None:
        write_json(self.card, card)

    def read_state(self) -> dict[str, Any]:
        """The checkpoint state; empty before the first epoch has finished."""
        return json.loads(self.state.read_text()) if self.state.is_file() else {}

    def interrupted_epoch(self) -> int | None:
        """The last finished epoch of a fit that stopped before export (None: no such fit)."""
        if (self.path / MODEL).is_file() or not self.last_checkpoint.is_file():
            return None
        epoch = self.read_state().get("epoch")
        return int(epoch) if epoch else None

    def same_settings(self, config: TrainConfig) -> bool:
        """Whether ``config`` would train what the saved one does (the data folders compared
        resolved, so a relative and an absolute path to one folder agree)."""
        saved = self.read_config().to_dict()
        new = config.to_dict()
        for d in (saved, new):
            d.pop("out", None)
            d["data"] = [str(Path(x).resolve()) for x in d.get("data", [])]
        return saved == new

    def write_state(self, state: dict[str, Any]) -> None:
        self.state.write_text(json.dumps(state, indent=1))

    def write_probs(self, split: str, probs: np.ndarray, y: np.ndarray) -> None:
        np.savez(self.probs(split), probs=probs, y=y)

    def read_probs(self, split: str) -> tuple[np.ndarray, np.ndarray]:
        if not self.probs(split).is_file():
            raise RunFileMissing(self.probs(split), f"{split} probabilities")
        with np.load(self.probs(split), allow_pickle=False) as z:
            return z["probs"], z["y"]

    def write_operating_points(self, result: dict[str, Any]) -> None:
        write_json(self.operating_points, result)

    def need(self, *paths: Path) -> None:
        """Stop with :class:`RunFileMissing` on the first of ``paths`` that is not there,
        before any slow import or work."""
        if not self.path.is_dir():
            raise RunFileMissing(self.path, "run folder")
        for p in paths:
            if not p.exists():
                raise RunFileMissing(p, p.name)
