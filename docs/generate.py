"""Rewrite the generated blocks of README.md and docs/*.md from the files that hold their figures.

A figure typed into a document drifts from the model or measurement it describes;
here every figure is rendered from its source file (the model card, the model file,
``benchmarks/results.json``, ``benchmarks/bundle.json``) into a marked block::

    <!-- generated:NAME from SOURCES by `python -m docs.generate`; new figures: COMMAND -->
    ...
    <!-- /generated:NAME -->

Text outside the blocks is left alone. ``tests/test_docs.py`` fails when a committed
document differs from what this renders, so a new model or measurement is followed by:

    python -m docs.generate           # rewrite the blocks in place
    python -m docs.generate --check   # only say which blocks are stale (exit 1)
"""

from __future__ import annotations

import argparse
import hashlib
import json
import re
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

from benchmarks import provenance
from benchmarks import report as bench

ROOT = Path(__file__).resolve().parent.parent
COMMAND = "python -m docs.generate"

BLOCK = re.compile(
    r"<!-- generated:(?P<name>[\w-]+)\b[^\n]*?-->\n(?P<body>.*?)<!-- /generated:(?P=name) -->",
    re.S,
)
OPENING = re.compile(r"<!-- generated:([\w-]+)")
CLOSING = re.compile(r"<!-- /generated:([\w-]+) -->")


class GenerateError(Exception):
    """A document whose blocks cannot be rendered (unknown name, unclosed block, no source)."""


@dataclass
class Sources:
    """The files figures come from, read once; a missing file reads as None."""

    root: Path = ROOT

    def _json(self, rel: str) -> dict[str, Any] | None:
        path = self.root / rel
        return json.loads(path.read_text(encoding="utf-8")) if path.is_file() else None

    @cached_property
    def card(self) -> dict[str, Any] | None:
        return self._json("assets/model.json")

    @cached_property
    def model_bytes(self) -> bytes | None:
        path = self.root / "assets" / "model.tflite"
        return path.read_bytes() if path.is_file() else None

    @cached_property
    def model_sha256(self) -> str | None:
        return hashlib.sha256(self.model_bytes).hexdigest() if self.model_bytes else None

    @cached_property
    def results(self) -> dict[str, Any] | None:
        return self._json("benchmarks/results.json")

    @cached_property
    def robustness(self) -> dict[str, Any] | None:
        return self._json("benchmarks/robustness.json")

    @cached_property
    def adaptation(self) -> dict[str, Any] | None:
        return self._json("benchmarks/adaptation.json")

    @cached_property
    def heads(self) -> dict[str, Any] | None:
        return self._json("benchmarks/heads.json")

    @cached_property
    def refit_head(self) -> dict[str, Any] | None:
        return self._json("benchmarks/refit_head.json")

    @cached_property
    def yardstick(self) -> dict[str, Any] | None:
        return self._json("benchmarks/yardstick.json")

    @cached_property
    def adapt_speed(self) -> dict[str, Any] | None:
        return self._json("benchmarks/adapt_speed.json")

    @cached_property
    def bundle(self) -> dict[str, Any] | None:
        return self._json("benchmarks/bundle.json")

    @cached_property
    def scope(self) -> dict[str, Any] | None:
        return self._json("benchmarks/scope.json")

    @cached_property
    def head_inputs(self) -> dict[str, Any] | None:
        return self._json("benchmarks/head_inputs.json")

    @cached_property
    def head_weighting(self) -> dict[str, Any] | None:
        return self._json("benchmarks/head_weighting.json")

    @cached_property
    def recapture_head(self) -> dict[str, Any] | None:
        return self._json("benchmarks/recapture_head.json")

    @cached_property
    def clinic_scope(self) -> dict[str, Any] | None:
        return self._json("benchmarks/clinic_scope.json")

    @cached_property
    def seed_source(self) -> dict[str, Any] | None:
        return self._json("benchmarks/seed_source.json")


def _need(value: Any, what: str) -> Any:
    if value is None:
        raise GenerateError(f"{what} not found")
    return value


def pct(value: Any) -> str:
    return f"{value * 100:.1f} %"


