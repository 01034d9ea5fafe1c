"""No new over-long function or module, and the known ones do not grow (devtools/sizes.py)."""

from __future__ import annotations

from pathlib import Path

from devtools import sizes


def test_no_new_or_grown_offenders() -> None:
    assert sizes.breaches(sizes.measure()) == []


def test_a_new_long_function_and_a_grown_module_are_reported(tmp_path: Path) -> None:
    pkg = tmp_path / "desktop"
    pkg.mkdir()
    body = "".join(f"        x{i} = {i}\n" for i in range(sizes.MAX_FUNCTION_LINES))
    (pkg / "long.py").write_text("class A:\n    def f(self):\n" + body)  # 81 lines
    (pkg / "big.py").write_text("x = 1\n" * (sizes.MAX_MODULE_LINES + 5))
    found = sizes.measure(tmp_path)
    keys = {s.key: s.lines for s in found}
    assert keys == {"desktop/long.py::A.f": sizes.MAX_FUNCTION_LINES + 1, "desktop/big.py": 505}
    assert len(sizes.breaches(found, {})) == 2
    assert sizes.breaches(found, {"desktop/big.py": 505, "desktop/long.py::A.f": 81}) == []
    assert len(sizes.breaches(found, {"desktop/big.py": 504, "desktop/long.py::A.f": 81})) == 1


def test_an_allowed_entry_within_its_limit_is_called_stale() -> None:
    assert sizes.stale([], {"desktop/gone.py": 600}) == ["desktop/gone.py"]
