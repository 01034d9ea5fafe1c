"""Does the card's "borderline" figure hold on origins the backbone never saw?

The app's "Borderline" line quotes how often a re-take changed the melanoma alert for images
whose melanoma figure lies within ``BAND`` log-odds of the alert threshold, and for the others
(``alert.borderline``, measured by ``benchmarks.robustness`` on isic2020 through the shipped model).
This scores the same two shares on every run trained with an origin held out whose fixed
re-captures of that origin are stored (``runs/<recipe>-holdout-<origin>``), with both heads as the
proxy scores a candidate, each at its own sensitivity-0.90 threshold on the held-out origin.

    python -m benchmarks.borderline     # writes benchmarks/borderline.json (minutes)
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

import numpy as np
from scipy.special import logit

from benchmarks.common import write_card_block, write_result
from benchmarks.recapture_features import NAME
from benchmarks.report import share
from benchmarks.robustness import BAND, STILL, band_ends
from benchmarks.run_heads import HEADS, Heads, head_parts, head_probs, held_out_runs
from benchmarks.yardstick import ROOT
from desktop.adapt import fit

SENSITIVITY = 0.90
SHIPPED = "blend fitted also on re-captured copies"  # the shipped head's recipe, in full


def band_figures(heads: Heads, head: str, band: float = BAND) -> dict[str, Any]:
    """For one head: the share of (image, re-take) pairs whose alert changed, for images whose
    original lies within ``band`` log-odds of the sensitivity-0.90 threshold and for the others
    (every re-capture but the test-time views of :data:`benchmarks.robustness.STILL`)."""
    p, mel = heads.probs[head], heads.mel
    t = fit.threshold_for_sensitivity(p[:, mel], heads.is_mel, SENSITIVITY)
    lo, hi = band_ends(t, band)
    x = logit(np.clip(p[:, mel], 1e-9, 1 - 1e-9))
    inside = (x >= lo) & (x <= hi)
    alert = p[:, mel] >= t
    moved = [q for name, q in heads.moved[head].items() if name not in STILL]
    if not moved:
        raise ValueError("no re-captures to score")
    flips = np.stack([(q[:, mel] >= t) != alert for q in moved])  # (re-takes, images)
    return {
        "images": int(len(p)),
        "images_in_band": int(inside.sum()),
        "flips_in_band": _mean(flips[:, inside]),
        "flips_outside": _mean(flips[:, ~inside]),
    }


def _mean(x: np.ndarray) -> float | None:
    return round(float(x.mean()), 4) if x.size else None


def measure(found: list[tuple[str, str]], root: Path = ROOT) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name, origin in found:
        model, features = root / "runs" / name / "model.tflite", root / "runs" / "features" / name
        heads = head_probs(model, features, origin)
        out[f"{name}: {origin}"] = {h: band_figures(heads, h) for h in HEADS}
        shipped = head_parts(model, features, origin, recaptured=True).heads({"blend": 0.5})
        out[f"{name}: {origin}"][SHIPPED] = band_figures(shipped, "blend")
        print(name, json.dumps(out[f"{name}: {origin}"]), file=sys.stderr, flush=True)
    return out


def other_origins(sets: dict[str, Any]) -> dict[str, Any] | None:
    """The card's ``alert.borderline.other_origins``: over the shipped recipe's own held-out
    runs (``holdout-<origin>``), the lowest and highest share of re-takes that changed the alert
    of the head fitted as the shipped one is (:data:`SHIPPED`), inside the band and outside."""
    mine = {
        key.split(": ", 1)[1]: e[SHIPPED]
        for key, e in sets.items()
        if key.startswith("holdout-") and SHIPPED in e
    }
    mine = {o: e for o, e in mine.items() if None not in (e["flips_in_band"], e["flips_outside"])}
    if not mine:
        return None
    out: dict[str, Any] = {"origins": sorted(mine)}
    for k in ("flips_in_band", "flips_outside"):
        vals = [e[k] for e in mine.values()]
        out[k] = [min(vals), max(vals)]
    out["measured_on"] = "each origin held out of a run of the shipped recipe, " + COMMAND
    return out


def write_other_origins(card_path: Path, other: dict[str, Any]) -> None:
    """Replace only ``alert.borderline.other_origins`` of a card that has a borderline block."""
    data = json.loads(card_path.read_text(encoding="utf-8"))
    block = (data.get("alert") or {}).get("borderline")
    if not isinstance(block, dict):
        raise SystemExit(
            f"{card_path}: no alert.borderline to add to (python -m benchmarks.robustness)"
        )
    write_card_block(card_path, ("alert", "borderline"), block | {"other_origins": other})


COMMAND = "python -m benchmarks.borderline"


def markdown(result: dict[str, Any]) -> str:
    lines = [
        "| run held out: scored on | images in the band | blend: re-takes that changed the alert, "
        "in the band / outside | network head: in the band / outside | blend fitted also on "
        "re-captured copies (as shipped): images in its band; in / outside |",
        "|---|---|---|---|---|",
    ]
    for key, e in result["sets"].items():
        b, n, r = e["blend"], e["network"], e.get(SHIPPED)
        shipped = (
            "n/a"
            if r is None
            else f"{r['images_in_band']:,}; {share(r['flips_in_band'])} / {share(r['flips_outside'])}"
        )
        lines.append(
            f"| {key} | {b['images_in_band']:,} of {b['images']:,} | {share(b['flips_in_band'])} / "
            f"{share(b['flips_outside'])} | {share(n['flips_in_band'])} / {share(n['flips_outside'])} "
            f"| {shipped} |"
        )
    lines += [
        "",
        f"Band: ±{result['band_log_odds']} log-odds around each head's sensitivity-0.90 threshold on "
        "the held-out origin; re-takes: every fixed re-capture but the mirror and the quarter turn.",
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", default=str(ROOT / "benchmarks" / "borderline.json"))
    ap.add_argument(
        "--write-card",
        type=Path,
        help="also put the shipped recipe's range into this card's alert.borderline.other_origins",
    )
    args = ap.parse_args(argv)
    found = held_out_runs(ROOT, NAME)
    if not found:
        raise SystemExit("no held-out run with fixed re-captures under runs/")
    body = {"band_log_odds": BAND, "sets": measure(found)}
    if args.write_card:
        other = other_origins(body["sets"])
        if other is None:
            raise SystemExit("no run of the shipped recipe (runs/holdout-<origin>): card unchanged")
        write_other_origins(args.write_card, other)
        print(f"written: alert.borderline.other_origins of {args.write_card}", file=sys.stderr)
    write_result(
        Path(args.out),
        __doc__.split("\n")[0],
        COMMAND,
        body,
        markdown(body),
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
