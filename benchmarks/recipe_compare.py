"""A training recipe against the shipped one, on the origins both held out: the cheaper proxy of
the leave-one-origin-out yardstick (issue #26), for searching recipes.

For each origin ``o`` given, the shipped recipe's run ``runs/holdout-<o>`` and the candidate's
``runs/<candidate>-holdout-<o>`` (both trained without ``o``), with the feature rows of
``benchmarks.origin_features`` beside them (``runs/features/[<candidate>-]holdout-<o>``), are
scored on ``o`` and on isic2020, which no backbone trains on (so every run holds it out):

- ``network``: the run's own last layer on the view-averaged features;
- ``blend``: the shipped head's recipe, a class-balanced logistic head at the shipped penalty
  fitted on every other origin, its logits averaged with the network's;

each with melanoma ROC AUC, specificity at sensitivity 0.90 and balanced accuracy; and, where
the features folder holds the fixed re-captures of ``o`` (``benchmarks.recapture_features
--draws 0 --fixed o``), the worst re-capture's alert flips and class changes at sensitivity 0.90.

    python -m benchmarks.recipe_compare zoom vidir_modern isic2017
    # writes benchmarks/recipe_zoom.json and prints its table

Why these two runs per origin and not a full pass: a training run takes 25-60 min on two cores.
What it cannot show: that a gain on two or three origins holds on the seven (the full pass).

A candidate that wins on the proxy goes through the full pass, each origin held out in turn and
isic2020 scored on its backbone trained with no origin held out (``runs/<candidate>-shipped``),
against the shipped recipe's own full pass (``benchmarks/head_inputs.json``):

    python -m benchmarks.recipe_compare copies --full --same isic-9class
    # writes benchmarks/recipe_copies_full.json

A pass takes longer than a session; ``--partial`` scores the origins trained so far, leaves the
rest out of both recipes and names them in the result (``full_pass.missing``). Once
``runs/<candidate>-shipped`` has feature rows, the full pass also reads both backbones inside
the sources (``benchmarks.in_source``): a gain on unseen origins must not cost the sources.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks import in_source
from benchmarks.common import write_result
from benchmarks.head_inputs import PENALTY
from benchmarks.run_heads import HEADS, UNSEEN, cell, head_figures, head_probs
from benchmarks.yardstick import ROOT

# Results of every head-level recipe measured on all seven held-out origins: what the proxy's
# ranking is checked against.
FULL_PASSES = ("head_inputs", "head_weighting", "recapture_head")


def score(model: Path, features: Path, scored: str) -> dict[str, Any]:
    """Both heads of one run on one origin it never trained on."""
    return head_figures(head_probs(model, features, scored))


def stored_baseline(candidate: str, origin: str, root: Path = ROOT) -> tuple[str, dict] | None:
    """The shipped recipe's figures for ``origin`` from an earlier comparison's result, where
    its runs (``runs/`` is not kept between checkouts) are gone: the same runs, scored by the
    same code. The newest ``benchmarks/recipe_*.json`` holding both of its sets, scored from
    the runs themselves."""
    keys = [f"{origin} held out: {scored}" for scored in (origin, UNSEEN)]
    found = []
    for path in (root / "benchmarks").glob("recipe_*.json"):
        if path.name == f"recipe_{candidate}.json":
            continue
        body = json.loads(path.read_text(encoding="utf-8"))
        sets = body.get("sets", {})
        if origin in body.get("shipped_recipe_from", {}) or "full_pass" in body:
            continue  # itself a stored copy: name the result that scored the runs
        if all("shipped recipe" in sets.get(k, {}) for k in keys):
            found.append((body.get("created", ""), path.name, body))
    if not found:
        return None
    _, name, body = max(found)
    return name, {
        "sets": {k: body["sets"][k]["shipped recipe"] for k in keys},
        "inside": body.get("inside_sources", {}).get(origin, {}).get("shipped recipe"),
    }


FIGURES = ("melanoma_roc_auc", "specificity_at_sensitivity_0.90", "balanced_accuracy")


def yardstick_baseline(origin: str, root: Path = ROOT) -> tuple[str, dict] | None:
    """The shipped recipe on ``origin`` as ``benchmarks.yardstick`` scored its run (the
    network's own view-averaged probabilities): where no stored comparison holds the origin.
    The network head only, and no isic2020 set (the yardstick scores that on the shipped
    backbone); a candidate is then scored the same way (:func:`yardstick_score`)."""
    path = root / "benchmarks" / "yardstick.json"
    if origin == UNSEEN or not path.is_file():
        return None
    e = json.loads(path.read_text(encoding="utf-8")).get("origins", {}).get(origin)
    if not e:
        return None
    entry = {"images": e["images"], "melanomas": e["melanomas"]}
    entry["network"] = {k: e[k] for k in FIGURES}
    return path.name, {"sets": {f"{origin} held out: {origin}": entry}, "inside": None}


def yardstick_score(model: Path, features: Path, origin: str) -> dict[str, Any]:
    """A run's network head on its held-out origin, scored as the yardstick scores it."""
    from benchmarks.yardstick import origin_figures

    e = origin_figures(origin, model, features / "rows.npz")
    return {
        "images": e["images"],
        "melanomas": e["melanomas"],
        "network": {k: e[k] for k in FIGURES},
    }


def card_balanced_accuracy(model: Path) -> float | None:
    """A run's balanced accuracy on its own internal test split (inside the sources it
    trained on), from its card."""
    from desktop.card import card_path_for, load_card

    return load_card(card_path_for(str(model))).raw.get("metrics", {}).get("balanced_accuracy")


def compare(
    candidate: str, origins: list[str]
) -> tuple[dict[str, Any], dict[str, Any], dict[str, str]]:
    """The scored sets, each run's balanced accuracy on its own internal test split (inside
    the sources it trained on; from its card), and which origins' shipped-recipe figures came
    from a stored result (:func:`stored_baseline`) rather than its runs."""
    per: dict[str, Any] = {}
    inside: dict[str, Any] = {}
    stored: dict[str, str] = {}
    for o in origins:
        runs = {
            "shipped recipe": ("holdout-" + o),
            candidate: (f"{candidate}-holdout-{o}"),
        }
        for recipe, name in runs.items():
            model = ROOT / "runs" / name / "model.tflite"
            features = ROOT / "runs" / "features" / name
            have = model.is_file() and (features / "rows.npz").is_file()
            if not have and recipe == "shipped recipe":
                earlier = stored_baseline(candidate, o) or yardstick_baseline(o)
                if earlier:
                    stored[o] = earlier[0]
                    inside.setdefault(o, {})[recipe] = earlier[1]["inside"]
                    for key, figs in earlier[1]["sets"].items():
                        per.setdefault(key, {})[recipe] = figs
                    continue
            if not have:
                raise SystemExit(f"{name}: no model or feature rows yet")
            inside.setdefault(o, {})[recipe] = card_balanced_accuracy(model)
            for scored in (o, UNSEEN):
                key = f"{o} held out: {scored}"
                if stored.get(o) == "yardstick.json":
                    if scored == UNSEEN:
                        continue  # nothing to set it against
                    per[key][recipe] = yardstick_score(model, features, o)
                else:
                    per.setdefault(key, {})[recipe] = score(model, features, scored)
                print(key, recipe, json.dumps(per[key][recipe]), file=sys.stderr, flush=True)
    return per, inside, stored


# The shipped recipe on all seven held-out origins, both heads scored as :func:`score` scores
# them (``network``; ``mean + network`` is the blend): the full pass's baseline.
FULL_BASELINE = "head_inputs.json"
FULL_HEADS = {"network": "network", "blend": "mean + network"}


def full_run(candidate: str, origin: str) -> str:
    """The candidate's run that never trained on ``origin``: its backbone with no origin held
    out for isic2020 (which no backbone trains on), else its run with ``origin`` held out."""
    return f"{candidate}-shipped" if origin == UNSEEN else f"{candidate}-holdout-{origin}"


def full_pass(
    candidate: str, same: list[str], root: Path = ROOT, missing: list[str] | None = None
) -> tuple[dict[str, Any], dict[str, Any]]:
    """The candidate on every origin against the shipped recipe's full pass
    (``benchmarks/head_inputs.json``). An origin in ``same`` is one where the candidate's run
    would be the shipped recipe's own (a flag that changes nothing with that origin held out):
    its figures are the shipped recipe's, and the result says so. Given a ``missing`` list, an
    origin whose run is not trained yet is left out of both recipes and named there (a pass in
    progress: hours of training), instead of stopping."""
    from benchmarks.yardstick import ORIGINS

    path = root / "benchmarks" / FULL_BASELINE
    if not path.is_file():
        raise SystemExit(f"{path.relative_to(root)}: no full pass of the shipped recipe yet")
    base = json.loads(path.read_text(encoding="utf-8"))["origins"]
    per: dict[str, Any] = {}
    inside: dict[str, Any] = {}
    for o in ORIGINS:
        if o not in base:
            raise SystemExit(f"{FULL_BASELINE} has no figures for {o}")
        key = f"{o} held out: {o}"
        e = base[o]
        shipped = {"images": e["images"], "melanomas": e["melanomas"]}
        shipped |= {head: e[name] for head, name in FULL_HEADS.items()}
        if o in same:
            per[key] = {"shipped recipe": shipped, candidate: shipped}
            continue
        name = full_run(candidate, o)
        model = root / "runs" / name / "model.tflite"
        features = root / "runs" / "features" / name
        if not (model.is_file() and (features / "rows.npz").is_file()):
            if missing is None:
                raise SystemExit(f"{name}: no model or feature rows yet")
            missing.append(o)
            continue
        per[key] = {"shipped recipe": shipped}
        per[key][candidate] = score(model, features, o)
        inside[o] = {"shipped recipe": None, candidate: card_balanced_accuracy(model)}
        print(key, candidate, json.dumps(per[key][candidate]), file=sys.stderr, flush=True)
    return per, inside


def auc_standard_error(auc: float, positives: int, negatives: int) -> float:
    """Hanley & McNeil's (1982) standard error of a ROC AUC from its value and class counts:
    how much another sample of images of the same kind would move it. Needs no per-image
    scores, so it applies to figures stored from runs that are gone."""
    q1, q2 = auc / (2 - auc), 2 * auc**2 / (1 + auc)
    var = auc * (1 - auc) + (positives - 1) * (q1 - auc**2) + (negatives - 1) * (q2 - auc**2)
    return float(np.sqrt(max(var, 0.0) / (positives * negatives)))


def difference(per: dict[str, Any], base: str, other: str, head: str) -> tuple[float, float]:
    """Mean over the scored sets of ``other``'s melanoma AUC less ``base``'s, and its standard
    error from the images' sampling alone (each AUC's Hanley-McNeil error, the two recipes and
    the sets taken as independent: wider than a paired error on the same images, and blind to
    what another training seed would move)."""
    diffs, variances = [], []
    for e in per.values():
        if head not in e[base] or head not in e[other]:
            continue
        pos = e[base]["melanomas"]
        neg = e[base]["images"] - pos
        a, b = e[other][head]["melanoma_roc_auc"], e[base][head]["melanoma_roc_auc"]
        diffs.append(a - b)
        variances.append(
            auc_standard_error(a, pos, neg) ** 2 + auc_standard_error(b, pos, neg) ** 2
        )
    return float(np.mean(diffs)), float(np.sqrt(np.sum(variances)) / len(diffs))


def summary(per: dict[str, Any], recipes: list[str]) -> dict[str, Any]:
    """Per recipe and head: mean and worst melanoma AUC over the scored sets."""
    out: dict[str, Any] = {}
    for r in recipes:
        for h in HEADS:
            auc = [e[r][h]["melanoma_roc_auc"] for e in per.values() if h in e[r]]
            if not auc:
                continue
            out[f"{r}: {h}"] = {
                "mean_melanoma_roc_auc": round(float(np.mean(auc)), 4),
                "worst_melanoma_roc_auc": round(float(np.min(auc)), 4),
            }
    return out


def proxy_check(origins: list[str], root: Path = ROOT) -> dict[str, Any]:
    """Does the proxy (these origins and isic2020) rank recipes as all seven origins do? On
    every head-level recipe measured on all seven (:data:`FULL_PASSES`): Kendall's tau between
    the two rankings by mean melanoma AUC, and whether both pick the same best recipe. Heads,
    not backbones: the one kind of recipe with a full pass for many variants."""
    from scipy.stats import kendalltau

    subset = [*origins, UNSEEN]
    full, proxy = {}, {}
    for name in FULL_PASSES:
        path = root / "benchmarks" / f"{name}.json"
        if not path.is_file():
            continue
        per = json.loads(path.read_text(encoding="utf-8"))["origins"]
        heads = [h for h, v in next(iter(per.values())).items() if isinstance(v, dict)]
        for h in heads:
            if not all("melanoma_roc_auc" in per[o].get(h, {}) for o in per):
                continue
            auc = {o: per[o][h]["melanoma_roc_auc"] for o in per}
            if not set(subset) <= set(auc):
                continue
            full[f"{name}: {h}"] = float(np.mean(list(auc.values())))
            proxy[f"{name}: {h}"] = float(np.mean([auc[o] for o in subset]))
    if len(full) < 3:
        return {}
    names = sorted(full)
    tau = kendalltau([full[n] for n in names], [proxy[n] for n in names]).statistic
    best_full, best_proxy = max(full, key=full.get), max(proxy, key=proxy.get)
    return {
        "origins": subset,
        "recipes": len(names),
        "kendall_tau": round(float(tau), 3),
        "best_on_all_seven": best_full,
        "best_on_the_proxy": best_proxy,
    }


def markdown(result: dict[str, Any]) -> str:
    """One row per scored set and recipe: each head's AUC / specificity at sensitivity 0.90 /
    balanced accuracy / worst re-capture's alert flips / worst re-capture's class changes."""
    lines = [
        "| run held out: scored on | recipe | network head | blend (as shipped) |",
        "|---|---|---|---|",
    ]
    for key, by_recipe in result["sets"].items():
        for recipe, e in by_recipe.items():
            cells = [cell(e[h]) if h in e else "n/a" for h in HEADS]
            lines.append(f"| {key} | {recipe} | " + " | ".join(cells) + " |")
    lines.append("")
    recipes = list(next(iter(result["sets"].values()), {}))
    lines.append("| recipe: head | mean melanoma AUC | worst | mean change (± 2 SE) |")
    lines.append("|---|---|---|---|")
    for name, s in result["summary"].items():
        recipe, head = name.rsplit(": ", 1)
        change = ""
        if recipes and recipe != recipes[0] and recipe in recipes:
            d, se = difference(result["sets"], recipes[0], recipe, head)
            change = f"{d:+.3f} (± {2 * se:.3f})"
        lines.append(
            f"| {name} | {s['mean_melanoma_roc_auc']:.3f} | {s['worst_melanoma_roc_auc']:.3f} "
            f"| {change} |"
        )
    if len(recipes) > 1:
        lines += [
            "",
            "Mean change: the candidate's melanoma AUC less the shipped recipe's, averaged over the "
            "scored sets; ± 2 SE is what sampling other images of the same kind could move it "
            "(Hanley-McNeil, unpaired), not what another training seed could.",
        ]
    lines += _inside_lines(result.get("inside_sources") or {})
    full = result.get("full_pass")
    if full:
        lines += ["", _full_note(full)]
    if result.get("in_source"):
        lines += ["", in_source.markdown(result["in_source"])]
    stored = {} if full else result.get("shipped_recipe_from") or {}
    earlier = {o: f for o, f in stored.items() if f != "yardstick.json"}
    yardstick = [o for o, f in stored.items() if f == "yardstick.json"]
    if earlier:
        lines += [
            "",
            "The shipped recipe's figures for "
            + ", ".join(f"{o} (from `benchmarks/{f}`)" for o, f in earlier.items())
            + " are those of an earlier comparison: the same runs, scored by the same code.",
        ]
    if yardstick:
        lines += [
            "",
            f"For {', '.join(yardstick)} they are the yardstick's (`benchmarks/yardstick.json`): "
            "the network head only, both runs scored as the yardstick scores them (the model's "
            "own probabilities), and no isic2020 set.",
        ]
    check = result.get("proxy_check")
    if check:
        same = check["best_on_all_seven"] == check["best_on_the_proxy"]
        lines += [
            "",
            f"Does the proxy ({', '.join(check['origins'])}) rank recipes as all seven origins "
            f"do? On {check['recipes']} head-level recipes measured on all seven, Kendall's tau "
            f"between the two rankings by mean melanoma AUC is {check['kendall_tau']:.2f}; "
            + (
                f"both pick the same best ({check['best_on_all_seven']})."
                if same
                else f"the best on all seven is {check['best_on_all_seven']}, on the proxy "
                f"{check['best_on_the_proxy']}."
            ),
        ]
    return "\n".join(lines)


def _inside_lines(inside: dict[str, Any]) -> list[str]:
    """Each run's balanced accuracy on its own internal test split (its card), per recipe."""
    if not inside:
        return []
    recipes = list(next(iter(inside.values())))
    lines = [
        "",
        "| run held out | " + " | ".join(recipes) + " |",
        "|---" * (len(recipes) + 1) + "|",
    ]
    for o, by in inside.items():
        cells = [f"{by[r]:.3f}" if isinstance(by.get(r), float) else "n/a" for r in recipes]
        lines.append(f"| {o}: internal-test balanced accuracy | " + " | ".join(cells) + " |")
    return lines


def _full_note(full: dict[str, Any]) -> str:
    text = (
        f"The full pass: every origin held out in turn, isic2020 scored on the candidate's backbone "
        f"trained with no origin held out. The shipped recipe's figures are its own full pass "
        f"(`benchmarks/{full['baseline']}`, scored as the candidate is)."
    )
    if full.get("missing"):
        text += (
            f" **A pass in progress:** {', '.join(full['missing'])} not trained yet, left out of "
            f"both recipes' figures; the mean and the worst are over the other origins only."
        )
    if full["same"]:
        text += (
            f" With {', '.join(full['same'])} held out the candidate's flag changes nothing, so "
            "its run there is the shipped recipe's and the two rows are one measurement."
        )
    return text


def main(argv: list[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    usage = (
        "usage: python -m benchmarks.recipe_compare CANDIDATE ORIGIN [ORIGIN ...]\n"
        "       python -m benchmarks.recipe_compare CANDIDATE --full [--partial] [--same ORIGIN ...]"
    )
    if len(args) < 2:
        raise SystemExit(usage)
    candidate, rest = args[0], args[1:]
    full = rest[0] == "--full"
    if full:
        partial = "--partial" in rest
        rest = [a for a in rest if a != "--partial"]
        same = rest[2:] if rest[1:2] == ["--same"] else []
        if len(rest) > 1 and not same:
            raise SystemExit(usage)
        missing: list[str] | None = [] if partial else None
        per, inside = full_pass(candidate, same, missing=missing)
        notes: dict[str, Any] = {"full_pass": {"baseline": FULL_BASELINE, "same": same}}
        if missing:
            notes["full_pass"]["missing"] = missing
        inside_sources = in_source.compare(candidate)
        if inside_sources:
            notes["in_source"] = inside_sources
    else:
        per, inside, stored = compare(candidate, rest)
        notes = {"shipped_recipe_from": stored} if stored else {}
        notes["proxy_check"] = proxy_check(rest)
    recipes = ["shipped recipe", candidate]
    body = {"penalty": PENALTY, "sets": per, "summary": summary(per, recipes)}
    body["inside_sources"] = inside
    body |= notes
    suffix = "_full" if full else ""
    write_result(
        ROOT / "benchmarks" / f"recipe_{candidate}{suffix}.json",
        f"the {candidate} recipe against the shipped one, on "
        + ("every origin held out in turn" if full else "origins both held out"),
        "python -m benchmarks.recipe_compare " + " ".join(args),
        body,
        markdown(body),
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
