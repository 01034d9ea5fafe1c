"""The scope benchmark's tables: per dermoscopy origin (held out), per kind of negative
(out-of-fold), the targets, and the text table printed by ``python -m benchmarks.scope``."""

from __future__ import annotations

from typing import Any

import numpy as np

from benchmarks.scope_quality import QUALITY_MIN
from benchmarks.scope_sides import CLINICAL, KEEP_MIN, PICTURE, Sides, own
from desktop.scope import DermoscopyScope, ScopeModel

REJECT_MIN = 0.95  # non-skin pictures refused


def _rate(mask: np.ndarray) -> float | None:
    return float(np.mean(mask)) if len(mask) else None


def dermoscopy_table(
    s: Sides, block: dict[str, Any], scores: dict[str, np.ndarray], per: dict[str, float]
) -> dict[str, Any]:
    """Per origin: held-out and in-sample assessable shares (all, melanomas), cautions."""
    final = DermoscopyScope.from_dict(block)
    t, c = final.threshold, final.caution
    fam = final.familiar
    out = {}
    for o in s.origins():
        m = own(s, o)
        sc, mel = scores[o], s.melanoma[m]
        far = fam.distance(s.x[m]) > fam.threshold if fam is not None else np.zeros(m.sum(), bool)
        ins = final.score(s.x[m])
        out[o] = {
            "images": int(m.sum()),
            "melanomas": int(mel.sum()),
            "held_out_limit": per[o],
            "held_out_assessable": _rate(sc >= t),
            "held_out_melanoma_assessable": _rate(sc[mel] >= t),
            "held_out_caution": _rate((sc >= t) & ((sc < c) | far)),
            "in_sample_assessable": _rate(ins >= t),
            "unlike_training_distance": _rate(far),
        }
    return out


def negatives_table(
    s: Sides, oof: dict[str, np.ndarray], pixels: np.ndarray, fam: ScopeModel | None
) -> dict[str, Any]:
    """Clinical photos and pictures, out-of-fold: refused (by the decision, or by pixels and
    quality), cautioned among the assessed, no alert; and the old one-sided refusal."""
    out: dict[str, Any] = {}
    keys = sorted(set(s.origin[s.y == 0].tolist()))
    for key in [CLINICAL, "pictures", *[k for k in keys if k != CLINICAL]]:
        if key == "pictures":
            m = np.char.startswith(s.origin.astype(str), PICTURE)
        else:
            m = s.origin == key
        if not m.any():
            continue
        model = oof["score"][m] < oof["threshold"][m]
        refused = model | pixels[m]
        caution = ~refused & (oof["score"][m] < oof["caution"][m])
        if fam is not None:
            caution |= ~refused & (fam.distance(s.x[m]) > fam.threshold)
        one_sided = fam.distance(s.x[m]) > fam.threshold if fam is not None else None
        out[key] = {
            "images": int(m.sum()),
            "refused": _rate(refused),
            "refused_by_decision": _rate(model),
            "refused_by_pixels_or_quality": _rate(pixels[m]),
            "assessed_with_caution": _rate(caution),
            "alert_without_scope": _rate(s.alert[m]),
            "no_alert": _rate(refused | ~s.alert[m]),
            "refused_by_old_distance": _rate(one_sided) if one_sided is not None else None,
        }
    return out


FRONTIER_SHIFTS = (0.0, 1.0, 2.0, 3.0, 4.0)  # log-odds above the shipped limit


def frontier(
    s: Sides,
    oof: dict[str, np.ndarray],
    pixels: np.ndarray,
    scores: dict[str, np.ndarray],
    threshold: float,
) -> list[dict[str, Any]]:
    """What a stricter limit would trade: for each shift above the limit, the clinical photos
    and pictures refused (out-of-fold, each row against its own fold's limit plus the shift)
    and the least kept left-out dermoscopy origin, all images and melanomas."""
    clinical = s.origin == CLINICAL
    pictures = np.char.startswith(s.origin.astype(str), PICTURE)
    out = []
    for shift in FRONTIER_SHIFTS:
        refused = (oof["score"] < oof["threshold"] + shift) | pixels
        limit = threshold + shift
        kept = {o: float(np.mean(sc >= limit)) for o, sc in scores.items()}
        mel = {
            o: float(np.mean(sc[s.melanoma[own(s, o)]] >= limit))
            for o, sc in scores.items()
            if s.melanoma[own(s, o)].any()
        }
        worst = min(kept, key=kept.__getitem__)
        out.append(
            {
                "shift": shift,
                "clinical_photos_refused": _rate(refused[clinical]),
                "pictures_refused": _rate(refused[pictures]),
                "least_kept_origin": worst,
                "least_kept": kept[worst],
                "least_kept_melanomas": min(mel.values()) if mel else None,
            }
        )
    return out


