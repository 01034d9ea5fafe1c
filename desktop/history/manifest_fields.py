"""Readers for the fields of an export's ``case.json``: type, length, range and time checks.

Each refuses with "<where>: <what is wrong>" (:class:`ImportRefused`), so a user sees which
field of which lesion, visit or result is wrong. Used by :mod:`desktop.history.manifest`,
which reads the case top down with them.
"""

from __future__ import annotations

import math
import unicodedata
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any, NoReturn

from desktop.history.records import HistoryError
from desktop.preprocessing import brief

MAX_TIMESTAMP = 40
CLOCK_SKEW = timedelta(days=1)  # another machine's clock may run a little ahead
# Control, format (bidi overrides), line/paragraph separators, surrogates: never in a field.
# The app's own words use a non-breaking space before "%", which is allowed.
_CONTROL = frozenset({"Cc", "Cf", "Zl", "Zp", "Cs"})


class ImportRefused(HistoryError):
    """An export folder that is not a faithful case export; nothing was imported.

    A :class:`HistoryError`, so the command line exits 2 with this one line.
    """


def refuse(at: str, what: str) -> NoReturn:
    raise ImportRefused(f"{at}: {what}")


def obj(value: Any, at: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        refuse(at, f"must be a JSON object, not {type(value).__name__}")
    return value


def get(obj: Mapping[str, Any], key: str, at: str) -> Any:
    if key not in obj:
        refuse(at, f"'{key}' is missing")
    return obj[key]


def listed(value: Any, at: str, limit: int) -> list[Any]:
    if not isinstance(value, list):
        refuse(at, f"must be a JSON list, not {type(value).__name__}")
    if len(value) > limit:
        refuse(at, f"has {len(value)} entries, more than {limit}")
    return value


def text(value: Any, at: str, limit: int, *, empty: bool = False) -> str:
    if not isinstance(value, str):
        refuse(at, f"must be text, not {type(value).__name__}")
    if len(value) > limit:
        refuse(at, f"is {len(value)} characters long, more than {limit}")
    if not value and not empty:
        refuse(at, "must not be empty")
    if any(unicodedata.category(ch) in _CONTROL for ch in value):
        refuse(at, "contains control characters")
    return value


def optional_text(value: Any, at: str) -> str | None:
    """Free text checked by a service ``check_*`` function (it applies the length limit)."""
    if value is not None and not isinstance(value, str):
        refuse(at, f"must be text, not {type(value).__name__}")
    return value


def checked(check: Callable[[Any], str], value: Any, at: str) -> str:
    """A service validator's verdict on a manifest value, located for the message."""
    try:
        return check(value)
    except HistoryError as exc:
        refuse(at, str(exc))


def number(value: Any, at: str) -> float:
    """A finite probability-like number in [0, 1] (JSON has no NaN; Python's json does)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        refuse(at, f"must be a number, not {brief(value)}")
    number = float(value)
    if not math.isfinite(number) or not 0.0 <= number <= 1.0:
        refuse(at, f"must be a number from 0 to 1, not {brief(value)}")
    return number


def flag(value: Any, at: str) -> bool:
    if not isinstance(value, bool):
        refuse(at, f"must be true or false, not {brief(value)}")
    return value


def ident(value: Any, at: str) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        refuse(at, f"must be a positive whole number, not {brief(value)}")
    return value


def optional_timestamp(value: Any, at: str) -> str | None:
    return None if value is None else timestamp(value, at)


def timestamp(value: Any, at: str) -> str:
    """An ISO 8601 time (``now_utc`` writes ``…Z``), not later than now plus clock skew."""
    stamp = text(value, at, MAX_TIMESTAMP)
    try:
        moment = datetime.fromisoformat(stamp)
    except ValueError:
        refuse(at, f"{brief(stamp)} is not an ISO date and time")
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    if moment > datetime.now(UTC) + CLOCK_SKEW:
        refuse(at, f"{stamp} is in the future")
    return stamp
