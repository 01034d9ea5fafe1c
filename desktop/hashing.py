"""SHA-256 of a file: one implementation for the model seal, the case store, the
feature cache, the trainer's duplicate finder and the benchmarks."""

from __future__ import annotations

import hashlib
import os

CHUNK = 1 << 20  # models can be tens of MB: never read a whole file into memory


def sha256_file(path: str | os.PathLike[str]) -> str:
    """Hex SHA-256 of the file's bytes, read in chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while chunk := fh.read(CHUNK):
            digest.update(chunk)
    return digest.hexdigest()
