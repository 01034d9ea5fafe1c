"""Numbers, names and sentences as the app writes them: the one ``percent()``, measured rates
as "about N in 10", class names, and a reason turned into a sentence."""

from __future__ import annotations

import math
import numbers
from collections.abc import Sequence
from typing import Any

import numpy as np

NBSP = "\u00a0"  # between a number and "%", so a line never breaks there


def percent(p: float, decimals: int = 0) -> str:
    """A probability for people: '82 %', 'under 1 %', 'over 99 %' (never '0 %' or '100 %'
    for a value that is not exactly 0 or 1). The one formatter of a percentage in the app,
    with a non-breaking space before '%'; ``decimals`` for tables and bars ('81.2 %')."""
    step = 10.0**-decimals  # the smallest difference shown, in percent
    value = p * 100
    if p <= 0.0:
        return f"0{NBSP}%"
    if value < step - 1e-9:
        return f"under {step:.{decimals}f}{NBSP}%"
    if p < 1.0 and value > 100 - step + 1e-9:
        return f"over {100 - step:.{decimals}f}{NBSP}%"
    return f"{value:.{decimals}f}{NBSP}%"


def display_percentages(probabilities: Sequence[float], decimals: int = 1) -> list[float]:
    """Round to ``decimals`` so the shown numbers add up to exactly 100 (largest remainder).

    Plain rounding can show 99.9 % or 100.1 % in total, which looks like a bug
    to anyone adding up the bars.
    """
    probs = np.asarray(probabilities, dtype=np.float64)
    if probs.size == 0:
        return []
    total = probs.sum()
    probs = probs / total if total > 0 else np.full_like(probs, 1.0 / probs.size)
    unit = 10**decimals
    scaled = probs * 100 * unit
    floors = np.floor(scaled).astype(np.int64)
    missing = int(100 * unit - floors.sum())
    order = np.argsort(-(scaled - floors), kind="stable")
    for i in order[:missing]:
        floors[i] += 1
    return [float(v) / unit for v in floors]


def shown_percents(probabilities: Sequence[float], decimals: int = 1) -> list[str]:
    """Each class's probability as every bar and table shows it: :func:`display_percentages`
    (they add up to 100), so the batch table, the command line and the PDF say what the bars
    say; but a class given any chance is never shown as '0 %' (nor one short of certain as
    '100 %'): :func:`percent`'s 'under 0.1 %' instead."""
    raw = np.asarray(probabilities, dtype=np.float64)
    total = raw.sum()
    raw = raw / total if total > 0 else raw
    out = []
    for p, pc in zip(raw, display_percentages(probabilities, decimals), strict=True):
        if (pc <= 0 < p) or (pc >= 100 and p < 1):
            out.append(percent(float(p), decimals))
        else:
            out.append(percent(pc / 100, decimals))
    return out


def percent_under(value: float, limit: float) -> tuple[str, str]:
    """``value`` and the ``limit`` it falls under, with just enough decimals to differ.

    '45 %, under 45 %' reads as a contradiction when 44.7 % is under a 45 % limit; this
    gives ('44.7 %', '45 %') instead (the limit with only the decimals it needs).
    """
    for d in range(4):
        if round(value * 100, d) < round(limit * 100, d):
            break
    exact = next(k for k in range(d + 1) if round(limit * 100, k) == round(limit * 100, d))
    return percent(value, d), percent(limit, exact)


def in_ten(rate: float, cautious: str) -> str:
    """A measured rate as 'about N in 10', rounded to the cautious side.

    ``cautious="down"`` for what the alert catches (never overstate it), ``"up"`` for
    false alarms and misses (never understate them).
    """
    tenths = rate * 10
    n = math.floor(tenths + 1e-9) if cautious == "down" else math.ceil(tenths - 1e-9)
    if n <= 0:
        return "fewer than 1 in 10"
    if n >= 10:
        return "nearly all" if cautious == "down" else "about 10 in 10"
    return f"about {n} in 10"


def rate(value: Any) -> float | None:
    """A card's figure as a rate in [0, 1], or None when it is missing or malformed."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        return None
    v = float(value)
    return v if math.isfinite(v) and 0.0 <= v <= 1.0 else None


def class_name(cls: str) -> str:
    """'basal cell carcinoma' -> 'Basal cell carcinoma' (the card's names stay the truth)."""
    text = cls.replace("_", " ").strip()
    return text[:1].upper() + text[1:]


def uncertain_label(name: str, uncertain: bool) -> str:
    """A class name as a table shows it, marked when the model is not sure of it."""
    return f"{name} (uncertain)" if uncertain else name


def sentence(reason: str) -> str:
    """'the image is blurred' -> 'The image is blurred.'"""
    text = reason.strip().rstrip(".")
    return text[:1].upper() + text[1:] + "."


def error_sentence(reason: str) -> str:
    """An unreadable file's reason as a sentence; one that starts with the file's name
    ('iMG_01.JPG: file is empty') keeps the name's case."""
    text = reason.strip().rstrip(".")
    return text + "." if ": " in text else sentence(text)
