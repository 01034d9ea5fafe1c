"""Where the figures of ``benchmarks/results.json`` came from: the machine, the command and
the model they were measured on, and whether that model is the one shipped (by file hash, or
for older results by the card's own accuracy figure).

Pure functions of the results dict, like :mod:`benchmarks.report`; ``python -m docs.generate``
writes them above the tables in docs/benchmarks.md.
"""

from __future__ import annotations

from typing import Any

from benchmarks.report import Result, get, is_na, rel


def model_line(res: Result) -> str:
    """Which model and run were measured, by version and (newer results) file hash."""
    m = res.get("meta") or {}
    card = m.get("card") or {}
    model, run = rel(m.get("model", "?")), rel(m.get("run", "?"))
    parts = [f"`{model}`"]
    if not is_na(card) and card.get("model_version"):
        parts.append(f"(model version {card['model_version']}")
        sha = card.get("model_sha256")
        parts[-1] += f", sha256 {sha[:12]})" if sha else ")"
    return " ".join(parts) + f", run `{run}`"


def setup_lines(res: Result) -> list[str]:
    """Machine, command, model and repeats of a results file, as a Markdown list."""
    m = res["meta"]
    mach = m["machine"]
    versions = ", ".join(f"{k} {v}" for k, v in mach["versions"].items() if v)
    load = mach.get("load_average_1min_at_start")
    return [
        f"Measured {m['created']} with `{m.get('command', 'python -m benchmarks.run')}`:",
        "",
        f"- Machine: {mach['cpu']}, {mach['nproc']} CPU(s) (`nproc`), {mach['platform']}",
        f"- Python {mach['python']}; {versions}",
        f"- Model: {model_line(res)}",
        f"- Timings: median (min-max) of {m['repeats']} repeats"
        + (" (quick mode: small sizes)" if m.get("quick") else "")
        + (f"; 1-minute load average at start {load:.2f}" if load is not None else ""),
    ]


def measured_model(res: Result, shipped_sha256: str | None, card: dict[str, Any] | None) -> str:
    """'same', 'different' or 'unknown': were these results measured on the shipped model?

    Newer results record the measured file's sha256. Older ones do not; for them the
    int8 accuracy measured on the card's headline split is compared with the card's
    (LiteRT is deterministic: the same bytes on the same images give the same figure).
    """
    sha = get(res, "meta", "card", "model_sha256")
    if sha and shipped_sha256:
        return "same" if sha == shipped_sha256 else "different"
    metrics = (card or {}).get("metrics") or {}
    split = metrics.get("measured_on")
    measured = get(res, "accuracy", "int8_tflite", split) if split else None
    images = get(res, "accuracy", "images", split) if split else None
    if measured is None or metrics.get("accuracy") is None:
        return "unknown"
    if images != metrics.get("images") or abs(measured - metrics["accuracy"]) > 1e-9:
        return "different"
    return "unknown"


def identity_sentence(res: Result, status: str, card: dict[str, Any] | None) -> str:
    """One sentence saying whether the figures are the shipped model's, and what to do if not."""
    version = get(res, "meta", "card", "model_version") or "unknown"
    shipped = (card or {}).get("model_version", "unknown")
    if status == "same":
        return f"Measured on the shipped model (`{shipped}`, same file hash)."
    if status == "different":
        m = (card or {}).get("metrics") or {}
        split = m.get("measured_on")
        acc = get(res, "accuracy", "int8_tflite", split) if split else None
        detail = (
            f", whose int8 accuracy on {split} was {acc:.3f} where the shipped card says "
            f"{m['accuracy']:.3f}"
            if acc is not None and m.get("accuracy") is not None
            else ""
        )
        which = (
            f"an earlier model that shares the version string `{version}` (versions then named "
            "only the date and the data)"
            if version == shipped
            else f"model `{version}`"
        )
        return (
            f"**Not the shipped model**: these figures were measured on {which}{detail}; "
            "`make bench` measures the shipped one."
        )
    return (
        f"Measured on model `{version}`; whether that is the shipped `{shipped}` is not recorded "
        "(results written before benchmarks stored the model's hash); `make bench` settles it."
    )