def targets(res: dict[str, Any]) -> list[dict[str, Any]]:
    out = []
    for o, e in res["dermoscopy"].items():
        for key, what in (
            ("held_out_assessable", "images"),
            ("held_out_melanoma_assessable", "melanomas"),
        ):
            if e[key] is not None:
                out.append(
                    {
                        "what": f"{o} {what} assessable, origin left out of the fit, >= {KEEP_MIN:.0%}",
                        "value": e[key],
                        "pass": e[key] >= KEEP_MIN,
                    }
                )
    pics = res["negatives"].get("pictures")
    if pics:
        out.append(
            {
                "what": f"non-skin pictures refused (out-of-fold) >= {REJECT_MIN:.0%}",
                "value": pics["refused"],
                "pass": pics["refused"] >= REJECT_MIN,
            }
        )
    q = res.get("quality")
    if q and q["dermoscopy_pass_rate"] is not None:
        out.append(
            {
                "what": f"real dermoscopy passing every quality limit >= {QUALITY_MIN:.1%}",
                "value": q["dermoscopy_pass_rate"],
                "pass": q["dermoscopy_pass_rate"] >= QUALITY_MIN,
            }
        )
    return out


def _p(v: float | None) -> str:
    return "n/a" if v is None else f"{v:6.1%}"


def format_table(res: dict[str, Any]) -> str:
    d = res["decision"]
    lines = [
        f"Is this dermoscopy: {res['model']}, rows {res['rows']}",
        f"threshold {d['threshold']:.2f}, caution below {d['caution']:.2f} (log-odds)",
        "",
        f"{'origin (left out of the fit)':<24} {'images':>6} {'mel':>4} {'assessable':>10} "
        f"{'melanomas':>9} {'caution':>8} {'in-sample':>9}",
    ]
    for o, e in res["dermoscopy"].items():
        lines.append(
            f"{o:<24} {e['images']:>6} {e['melanomas']:>4} {_p(e['held_out_assessable']):>10} "
            f"{_p(e['held_out_melanoma_assessable']):>9} {_p(e['held_out_caution']):>8} "
            f"{_p(e['in_sample_assessable']):>9}"
        )
    lines += [
        "",
        f"{'not dermoscopy (out-of-fold)':<30} {'images':>6} {'refused':>8} "
        f"{'caution':>8} {'no alert':>8} {'old dist.':>9}",
    ]
    for k, e in res["negatives"].items():
        lines.append(
            f"{k:<30} {e['images']:>6} {_p(e['refused']):>8} {_p(e['assessed_with_caution']):>8} "
            f"{_p(e['no_alert']):>8} {_p(e['refused_by_old_distance']):>9}"
        )
    q = res.get("quality")
    if q:
        lines += [
            "",
            f"quality: {_p(q['dermoscopy_pass_rate'])} of {q['dermoscopy_images']} "
            "real dermoscopy images pass every limit",
        ]
        for o, e in q["by_origin"].items():
            failed = ", ".join(f"{c} {n}" for c, n in e["failed"].items() if n)
            lines.append(f"  {o:<22} {e['images']:>5} {_p(e['pass_rate'])}  {failed}")
        for v, e in (q.get("recaptured") or {}).items():
            failed = ", ".join(f"{c} {n}" for c, n in e["failed"].items() if n)
            lines.append(f"  re-taken: {v:<12} {e['images']:>5} {_p(e['pass_rate'])}  {failed}")
    lines.append("")
    for t in res["targets"]:
        lines.append(f"{'PASS' if t['pass'] else 'FAIL'}  {t['what']}: {t['value']:.1%}")
    return "\n".join(lines)
