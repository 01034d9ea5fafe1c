"""Size limits for the code: a function over 80 lines or a module over 500 lines is hard to
review and to test, so `make lint` (and tests/test_sizes.py) refuse new ones.

Today's offenders are listed in ``ALLOWED`` with their current sizes: they may shrink but not
grow. When one is split below the limit, delete its entry (the check says so).

``python -m devtools.sizes`` prints every breach and exits 1 if any.
"""

from __future__ import annotations

import ast
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("desktop", "trainer", "benchmarks")
MAX_FUNCTION_LINES = 80
MAX_MODULE_LINES = 500

# "path" for a module, "path::Qualified.name" for a function: the most lines it may have.
# None today: issue "Code health" (2026) split the last offender. A new entry caps one that
# cannot be split yet.
ALLOWED: dict[str, int] = {}


@dataclass(frozen=True)
class Size:
    key: str  # as in ALLOWED
    lines: int
    limit: int


def _functions(tree: ast.AST, prefix: str = "") -> Iterator[tuple[str, ast.AST]]:
    """Every function and method, nested ones included, with its dotted name."""
    for node in ast.iter_child_nodes(tree):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            name = f"{prefix}{node.name}"
            if not isinstance(node, ast.ClassDef):
                yield name, node
            yield from _functions(node, f"{name}.")
        else:
            yield from _functions(node, prefix)


def measure(root: Path = ROOT) -> list[Size]:
    """Sizes of every module and function over its limit, allowed or not."""
    found: list[Size] = []
    for package in PACKAGES:
        for path in sorted((root / package).rglob("*.py")):
            rel = path.relative_to(root).as_posix()
            text = path.read_text(encoding="utf-8")
            lines = len(text.splitlines())
            if lines > MAX_MODULE_LINES:
                found.append(Size(rel, lines, MAX_MODULE_LINES))
            for name, node in _functions(ast.parse(text, filename=rel)):
                length = node.end_lineno - node.lineno + 1  # type: ignore[attr-defined]
                if length > MAX_FUNCTION_LINES:
                    found.append(Size(f"{rel}::{name}", length, MAX_FUNCTION_LINES))
    return found


def breaches(sizes: list[Size], allowed: dict[str, int] = ALLOWED) -> list[str]:
    """A line per new offender and per allowed one that grew."""
    out = []
    for size in sizes:
        cap = allowed.get(size.key)
        if cap is None:
            out.append(f"{size.key}: {size.lines} lines (limit {size.limit}): split it")
        elif size.lines > cap:
            out.append(f"{size.key}: {size.lines} lines, grew past its allowed {cap}: shrink it")
    return out


def stale(sizes: list[Size], allowed: dict[str, int] = ALLOWED) -> list[str]:
    """Allowed entries that are now within the limit (or gone): delete them from ALLOWED."""
    over = {s.key for s in sizes}
    return sorted(key for key in allowed if key not in over)


def main() -> int:
    sizes = measure()
    problems = breaches(sizes)
    for line in problems:
        print(line, file=sys.stderr)
    for key in stale(sizes):
        print(f"{key} is within its limit now: delete it from ALLOWED in devtools/sizes.py")
    if not problems:
        print(
            f"sizes: no new function over {MAX_FUNCTION_LINES} lines or module over "
            f"{MAX_MODULE_LINES}; {len(ALLOWED)} known offenders, none grew"
        )
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
