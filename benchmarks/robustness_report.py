"""The re-capture benchmark's tables (``benchmarks.robustness``): one model's figures per image
set against the targets, and several models' side by side on the same images."""

from __future__ import annotations

from typing import Any

from benchmarks.report import share


def _mark(ok: bool) -> str:
    return "" if ok else " ✗"


def markdown(res: dict[str, Any]) -> str:
    """The tables of ``docs/experiments.md`` and of the command's output: one per image set."""
    t = res["targets"]
    lines = [
        f"Model `{res['model']['version']}`, measured {res['created'][:10]}; targets on every "
        f"variant: alert flips <= {share(t['alert_flips'])}, class changes <= "
        f"{share(t['class_changes'])}, assessability changes <= "
        f"{share(t['assessability_changes'])} (✗: missed). Shares of all images of the set.",
    ]
    for s in res["sets"].values():
        o = s["original"]
        lines += [
            "",
            f"**{s['title']}**: {s['images']:,} images, {s['melanomas']} melanomas; original: "
            f"alert on {share(o['alerts'])}, uncertain {share(o.get('uncertain'))}, in the borderline band {share(o.get('borderline'))}, "
            f"assessable {share(o['assessable'])}, melanoma ROC AUC "
            f"{_auc_text(o['melanoma_roc_auc'])}.{_band_text(s.get('borderline'))}",
            "",
            "| re-capture | alert flips (on→off / off→on; melanomas lost) | hard flips "
            "| class changes (as named / as said) | assessability changes | melanoma ROC AUC |",
            "|---|---|---|---|---|---|",
        ]
        for name, v in s["variants"].items():
            ok = v["meets"]
            lines.append(
                f"| {res['variants'][name]} | {share(v['alert_flips'])}{_mark(ok['alert_flips'])} "
                f"({v['alert_on_to_off']} / {v['alert_off_to_on']}; "
                f"{v['melanoma_alerts_lost']}) | {share(v['hard_alert_flips'])} "
                f"| {share(v['class_changes'])}{_mark(ok['class_changes'])} "
                f"({share(v['shown_class_changes'])} / {share(v.get('said_class_changes'))}) "
                f"| {share(v['assessability_changes'])}{_mark(ok['assessability_changes'])} "
                f"| {_auc_text(v['melanoma_roc_auc'])} |"
            )
    lines += [
        "",
        f"Hard flips: both melanoma probabilities outside a band of ±{res['band_log_odds']} "
        "log-odds around the alert threshold (a flip a 'borderline' band would not absorb). "
        "Class changes as named: the benign keratoses counted as one, as the app names them; "
        "as said: also every answer under the card's confidence limit counted as one, "
        "'uncertain', as the app says it.",
    ]
    return "\n".join(lines)


def side_by_side(results: dict[str, dict[str, Any]]) -> str:
    """Several models' results on the same images (same data, seed and counts), one column
    each: per set, the original's alerts and melanoma AUC, then each re-capture's alert flips /
    class changes. Refused where the results did not re-capture the same images."""
    first = next(iter(results.values()))
    for name, r in results.items():
        same = (r["seed"], list(r["sets"])) == (first["seed"], list(first["sets"]))
        if not same or any(
            r["sets"][k]["images"] != first["sets"][k]["images"] for k in first["sets"]
        ):
            raise ValueError(f"{name}: not measured on the same images as the first result")
    names = list(results)
    head = " | ".join(names)
    lines = []
    for key, s in first["sets"].items():
        lines += [
            "",
            f"**{key}**, {s['images']:,} images, {s['melanomas']} melanomas:",
            "",
            f"| | {head} |",
            "|---|" + "---|" * len(names),
        ]
        orig = [results[n]["sets"][key]["original"] for n in names]
        lines.append(
            "| original: alert on / melanoma ROC AUC | "
            + " | ".join(f"{share(o['alerts'])} / {_auc_text(o['melanoma_roc_auc'])}" for o in orig)
            + " |"
        )
        for v, words in first["variants"].items():
            cells = [results[n]["sets"][key]["variants"].get(v) for n in names]
            if any(c is None for c in cells):
                continue
            lines.append(
                f"| {words}: alert flips / class changes | "
                + " | ".join(
                    f"{share(c['alert_flips'])} / {share(c['class_changes'])}" for c in cells
                )
                + " |"
            )
    return "\n".join(lines[1:])


def _band_text(b: dict[str, Any] | None) -> str:
    """The re-takes' alert flips inside the band and outside it (sets measured before the
    figure existed have none)."""
    if not b:
        return ""
    return (
        f" A re-take that changes the pixels (every re-capture but the mirror and the quarter "
        f"turn) changed the alert in {share(b['flips_in_band'])} of tries for the images in the "
        f"band ({b['images_in_band']}), and in {share(b['flips_outside'])} for the others."
    )


def _auc_text(v: Any) -> str:
    return f"{v:.3f}" if isinstance(v, int | float) else "n/a"