def _num(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


# ---------------------------------------------------------------- model card


def _clauses(m: dict[str, Any], threshold: Any) -> list[str]:
    """The headline figures present in a card's metrics, as clauses of one sentence."""
    out = []
    if _num(m.get("accuracy")) and _num(m.get("balanced_accuracy")):
        out.append(
            f"**{pct(m['accuracy'])} accuracy, {pct(m['balanced_accuracy'])} balanced accuracy**"
        )
    if _num(m.get("macro_roc_auc")):
        out.append(f"macro ROC AUC {m['macro_roc_auc']:.3f}")
    if _num(m.get("melanoma_sensitivity")) and _num(m.get("melanoma_specificity")):
        at = f" ({threshold:.3f})" if _num(threshold) else ""
        out.append(
            f"melanoma sensitivity {pct(m['melanoma_sensitivity'])} at specificity "
            f"{pct(m['melanoma_specificity'])} at the shipped alert threshold{at}"
        )
    if _num(m.get("ece_after_temperature")):
        floor = m.get("ece_sampling_floor")
        out.append(
            f"ECE {m['ece_after_temperature']:.3f} after temperature scaling"
            + (
                f" (a perfectly calibrated model would show about {floor:.3f} on as many images)"
                if _num(floor)
                else ""
            )
        )
    if _num(m.get("quantized_top1_agreement")):
        out.append(f"{pct(m['quantized_top1_agreement'])} top-1 agreement with the float model")
    return out


def _join(clauses: list[str]) -> str:
    return clauses[0] if len(clauses) == 1 else ", ".join(clauses[:-1]) + " and " + clauses[-1]


def _data_phrase(card: dict[str, Any]) -> str:
    data = card.get("training_data") or {}
    sources = data.get("sources")
    if isinstance(sources, list) and sources:
        names = ", ".join(f"`{s.get('name', '?')}`" for s in sources)
        return f" from {len(sources)} source{'s' if len(sources) > 1 else ''} ({names})"
    if data.get("source"):
        return f" from `{Path(str(data['source'])).name}`"
    return ""


def model_summary(s: Sources) -> str:
    """README's paragraph on the shipped model: what it is and its headline figures."""
    card = _need(s.card, "assets/model.json")
    m = card.get("metrics") or {}
    size = (card.get("input") or {}).get("size")
    kib = f"{len(s.model_bytes) / 1024:.0f} KiB" if s.model_bytes else "no model file"
    quant = card.get("quantization", "")
    what = f"{card.get('name', 'model')} ({len(card.get('classes', []))} classes"
    what += f", {size}×{size} input" if size else ""
    what += f", **{kib} {quant}** `assets/model.tflite`)"
    training = card.get("training") or {}
    fit, wall = training.get("train_seconds"), training.get("wall_seconds")
    # "Trained in": the fitting itself; the whole run (data to export, every session of it)
    # beside it, so a reader knows what reproducing it costs.
    trained = f", trained in {fit / 60:.0f} minutes" if _num(fit) else ""
    if _num(wall) and (not _num(fit) or round(wall / 60) != round(fit / 60)):
        trained += (
            f" ({wall / 60:.0f} for the whole run)"
            if trained
            else f", built in {wall / 60:.0f} minutes"
        )
    lines = [
        f"The shipped model `{card.get('model_version', '?')}` is a {what}{trained}"
        f"{_data_phrase(card)}."
    ]
    head = card.get("head")
    if isinstance(head, dict) and _num(head.get("images")):
        lines[0] += (
            f" {_head_phrase(head)} on the view-averaged features of {head['images']:,} training "
            f"images of every source, ISIC 2020 included{_copies_phrase(head)} "
            "(`python -m benchmarks.refit_head`): "
            "chosen on the mean and the worst of the origins held out of training "
            "(docs/experiments.md), though a little worse on this split."
        )
    clauses = _clauses(m, (card.get("alert") or {}).get("melanoma_threshold"))
    if clauses:
        split = m.get("measured_on", "held-out")
        images = f" ({m['images']} images)" if _num(m.get("images")) else ""
        lines.append(
            f"On its {split} split{images}, made before any augmentation and never used for any "
            f"choice, the {m.get('model', quant)} model measures {_join(clauses)}."
        )
    lines += _rare_classes(card)
    by_source = m.get("melanoma_by_source")
    if isinstance(by_source, dict) and by_source:
        lines += ["", *_by_source_table(by_source)]
    for key, title in (("test_split", "A source's own test folder"), ("out_of_source", None)):
        if isinstance(m.get(key), dict):
            lines += ["", _held_out_sentence(m[key], title)]
    if "out_of_source" not in m:
        lines += ["", "This card has no out-of-source figures (`make train` adds them)."]
    return "\n".join(lines)


def _rare_classes(card: dict[str, Any]) -> list[str]:
    """Classes the app warns about (``desktop.verdict.RARE_RECALL``), with their recall."""
    from desktop.verdict import RARE_RECALL

    recall = (card.get("metrics") or {}).get("per_class_recall")
    if not isinstance(recall, dict):
        return []
    classes, index = card.get("classes") or [], card.get("melanoma_index")
    # Melanoma is found by the alert (its own figures), not as the top class.
    mel = classes[index] if isinstance(index, int) and 0 <= index < len(classes) else "melanoma"
    rare = [f"{c} {pct(r)}" for c, r in recall.items() if _num(r) and r < RARE_RECALL and c != mel]
    if not rare:
        return []
    return [
        f"Classes found in fewer than {RARE_RECALL:.0%} of their test images (the app warns "
        f"about them): {', '.join(rare)}."
    ]


def _by_source_table(by_source: dict[str, Any]) -> list[str]:
    def cell(v: Any, f: Callable[[Any], str]) -> str:
        return f(v) if _num(v) else "n/a"

    lines = [
        "Melanoma, per image source of that split:",
        "",
        "| source | images | melanomas | sensitivity | specificity | ROC AUC |",
        "|---|---|---|---|---|---|",
    ]
    for name, v in by_source.items():
        lines.append(
            f"| {name} | {cell(v.get('images'), str)} | {cell(v.get('melanomas'), str)} "
            f"| {cell(v.get('sensitivity'), pct)} | {cell(v.get('specificity'), pct)} "
            f"| {cell(v.get('roc_auc'), lambda x: f'{x:.3f}')} |"
        )
    return lines


def _held_out_sentence(v: dict[str, Any], title: str | None) -> str:
    origins = v.get("origins") if isinstance(v.get("origins"), list) else []
    if title is None and len(origins) > 1:
        title = (
            f"Out of source ({', '.join(f'`{o}`' for o in origins)}): the same recipe trained "
            "without each origin in turn and scored on its images, the mean over them"
        )
    elif title is None:
        title = f"Out of source (`{v.get('source', '?')}`): the same recipe trained without it"
        title += " and scored on its images"
    figures = []
    if _num(v.get("images")):
        figures.append(f"{v['images']} images")
    for key, label in (("accuracy", "accuracy"), ("balanced_accuracy", "balanced accuracy")):
        if _num(v.get(key)):
            figures.append(f"{label} {pct(v[key])}")
    if _num(v.get("melanoma_sensitivity")) and _num(v.get("melanoma_specificity")):
        figures.append(
            f"melanoma sensitivity {pct(v['melanoma_sensitivity'])} at specificity "
            f"{pct(v['melanoma_specificity'])}"
        )
    if _num(v.get("melanoma_roc_auc")):
        figures.append(f"melanoma ROC AUC {v['melanoma_roc_auc']:.3f}")
    return f"{title}: {', '.join(figures) or 'no figures'}." + _held_out_points(v)


def _held_out_points(v: dict[str, Any]) -> str:
    """The high melanoma level and the referral prompts there, each at the threshold its run
    chose on validation (benchmarks.held_out_points), as the window quotes them."""
    points = v.get("operating_points") if isinstance(v.get("operating_points"), dict) else {}
    named = [("the high melanoma level", "melanomas", points.get("melanoma_high"))]
    named += [
        (f"the {cls} referral", "positives", f)
        for cls, f in sorted((points.get("referrals") or {}).items())
    ]
    parts = [
        f"{name} caught {pct(f['sensitivity'])} of {f['positives']} {what} at specificity "
        f"{pct(f['specificity'])}"
        + (f" (the mean over {len(f['origins'])} origins)" if len(f.get("origins", [])) > 1 else "")
        for name, what, f in named
        if isinstance(f, dict) and _num(f.get("sensitivity")) and _num(f.get("specificity"))
    ]
    return f" There, {'; '.join(parts)}." if parts else ""


def training_data(s: Sources) -> str:
    """README's list of what the model was trained on, with each source's licence."""
    card = _need(s.card, "assets/model.json")
    data = card.get("training_data") or {}
    sources = data.get("sources")
    lines = []
    if isinstance(sources, list) and sources:
        lines.append("The shipped model was trained on:")
        lines.append("")
        for src in sources:
            images = src.get("images")
            count = f", {images:,} images" if _num(images) else ""
            licence = f"; licence: {src['licence']}" if src.get("licence") else ""
            cite = f" {src['citation']}" if src.get("citation") else ""
            lines.append(
                f"- `{src.get('name', '?')}` ({src.get('format', '?')}{count}{licence}).{cite}"
            )
        if _num(data.get("identities")):
            dup = data.get("cross_source_duplicates")
            lines += [
                "",
                f"{data['identities']:,} distinct images after copies were merged"
                + (f" ({dup:,} found in more than one source)" if _num(dup) else "")
                + ".",
            ]
    elif data.get("source"):
        images = data.get("images")
        count = f" ({images:,} images)" if _num(images) else ""
        lines.append(f"The shipped model was trained on `{Path(str(data['source'])).name}`{count}.")
    else:
        lines.append("The model card does not say what the model was trained on.")
    return "\n".join(lines)


# ---------------------------------------------------------------- benchmarks


def _results(s: Sources) -> dict[str, Any]:
    return _need(s.results, "benchmarks/results.json")


def _identity(s: Sources) -> str:
    res = _results(s)
    return provenance.identity_sentence(
        res, provenance.measured_model(res, s.model_sha256, s.card), s.card
    )


def speed_summary(s: Sources) -> str:
    """README's speed and size table, with which model and machine it was measured on."""
    res = _results(s)
    meta = res["meta"]
    mach = meta["machine"]
    return "\n".join(
        [
            f"Measured {meta['created'][:10]} with `make bench` (full table in "
            f"[docs/benchmarks.md](docs/benchmarks.md)) on {mach['cpu']}, {mach['nproc']} CPU(s), "
            f"medians of {meta['repeats']} runs. {_identity(s)}",
            "",
            bench.readme_table(res),
        ]
    )


def benchmarks_setup(s: Sources) -> str:
    res = _results(s)
    return "\n".join([*provenance.setup_lines(res), "", _identity(s)])


def benchmarks_table(s: Sources) -> str:
    return bench.format_table(_results(s))


def benchmarks_findings(s: Sources) -> str:
    return "\n".join(bench.findings(_results(s)) or ["- Nothing was measured."])


def _fig(v: Any) -> str:
    return f"{v:.3f}" if _num(v) else "n/a"


def adaptation_curve(s: Sources) -> str:
    """Clinic adaptation on origins the model never saw (benchmarks.adaptation)."""
    r = _need(s.adaptation, "benchmarks/adaptation.json")
    lines = [
        "| held-out origin (its images, melanomas) | clinic images | of them melanomas | draws | "
        "AUC base | AUC adapted | base alert: sens. / spec. | adapted alert: sens. / spec. | "
        "adapt wrote it / chose right (draws): AUC kept |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for origin, o in r["origins"].items():
        for n, e in o["sizes"].items():
            m = e["median"]
            b, a = m["base"], m["adapted"]
            lines.append(
                f"| {origin} ({o['images']:,}, {o['melanomas']}) | {n} | {m['train_melanomas']} | "
                f"{len(e['runs'])} | "
                f"{_fig(b['roc_auc'])} | **{_fig(a['roc_auc'])}** | "
                f"{_fig(b['sensitivity'])} / {_fig(b['specificity'])} | "
                f"{_fig(a['sensitivity'])} / {_fig(a['specificity'])} | {_kept(m)} |"
            )
    shipped = (_need(s.refit_head, "benchmarks/refit_head.json").get("shipped") or {}).get("recipe")
    which = [
        f"{', '.join(origins)}: held-out runs of {_recipe_words(rec, shipped)}, measured {day}"
        for rec, day, origins in _by_recipe(
            r["origins"], lambda o: o.get("measured", r["date"][:10])
        )
    ]
    lines += [
        "",
        "Medians over the draws (the draws column: a draw with fewer than 5 melanomas or 5 "
        f"other lesions is not counted). {'; '.join(which)}. {r['method']} The last column: "
        "in how many draws `adapt` wrote the adapted model, in how many that was the right "
        "choice (it wrote the model that ranks the origin's other images better, or kept the "
        "base where adapting did not), and the median AUC of what the clinic kept; '-' where "
        "the origin was measured before the benchmark applied that rule.",
        "",
        *rule_against_always(r["origins"]),
    ]
    return "\n".join(lines)


HARM = 0.01  # an adaptation 'hurt' when the origin's other images lost more AUC than this


def rule_against_always(origins: dict[str, Any]) -> list[str]:
    """What `adapt`'s rule buys, by clinic size, over every draw it was applied to: the
    AUC change the clinic keeps under the rule against adapting every time, and how many
    draws each left the clinic with a model that ranks its other images worse."""
    runs: dict[int, list[tuple[float, bool]]] = {}
    for o in origins.values():
        for n, e in o["sizes"].items():
            for d in e["runs"]:
                if "written" in d:
                    gain = d["adapted"]["roc_auc"] - d["base"]["roc_auc"]
                    runs.setdefault(int(n), []).append((gain, bool(d["written"])))
    if not runs:
        return []
    out = [
        "| clinic images | draws | adapt's rule: mean AUC change kept, draws it hurt (worst) | "
        "adapting every time: the same | helpful adaptations the rule declined |",
        "|---|---|---|---|---|",
    ]
    for n in sorted(runs):
        gains = [g for g, _ in runs[n]]
        kept = [g if w else 0.0 for g, w in runs[n]]
        declined = sum(1 for g, w in runs[n] if not w and g > HARM)

        def said(changes: list[float]) -> str:
            hurt = [c for c in changes if c < -HARM]
            worst = f" ({min(hurt):+.3f})" if hurt else ""
            return f"{sum(changes) / len(changes):+.3f}, {len(hurt)}{worst}"

        out.append(f"| {n} | {len(gains)} | {said(kept)} | {said(gains)} | {declined} |")
    out += [
        "",
        f"Every counted draw of the origins above with the rule applied; 'hurt': the origin's other "
        f"images ranked worse by more than {HARM} AUC than with the base model, 'helpful': better "
        f"by more than {HARM}.",
    ]
    return out


def _kept(median: dict[str, Any]) -> str:
    """'2 / 1: 0.701' (draws adapt wrote the model in / draws it chose right: AUC of what
    the clinic kept), or '-'."""
    if "chose_right" not in median:
        return "-"
    return f"{median['written']} / {median['chose_right']}: {_fig(median['kept']['roc_auc'])}"


# benchmarks.refit_head / yardstick key of issue #26's yardstick column
SPEC_90 = "specificity_at_sensitivity_0.90"


def heads_table(s: Sources) -> str:
    """Heads refitted on pooled features across sources, scored on a held-out origin."""
    r = _need(s.heads, "benchmarks/heads.json")
    lines = [
        "| held-out origin | images (melanomas) | head | melanoma ROC AUC | specificity at "
        "sensitivity 0.90 | balanced accuracy |",
        "|---|---|---|---|---|---|",
    ]
    for origin, e in r.items():
        for head in ("network", "refit", "blend", "melanoma-vs-rest"):
            if head not in e:
                continue
            f = e[head]
            lines.append(
                f"| {origin} | {e['images']:,} ({e['melanomas']}) | {head} | "
                f"{_fig(f['melanoma_roc_auc'])} | {_fig(f[SPEC_90])} | "
                f"{_fig(f.get('balanced_accuracy'))} |"
            )
    return "\n".join(lines)


def refit_head_table(s: Sources) -> str:
    """Network head, refitted head and their blend: in source and on a held-out origin."""
    r = _need(s.refit_head, "benchmarks/refit_head.json")
    lines = [
        "| origin held out | head | internal test: accuracy / bal. acc. / melanoma AUC | "
        "held-out origin: melanoma AUC | spec. at sens. 0.90 | its alert: sens. / spec. | "
        "bal. acc. |",
        "|---|---|---|---|---|---|---|",
    ]
    for origin, e in r.items():
        if origin == "shipped":
            continue
        for head in ("network", "refit", "blend"):
            t, h = e[head]["internal_test"], e[head]["holdout"]
            lines.append(
                f"| {origin} | {head} | {_fig(t['accuracy'])} / {_fig(t['balanced_accuracy'])} / "
                f"{_fig(t['melanoma_roc_auc'])} | {_fig(h['roc_auc'])} | "
                f"{_fig(h[SPEC_90]) if SPEC_90 in h else '-'} | {_fig(h['sensitivity'])} / {_fig(h['specificity'])} | "
                f"{_fig(h['balanced_accuracy'])} |"
            )
    heads = ("network", "refit", "blend")
    if any(SPEC_90 not in e[h]["holdout"] for o, e in r.items() if o != "shipped" for h in heads):
        lines.append(
            "\n'-': refitted before the column was recorded (2026-12-06); `make held-out-refits "
            "HELD_OUT=<origin>` with the origin's run present adds it."
        )
    shipped = r.get("shipped", {}).get("recipe")
    runs = {o: e for o, e in r.items() if o != "shipped"}
    for rec, _, group in sorted(_by_recipe(runs), key=lambda g: json.dumps(g[0], sort_keys=True)):
        held = [runs[o] for o in group]
        which = f"({', '.join(group)}), each held out of a run of " + _recipe_words(rec, shipped)
        for head in ("network", "refit", "blend"):
            auc = [e[head]["holdout"]["roc_auc"] for e in held]
            bal = [e[head]["holdout"]["balanced_accuracy"] for e in held]
            sens = [e[head]["holdout"]["sensitivity"] for e in held]
            spec90 = [e[head]["holdout"][SPEC_90] for e in held if SPEC_90 in e[head]["holdout"]]
            lines.append(
                f"{'' if head != 'network' else chr(10)}Over the {len(held)} origins "
                f"{which}, {head}: melanoma AUC mean {_fig(sum(auc) / len(auc))}, worst "
                f"{_fig(min(auc))}; balanced accuracy mean {_fig(sum(bal) / len(bal))}, worst "
                f"{_fig(min(bal))}; the alert's sensitivity mean {_fig(sum(sens) / len(sens))}, "
                f"worst {_fig(min(sens))}"
                + _spec90_phrase(spec90, len(held))
                + "."
                + ("" if head == "blend" else "  ")
            )
    return "\n".join(lines)


def _spec90_phrase(values: list[float], origins: int) -> str:
    """The mean and worst specificity at sensitivity 0.90, saying on how many of the origins
    it was measured where a refit written before the figure existed lacks it."""
    if not values:
        return ""
    some = "" if len(values) == origins else f" (on the {len(values)} of them measured so)"
    return (
        f"; specificity at sensitivity 0.90 mean {_fig(sum(values) / len(values))}, worst "
        f"{_fig(min(values))}{some}"
    )


def _by_recipe(
    entries: dict[str, dict[str, Any]], also: Callable[[dict[str, Any]], str] = lambda e: ""
) -> list[tuple[Any, str, list[str]]]:
    """Origins grouped by the recipe their held-out run followed (and ``also``, e.g. the day
    measured), in the entries' order: a file that merges runs of two recipes says which is which."""
    groups: dict[tuple[str, str], list[str]] = {}
    for origin, e in entries.items():
        groups.setdefault((json.dumps(e.get("recipe"), sort_keys=True), also(e)), []).append(origin)
    return [(json.loads(rec), extra, origins) for (rec, extra), origins in groups.items()]


def _recipe_words(rec: dict[str, Any] | None, shipped: dict[str, Any] | None) -> str:
    """Which training recipe the held-out runs followed: the shipped model's, or how theirs
    differs from it (trainer knobs, a missing one at the trainer's default)."""
    if rec == shipped:
        return "the shipped recipe"
    rec, shipped = rec or {}, shipped or {}
    diff = [
        f"{k.replace('_', ' ')} {rec.get(k, 'default')} (shipped: {shipped.get(k, 'default')})"
        for k in sorted(set(rec) | set(shipped))
        if rec.get(k) != shipped.get(k)
    ]
    return "another recipe: " + "; ".join(diff)


def _head_phrase(head: dict[str, Any]) -> str:
    """What was done to the network's last layer, as the card's ``head.kind`` says."""
    if head.get("kind") == "blend":
        return "Its last layer was then averaged with a head refitted"
    return "Its last layer was then refitted"


def _copies_phrase(head: dict[str, Any]) -> str:
    """How many re-captured copies of each image the head was also fitted on, if any."""
    k = head.get("recaptured_copies") or 0
    if not k:
        return ""
    return f" and on {'one random re-capture' if k == 1 else f'{k} random re-captures'} of each"


def shipped_head(s: Sources) -> str:
    """The model report's run, and what ships on top of it (a refitted head)."""
    card = _need(s.card, CARD)
    head = card.get("head") or {}
    if not head.get("network_model_version"):
        return f"Model `{card['model_version']}` is this run's model as exported."
    return (
        f"Model `{card['model_version']}` is what ships: this run's backbone. "
        f"{_head_phrase(head)} on the view-averaged features of {head.get('images', 0):,} "
        f"training images of every source{_copies_phrase(head)} "
        "(`python -m benchmarks.refit_head`, chosen on held-out origins: see "
        "[experiments](experiments.md)). Its figures are in the README. The figures below are "
        f"this run's own, for its network head (model `{head['network_model_version']}`)."
    )


def yardstick_table(s: Sources) -> str:
    """The shipped recipe on each origin held out of its training (benchmarks.yardstick)."""
    r = _need(s.yardstick, "benchmarks/yardstick.json")
    lines = [
        "| held-out origin | images (melanomas) | melanoma ROC AUC | specificity at sensitivity "
        "0.90 | at its own alert: sens. / spec. | balanced accuracy |",
        "|---|---|---|---|---|---|",
    ]
    for origin, o in r["origins"].items():
        lines.append(
            f"| {origin} | {o['images']:,} ({o['melanomas']}) | {_fig(o['melanoma_roc_auc'])} | "
            f"{_fig(o[SPEC_90])} | {_fig(o['sensitivity_at_alert'])} / "
            f"{_fig(o['specificity_at_alert'])} | {_fig(o['balanced_accuracy'])} |"
        )
    t = r["targets"]
    lines += [
        "",
        f"Mean melanoma ROC AUC over these {len(r['origins'])} origins "
        f"**{_fig(r['mean_melanoma_roc_auc'])}** (target ≥ {t['mean_melanoma_roc_auc']}), worst "
        f"**{_fig(r['worst_melanoma_roc_auc'])}** (target ≥ {t['worst_melanoma_roc_auc']}); "
        f"measured {r['date'][:10]}.",
    ]
    return "\n".join(lines)


def adapt_speed(s: Sources) -> str:
    """How long ``adapt`` takes on 400 images (benchmarks.adapt_speed)."""
    r = _need(s.adapt_speed, "benchmarks/adapt_speed.json")
    c, w, t = r["cold"], r["cached"], r["targets"]
    verdict = "meets" if r["pass"] else "misses"
    return (
        f"`adapt` on {r['images']} images: **{c['seconds']:.0f} s** with a cold feature cache, "
        f"{w['seconds']:.0f} s re-run with the cache, peak memory {c['peak_mib']:.0f} MiB"
        f"{' (the process and the children it reads images in)' if r.get('tree') else ''}; "
        f"{verdict} the target (≤ {t['seconds']:.0f} s, ≤ {t['peak_mib']:.0f} MiB). Measured "
        f"{r['date'][:10]}{'; ' + r['note'] if r.get('note') else ''}."
    )


def robustness_tables(s: Sources) -> str:
    """Re-captured held-out images: how often the verdict changes (benchmarks.robustness)."""
    from benchmarks.robustness_report import markdown

    return markdown(_need(s.robustness, "benchmarks/robustness.json"))


def seed_source(s: Sources) -> str:
    """Why the seed data set reads worse: class shares, its own pixels (benchmarks.seed_source)."""
    from benchmarks.seed_source import markdown

    return markdown(_need(s.seed_source, "benchmarks/seed_source.json"))


def clinic_scope(s: Sources) -> str:
    """A clinic's own "unlike this clinic's dermoscopy" limit, nested (benchmarks.clinic_scope)."""
    from benchmarks.clinic_scope import markdown

    return markdown(_need(s.clinic_scope, "benchmarks/clinic_scope.json"))


def recapture_head(s: Sources) -> str:
    """Heads fitted with and without re-captured copies, per held-out origin
    (benchmarks.recapture_head)."""
    from benchmarks.recapture_head import markdown

    return markdown(_need(s.recapture_head, "benchmarks/recapture_head.json"))


def head_inputs(s: Sources) -> str:
    """A refitted head reading parts of the descriptor, per held-out origin (benchmarks.head_inputs)."""
    from benchmarks.head_inputs import markdown

    return markdown(_need(s.head_inputs, "benchmarks/head_inputs.json"))


def head_weighting(s: Sources) -> str:
    """The refitted head with origins weighed or aligned, per held-out origin
    (benchmarks.head_weighting)."""
    from benchmarks.head_inputs import markdown

    return markdown(_need(s.head_weighting, "benchmarks/head_weighting.json"))


def recipe(candidate: str) -> Callable[[Sources], str]:
    """A training recipe against the shipped one on the proxy origins
    (``benchmarks/recipe_<candidate>.json``, benchmarks.recipe_compare)."""

    def block(s: Sources) -> str:
        from benchmarks.recipe_compare import markdown

        return _measured_table(s, f"benchmarks/recipe_{candidate}.json", markdown)

    return block


def recipe_seeds(candidate: str) -> Callable[[Sources], str]:
    """A training recipe paired seed by seed with the shipped one
    (``benchmarks/recipe_seeds_<candidate>.json``, benchmarks.recipe_seeds)."""

    def block(s: Sources) -> str:
        from benchmarks.recipe_seeds import markdown

        rel = f"benchmarks/recipe_seeds_{candidate}.json"
        return _measured_table(s, rel, lambda r: markdown(r, candidate))

    return block


def robustness_side_by_side(named: dict[str, str]) -> Callable[[Sources], str]:
    """Several models' re-capture figures on the same images, one column each (``named``:
    column -> result of benchmarks.robustness)."""

    def block(s: Sources) -> str:
        from benchmarks.robustness_report import side_by_side

        results = {name: _need(s._json(rel), rel) for name, rel in named.items()}
        dates = sorted({r["created"][:10] for r in results.values()})
        commands = "; ".join(f"`{r['command']}`" for r in results.values())
        return side_by_side(results) + f"\n\nMeasured {', '.join(dates)} by {commands}."

    return block


def _measured_table(s: Sources, rel: str, markdown: Callable[[dict[str, Any]], str]) -> str:
    """A benchmark's own table of its result ``rel``, and when and by what it was measured."""
    r = _need(s._json(rel), rel)
    return markdown(r) + f"\n\nMeasured {r['created'][:10]} by `{r['command']}`."


def recipe_frontier(s: Sources) -> str:
    """Every recipe measured on held-out origins, one line each, under #26's targets
    (benchmarks.recipe_frontier)."""
    from benchmarks import recipe_frontier as rf

    yard = _need(s._json("benchmarks/yardstick.json"), "benchmarks/yardstick.json")
    targets = rf.targets_markdown(_need(s.card, CARD), yard)
    return targets + "\n\n" + rf.markdown(rf.lines(s.root))


def measured(name: str) -> Callable[[Sources], str]:
    """The table ``benchmarks.<name>.markdown`` makes of ``benchmarks/<name>.json``, with when
    and by what it was measured: every benchmark that writes its own table."""

    def block(s: Sources) -> str:
        import importlib

        markdown = importlib.import_module(f"benchmarks.{name}").markdown
        return _measured_table(s, f"benchmarks/{name}.json", markdown)

    block.__doc__ = f"benchmarks/{name}.json, as benchmarks.{name} writes its table."
    return block


def bundle_summary(s: Sources) -> str:
    """README's one line on the bundle's size."""
    b = _need(s.bundle, "benchmarks/bundle.json")
    return (
        f"The bundle (`make bundle`, see [docs/bundle.md](docs/bundle.md)) measured "
        f"{b['bundle_mib_on_disk']:.0f} MiB on disk ({b['date'][:10]}) and contains no TensorFlow."
    )


def bundle_startup(s: Sources) -> str:
    """docs/bundle.md's start-up table and size, with the conditions they were measured in."""
    b = _need(s.bundle, "benchmarks/bundle.json")
    load = b.get("load_average_at_start")
    where = f"{b['platform'].split(' (')[0]}, {b['cpu_count']} CPUs"
    where += f", load {load[0]:.1f} at start" if load else ""
    labels = {
        "version": "`--version` (interpreter + bootloader only)",
        "self_check": "`--self-check` (load model, classify a synthetic image)",
        "classify_one": f"`--classify IMAGE --json` (`{b.get('image', 'one image')}`)",
    }
    lines = [f"| {where}, median of {b['runs']} | cold | warm |", "|---|---|---|"]
    for key, t in b["timings"].items():
        cold = f"{t['cold_median_s']:.2f} s" if _num(t.get("cold_median_s")) else "n/a"
        lines.append(f"| {labels.get(key, key)} | {cold} | {t['warm_median_s']:.2f} s |")
    lines += [
        "",
        f"Bundle size: **{b['bundle_mib_on_disk']:.0f} MiB** on disk (`du -sh dist/LesionLens`), "
        f"measured {b['date'][:10]} with model `{b['model']}` ({b['model_bytes']:,} bytes).",
    ]
    if b.get("note"):
        lines += ["", f"Conditions: {b['note']}"]
    return "\n".join(lines)


def _setter(r: dict[str, Any]) -> str:
    """Which left-out origin set the card's limit: the lowest held-out limit, less the margin."""
    per = {o: e["held_out_limit"] for o, e in r["dermoscopy"].items()}
    low = min(per, key=per.get)
    margin = r["decision"]["margin"]
    return (
        f"{low}'s held-out limit ({per[low]:.2f}, the lowest of the {len(per)}) "
        f"less the {margin} margin"
    )


def scope_summary(s: Sources) -> str:
    """The "is this dermoscopy" decision, per origin left out, and on what is not dermoscopy."""
    r = _need(s.scope, "benchmarks/scope.json")
    d = r["decision"]
    lines = [
        f"Decision `{d['method']}` on `{r['model']}`, fitted on `{r['rows']}` "
        f"({r['when'][:10]}); refused below {d['threshold']:.2f}, caution below "
        f"{d['caution']:.2f} (log-odds). The refusal limit is {_setter(r)}.",
        "",
        "| dermoscopy origin, left out of the fit | images | assessable | melanomas assessable "
        "| assessed with a caution |",
        "|---|---|---|---|---|",
    ]
    for o, e in r["dermoscopy"].items():
        lines.append(
            f"| {o} | {e['images']:,} | {bench.share_down(e['held_out_assessable'])} | "
            f"{bench.share_down(e['held_out_melanoma_assessable'])} ({e['melanomas']}) | "
            f"{bench.share_down(e['held_out_caution'])} |"
        )
    lines += [
        "",
        "| not dermoscopy, out-of-fold | images | refused | assessed with a caution | no melanoma "
        "alert | refused by the old distance |",
        "|---|---|---|---|---|---|",
    ]
    for k, e in r["negatives"].items():
        if k.startswith("picture:"):
            continue
        name = "non-skin pictures" if k == "pictures" else k
        lines.append(
            f"| {name} | {e['images']:,} | {bench.share_down(e['refused'])} | "
            f"{bench.share_down(e['assessed_with_caution'])} | {bench.share_down(e['no_alert'])} | "
            f"{bench.share_down(e['refused_by_old_distance'])} |"
        )
    if r.get("frontier"):
        lines += [
            "",
            "| a stricter limit: log-odds above it | clinical photos refused | non-skin pictures "
            "refused | least kept left-out origin: its images | least kept melanomas, any origin |",
            "|---|---|---|---|---|",
        ]
        for f in r["frontier"]:
            lines.append(
                f"| +{f['shift']:g} | {bench.share_down(f['clinical_photos_refused'])} | "
                f"{bench.share_down(f['pictures_refused'])} | {f['least_kept_origin']}: "
                f"{bench.share_down(f['least_kept'])} | {bench.share_down(f['least_kept_melanomas'])} |"
            )
    q = r.get("quality")
    if q:
        cue = any("pixel_cue" in e["failed"] for e in q["by_origin"].values())
        lines += [
            "",
            f"Image quality: {bench.share_down(q['dermoscopy_pass_rate'])} of {q['dermoscopy_images']:,} "
            "real dermoscopy images (a fixed sample per origin) pass every limit (size, blank, "
            f"{'colour, ' if 'min_colour' in q['limits'] else ''}exposure, "
            f"blur){' and the pixel cue' if cue else ''}.",
        ]
        colour = q.get("dermoscopy_quantiles", {}).get("colour")
        if colour:
            lines[-1] += (
                f" The least colourful of them lie {colour['0.001']:.0f} levels of 255 from grey "
                f"(the lowest 0.1 %; a picture under {q['limits']['min_colour']:g} is refused "
                "as black and white)."
            )
        re = q.get("recaptured")
        if re:
            low = min(re, key=lambda v: re[v]["pass_rate"])
            lines[-1] += (
                f" Re-taken each of {len(re)} ways (`desktop.recapture`: JPEG, half size, light, "
                "crop, blur...), the same images pass every limit and the pixel cue at least "
                f"{bench.share_down(re[low]['pass_rate'])} of the time ({re[low]['what']}); at most "
                f"{bench.share_down(max(e['max_burnt_share'] for e in re.values()))} of a re-take "
                "was burnt-out white."
            )
    return "\n".join(lines)


@dataclass(frozen=True)
class Block:
    """One kind of generated block: where its figures come from and what renders them."""

    sources: tuple[str, ...]
    remeasure: str  # the command that produces new figures for it
    render: Callable[[Sources], str]

    def opening(self, name: str) -> str:
        return (
            f"<!-- generated:{name} from {', '.join(self.sources)} by `{COMMAND}`; "
            f"new figures: `{self.remeasure}` -->"
        )


CARD, MODEL = "assets/model.json", "assets/model.tflite"
RESULTS, BUNDLE = "benchmarks/results.json", "benchmarks/bundle.json"
SCOPE = "benchmarks/scope.json"


def measured_block(name: str, remeasure: str) -> Block:
    """The block of a benchmark that writes its own table (:func:`measured`)."""
    return Block((f"benchmarks/{name}.json",), remeasure, measured(name))


BLOCKS: dict[str, Block] = {
    "model-summary": Block((CARD, MODEL), "make train", model_summary),
    "training-data": Block((CARD,), "make train", training_data),
    "speed-summary": Block((RESULTS, CARD, MODEL), "make bench", speed_summary),
    "benchmarks-setup": Block((RESULTS, CARD, MODEL), "make bench", benchmarks_setup),
    "benchmarks-table": Block((RESULTS,), "make bench", benchmarks_table),
    "benchmarks-findings": Block((RESULTS,), "make bench", benchmarks_findings),
    "robustness": Block(("benchmarks/robustness.json",), "make robustness", robustness_tables),
    "adaptation-curve": Block(
        ("benchmarks/adaptation.json", "benchmarks/refit_head.json"),
        "make experiments",
        adaptation_curve,
    ),
    "heads": Block(
        ("benchmarks/heads.json",),
        "make experiments",
        heads_table,
    ),
    "refit-head": Block(
        ("benchmarks/refit_head.json",),
        "make experiments",
        refit_head_table,
    ),
    "shipped-head": Block((CARD,), "make experiments", shipped_head),
    "yardstick": Block(("benchmarks/yardstick.json",), "make experiments", yardstick_table),
    "seed-source": Block(("benchmarks/seed_source.json",), "make experiments", seed_source),
    "head-inputs": Block(("benchmarks/head_inputs.json",), "make head-inputs", head_inputs),
    "recipe-zoom": Block(("benchmarks/recipe_zoom.json",), "make recipe-zoom", recipe("zoom")),
    "recipe-colour": Block(
        ("benchmarks/recipe_colour.json",), "make recipe-colour", recipe("colour")
    ),
    "recipe-copies": Block(
        ("benchmarks/recipe_copies.json",), "make recipe-copies", recipe("copies")
    ),
    "recipe-size160": Block(
        ("benchmarks/recipe_size160.json",), "make recipe-size160", recipe("size160")
    ),
    "recipe-lite1": Block(("benchmarks/recipe_lite1.json",), "make recipe-lite1", recipe("lite1")),
    "recipe-lowpass": Block(
        ("benchmarks/recipe_lowpass.json",),
        "make recipe-lowpass PROXY_HELD_OUT=vidir_modern",
        recipe("lowpass"),
    ),
    "recipe-lowpass05": Block(
        ("benchmarks/recipe_lowpass05.json",),
        "make recipe-lowpass05 PROXY_HELD_OUT=vidir_modern",
        recipe("lowpass05"),
    ),
    "recipe-seed2": Block(
        ("benchmarks/recipe_seed2.json",),
        "make recipe-seed2 PROXY_HELD_OUT=vidir_modern",
        recipe("seed2"),
    ),
    "recipe-origins": Block(
        ("benchmarks/recipe_origins.json",),
        "make recipe-origins PROXY_HELD_OUT=vidir_modern",
        recipe("origins"),
    ),
    "recipe-crop80": Block(
        ("benchmarks/recipe_crop80.json",),
        "make recipe-crop80 PROXY_HELD_OUT=vidir_modern",
        recipe("crop80"),
    ),
    "recipe-dro": Block(
        ("benchmarks/recipe_dro.json",),
        "make recipe-dro PROXY_HELD_OUT=vidir_modern",
        recipe("dro"),
    ),
    "recipe-dro001": Block(
        ("benchmarks/recipe_dro001.json",),
        "make recipe-dro001 PROXY_HELD_OUT=vidir_modern",
        recipe("dro001"),
    ),
    "recipe-seeds-consistency4": Block(
        ("benchmarks/recipe_seeds_consistency4.json",),
        "make recipe-consistency4-seed2 PROXY_HELD_OUT=vidir_modern",
        recipe_seeds("consistency4"),
    ),
    "recipe-seeds-level": Block(
        ("benchmarks/recipe_seeds_level.json",),
        "make recipe-level-seed2 recipe-level PROXY_HELD_OUT=vidir_modern",
        recipe_seeds("level"),
    ),
    "robustness-level": Block(
        ("benchmarks/robustness_seed2.json", "benchmarks/robustness_level_seed2.json"),
        "make robustness-level",
        robustness_side_by_side(
            {
                "shipped recipe, seed 2": "benchmarks/robustness_seed2.json",
                "exposure levelled, seed 2": "benchmarks/robustness_level_seed2.json",
            }
        ),
    ),
    "recipe-frontier": Block(
        (
            CARD,
            "benchmarks/yardstick.json",
            "benchmarks/recipe_*.json",
            "benchmarks/experiments.mk",
        ),
        "make recipe-<name>",
        recipe_frontier,
    ),
    "recipe-consistency": Block(
        ("benchmarks/recipe_consistency.json",), "make recipe-consistency", recipe("consistency")
    ),
    "recipe-consistency4": Block(
        ("benchmarks/recipe_consistency4.json",), "make recipe-consistency4", recipe("consistency4")
    ),
    "recipe-consistency4-full": Block(
        ("benchmarks/recipe_consistency4_full.json",),
        "make recipe-consistency4-full",
        recipe("consistency4_full"),
    ),
    "recipe-copies-full": Block(
        ("benchmarks/recipe_copies_full.json",), "make recipe-copies-full", recipe("copies_full")
    ),
    "ensemble": measured_block("ensemble", "make ensemble"),
    "pseudo-labels": measured_block("pseudo_labels", "make pseudo-labels"),
    "blend-weight": measured_block("blend_weight", "make blend-weight"),
    "borderline": measured_block("borderline", "make borderline"),
    "scale-views": measured_block("scale_views", "make scale-views"),
    "recipe-freeze5": Block(
        ("benchmarks/recipe_freeze5.json",), "make recipe-freeze5", recipe("freeze5")
    ),
    "head-weighting": Block(
        ("benchmarks/head_weighting.json",), "make head-weighting", head_weighting
    ),
    "recapture-head": Block(
        ("benchmarks/recapture_head.json",), "make recapture-head", recapture_head
    ),
    "clinic-scope": Block(("benchmarks/clinic_scope.json",), "make clinic-scope", clinic_scope),
    "adapt-speed": Block(("benchmarks/adapt_speed.json",), "make bench", adapt_speed),
    "bundle-summary": Block(
        (BUNDLE,), "make bundle && python -m benchmarks.bundle", bundle_summary
    ),
    "scope-summary": Block((SCOPE,), "make scope", scope_summary),
    "scope-general": measured_block("scope_general", "make scope-general"),
    "scope-gate": measured_block("scope_gate", "make scope"),
    "scope-topics": measured_block("scope_topics", "make scope"),
    "blur-limit": measured_block("blur_limit", "make blur-limit"),
    "bundle-startup": Block(
        (BUNDLE,), "make bundle && python -m benchmarks.bundle", bundle_startup
    ),
}


def documents(root: Path = ROOT) -> list[Path]:
    """The documents that may hold generated blocks."""
    return [root / "README.md", *sorted((root / "docs").glob("*.md"))]


def render_text(text: str, sources: Sources, where: str = "document") -> str:
    """``text`` with every generated block re-rendered from ``sources``."""
    opened, closed = OPENING.findall(text), CLOSING.findall(text)
    matched = [m.group("name") for m in BLOCK.finditer(text)]
    if sorted(opened) != sorted(matched) or sorted(closed) != sorted(matched):
        raise GenerateError(f"{where}: a generated block is not closed or not opened")

    def one(m: re.Match[str]) -> str:
        name = m.group("name")
        block = BLOCKS.get(name)
        if block is None:
            raise GenerateError(f"{where}: unknown generated block {name!r}")
        body = block.render(sources).rstrip("\n")
        return f"{block.opening(name)}\n{body}\n<!-- /generated:{name} -->"

    return BLOCK.sub(one, text)


# Blocks a trainer export drops (`trainer export --report docs/` writes model-report.md afresh from
# the run): put back under the title, so `make train`'s docs.generate keeps the document whole.
EXPORTED = {"model-report.md": ("# Model report\n\n", ("shipped-head",))}


def restored(text: str, name: str) -> str:
    """``text`` with the blocks :data:`EXPORTED` names for ``name`` put back where missing."""
    title, names = EXPORTED.get(name, ("", ()))
    for block in names:
        if f"generated:{block} " not in text and text.startswith(title):
            empty = f"{BLOCKS[block].opening(block)}\n<!-- /generated:{block} -->\n\n"
            text = title + empty + text[len(title) :]
    return text


def stale_blocks(old: str, new: str) -> list[str]:
    """Names of the blocks whose text differs between two renderings of one document."""
    before = {m.group("name"): m.group(0) for m in BLOCK.finditer(old)}
    return [
        m.group("name") for m in BLOCK.finditer(new) if before.get(m.group("name")) != m.group(0)
    ]


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument(
        "--check", action="store_true", help="change nothing; exit 1 if a block is stale"
    )
    p.add_argument("--root", type=Path, default=ROOT, help="repository root (default: this one)")
    args = p.parse_args(argv)
    sources, stale = Sources(args.root), []
    for path in documents(args.root):
        text = path.read_text(encoding="utf-8")
        try:
            new = render_text(restored(text, path.name), sources, path.name)
        except GenerateError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 2
        if new == text:
            continue
        names = ", ".join(stale_blocks(text, new))
        stale.append(f"{path.relative_to(args.root)}: {names}")
        if not args.check:
            path.write_text(new, encoding="utf-8")
    verb = "stale" if args.check else "rewritten"
    for line in stale:
        print(f"{verb}: {line}")
    return 1 if args.check and stale else 0


if __name__ == "__main__":
    sys.exit(main())
