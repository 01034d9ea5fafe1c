"""Would a head fitted also on re-captured copies hold its verdict under a re-take, and lose
nothing on an origin it never saw?

For every origin held out of its backbone's training (``benchmarks.yardstick.HELD_OUT``), a
class-balanced multinomial logistic head (the refitted head's fit, ``desktop.adapt.fit``, at the
shipped head's penalty) is fitted on every other origin's rows:

- ``plain``: on the images' pooled features (the shipped refit);
- ``recaptured``: on those and on the pooled features of random re-captures of the same images
  (``benchmarks.recapture_features``: crop, distance, focus, exposure, white balance, JPEG),
  each copy with its image's label and group;

each alone and blended with the network's own head (logits averaged, as shipped). On the held-out
origin it reports melanoma ROC AUC and, under each of the robustness benchmark's re-captures
(``desktop.recapture.VARIANTS``), the share of images whose alert flips and whose most likely
class changes. The alert is each head's own threshold at sensitivity 0.90 on the origin's
original images, so every head is compared where it catches the same share of melanomas.

The same for clinic adaptation (``adapted``): on each held-out origin, a simulated clinic of
:data:`CLINIC_IMAGES` images (``benchmarks.adaptation``'s draw: whole lesions or patients,
melanomas enriched), adapted as ``adapt`` does with and without the copies
(``fit.fit_final``), scored on the origin's other images at the adapted threshold; medians
over :data:`REPEATS` draws.

    python -m benchmarks.recapture_head     # writes benchmarks/recapture_head.json

Needs, per held-out model, ``rows.npz`` (``benchmarks.origin_features``) and ``recaptures.npz``
(``benchmarks.recapture_features --fixed ORIGIN``) in its features folder.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks.common import load_arrays, write_result
from benchmarks.head_inputs import PENALTY  # the shipped refitted head's
from benchmarks.heads import held_out, spec_at_sens
from benchmarks.recapture_features import NAME
from benchmarks.refit_head import network_head
from benchmarks.yardstick import HELD_OUT, ROOT
from desktop.adapt import fit
from desktop.head import LinearHead, softmax

OUT = ROOT / "benchmarks" / "recapture_head.json"
SENSITIVITY = 0.90
CLINIC_IMAGES = 400  # a clinic's labelled images for adaptation (adapt_speed's size)
REPEATS = 3


def _fit(data: fit.Data, classes: int) -> LinearHead:
    base = fit.Base(np.zeros((data.x.shape[1], classes)), np.zeros(classes), 1.0)
    return fit.fit_head(data, base, PENALTY, np.ones(classes, bool))


def stability(
    original: np.ndarray, variants: dict[str, np.ndarray], is_mel: np.ndarray, mel: int
) -> dict[str, Any]:
    """Per re-capture, against the original probabilities ``(n, classes)``: alert flips and
    class changes at the sensitivity-0.90 threshold on the originals, and melanoma AUC."""
    t = fit.threshold_for_sensitivity(original[:, mel], is_mel, SENSITIVITY)
    alert, top = original[:, mel] >= t, original.argmax(1)
    out = {}
    for name, p in variants.items():
        out[name] = {
            "alert_flips": round(float(np.mean((p[:, mel] >= t) != alert)), 4),
            "class_changes": round(float(np.mean(p.argmax(1) != top)), 4),
            "melanoma_roc_auc": round(fit.roc_auc(p[:, mel], is_mel), 4),
        }
    worst = {k: max(v[k] for v in out.values()) for k in ("alert_flips", "class_changes")}
    return {"threshold": round(float(t), 5), "worst": worst, "variants": out}


def random_copies(rec: dict[str, np.ndarray], shape: tuple[int, ...]) -> np.ndarray:
    """The random re-captures of ``benchmarks.recapture_features`` as rows of the same images
    (``(draws, rows, channels)``, NaN where an image has none), for a fit's ``copies``."""
    draws = np.full((rec["draws"].shape[0], *shape), np.nan)
    draws[:, rec["draw_index"]] = rec["draws"]
    return draws


def origin(holdout: str, model: Path, rows_path: Path) -> dict[str, Any]:
    rows = load_arrays(rows_path)
    rec = load_arrays(rows_path.with_name(NAME))
    classes, mel, allowed, te, tr, is_mel = held_out(rows, holdout)
    x, groups = rows["pooled"], rows["groups"]
    n = len(x)
    draws = random_copies(rec, x.shape)
    fixed = np.full((len(rec["variants"]), n, x.shape[1]), np.nan)
    fixed[:, rec["fixed_index"]] = rec["fixed"]
    if np.isnan(draws[:, tr]).any() or np.isnan(fixed[:, te]).any():
        raise SystemExit(f"{rows_path.parent}: re-captures do not cover the rows")
    k = len(draws)
    fits = {
        "plain": fit.Data(x[tr], allowed[tr], groups[tr]),
        "recaptured": fit.Data(x[tr], allowed[tr], groups[tr], draws[:, tr]),
    }
    net, _ = network_head(str(model))

    def net_logits(f: np.ndarray) -> np.ndarray:
        return (f @ net.weights + net.bias) / net.temperature

    variants = {str(v): fixed[i, te] for i, v in enumerate(rec["variants"])}
    heads: dict[str, Any] = {"network": lambda f: softmax(net_logits(f))}
    for name, data in fits.items():
        head = _fit(data, len(classes))
        heads[name] = lambda f, h=head: softmax(h.logits(f))
        heads[f"{name} + network"] = lambda f, h=head: softmax((net_logits(f) + h.logits(f)) / 2)
    out: dict[str, Any] = {"images": int(te.sum()), "melanomas": int(is_mel.sum()), "draws": k}
    base = fit.Base(net.weights, net.bias, net.temperature)
    out["adapted"] = adapted(x[te], allowed[te], groups[te], draws[:, te], fixed[:, te], base, mel)
    for name, probs in heads.items():
        p = probs(x[te])
        out[name] = {
            "melanoma_roc_auc": round(fit.roc_auc(p[:, mel], is_mel), 4),
            "specificity_at_sensitivity_0.90": round(spec_at_sens(p[:, mel], is_mel), 4),
            "balanced_accuracy": round(fit.balanced_accuracy(p, allowed[te]), 4),
            "stability": stability(p, {v: probs(f) for v, f in variants.items()}, is_mel, mel),
        }
    return out


def adapted(
    x: np.ndarray,
    allowed: np.ndarray,
    groups: np.ndarray,
    copies: np.ndarray,
    fixed: np.ndarray,
    base: fit.Base,
    mel: int,
) -> dict[str, Any]:
    """One origin's rows as clinics: adapted with and without ``copies``, scored on the rest
    at each adapted head's own threshold (alert flips and class changes under ``fixed``)."""
    from benchmarks.adaptation import _draw

    is_mel = allowed[:, mel] & (allowed.sum(1) == 1)
    arms: dict[str, list[list[float]]] = {"plain": [], "recaptured": []}
    for seed in range(REPEATS):
        tr = _draw(
            groups, is_mel, CLINIC_IMAGES, np.random.default_rng(1000 * CLINIC_IMAGES + seed)
        )
        rest = np.setdiff1d(np.arange(len(x)), tr)
        if is_mel[tr].sum() < 5 or len(rest) < CLINIC_IMAGES:
            continue
        for arm, c in (("plain", None), ("recaptured", copies[:, tr])):
            data = fit.Data(x[tr], allowed[tr], groups[tr], c)
            head, choice = fit.fit_final(data, base, mel, k=min(5, int(is_mel[tr].sum())))
            p = head.probabilities(x[rest])
            alert = p[:, mel] >= choice.threshold
            moved = [head.probabilities(f[rest]) for f in fixed]
            arms[arm].append(
                [
                    fit.roc_auc(p[:, mel], is_mel[rest]),
                    float(alert[is_mel[rest]].mean()),
                    float((~alert[~is_mel[rest]]).mean()),
                    max(float(np.mean((m[:, mel] >= choice.threshold) != alert)) for m in moved),
                    max(float(np.mean(m.argmax(1) != p.argmax(1))) for m in moved),
                ]
            )
    keys = ("melanoma_roc_auc", "sensitivity", "specificity", "alert_flips", "class_changes")
    return {
        arm: dict(zip(keys, np.round(np.median(v, axis=0), 4).tolist(), strict=True))
        for arm, v in arms.items()
        if v
    } | {"clinics": len(arms["plain"]), "clinic_images": CLINIC_IMAGES}


def _is_head(entry: Any) -> bool:
    return isinstance(entry, dict) and "stability" in entry


def summary(per_origin: dict[str, dict[str, Any]]) -> dict[str, dict[str, float]]:
    """Per head: mean and worst held-out melanoma AUC; the worst re-capture's alert flips and
    class changes, averaged over the origins and at the worst origin."""
    heads = [h for h, v in next(iter(per_origin.values())).items() if _is_head(v)]
    out = {}
    for h in heads:
        auc = [per_origin[o][h]["melanoma_roc_auc"] for o in per_origin]
        flips = [per_origin[o][h]["stability"]["worst"]["alert_flips"] for o in per_origin]
        changes = [per_origin[o][h]["stability"]["worst"]["class_changes"] for o in per_origin]
        out[h] = {
            "mean_melanoma_roc_auc": round(float(np.mean(auc)), 4),
            "worst_melanoma_roc_auc": round(float(np.min(auc)), 4),
            "mean_worst_alert_flips": round(float(np.mean(flips)), 4),
            "worst_alert_flips": round(float(np.max(flips)), 4),
            "mean_worst_class_changes": round(float(np.mean(changes)), 4),
            "worst_class_changes": round(float(np.max(changes)), 4),
        }
    return out


def markdown(result: dict[str, Any]) -> str:
    """docs/experiments.md's table: per head, held-out AUC and the re-captures' worst flips."""
    rows = [
        "| head | mean held-out melanoma AUC | worst | alert flips, worst re-capture: mean "
        "over origins | worst origin | class changes: mean | worst origin |",
        "|---|---|---|---|---|---|---|",
    ]
    for h, s in result["summary"].items():
        rows.append(
            f"| {h} | {s['mean_melanoma_roc_auc']:.3f} | {s['worst_melanoma_roc_auc']:.3f} | "
            f"{s['mean_worst_alert_flips']:.1%} | {s['worst_alert_flips']:.1%} | "
            f"{s['mean_worst_class_changes']:.1%} | {s['worst_class_changes']:.1%} |"
        )
    rows += [
        "",
        f"Adapted to a clinic ({CLINIC_IMAGES} images of the held-out origin, median of "
        f"{REPEATS} draws; the rest of the origin scored at the adapted alert): without → with "
        "the copies.",
        "",
        "| held-out origin | melanoma AUC | sensitivity / specificity | alert flips, worst "
        "re-capture | class changes |",
        "|---|---|---|---|---|",
    ]
    for o, e in result["origins"].items():
        a = e.get("adapted", {})
        if "plain" not in a:
            continue
        p, r = a["plain"], a["recaptured"]
        rows.append(
            f"| {o} | {p['melanoma_roc_auc']:.3f} → {r['melanoma_roc_auc']:.3f} | "
            f"{p['sensitivity']:.2f} / {p['specificity']:.2f} → "
            f"{r['sensitivity']:.2f} / {r['specificity']:.2f} | "
            f"{p['alert_flips']:.1%} → {r['alert_flips']:.1%} | "
            f"{p['class_changes']:.1%} → {r['class_changes']:.1%} |"
        )
    return "\n".join(rows).replace("%", "\u00a0%")


def main(argv: list[str] | None = None) -> int:
    per = {}
    for o, (model, rows) in HELD_OUT.items():
        if (ROOT / rows).with_name(NAME).is_file():
            per[o] = origin(o, ROOT / model, ROOT / rows)
            print(
                o,
                json.dumps({h: v["stability"]["worst"] for h, v in per[o].items() if _is_head(v)}),
                file=sys.stderr,
            )
    if not per:
        raise SystemExit("no re-captured features: run python -m benchmarks.recapture_features")
    body = {"penalty": PENALTY, "origins": per, "summary": summary(per)}
    write_result(
        OUT,
        "held-out melanoma AUC and stability under a re-take of a head fitted also on "
        "re-captured copies",
        "python -m benchmarks.recapture_head",
        body,
        markdown(body),
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
