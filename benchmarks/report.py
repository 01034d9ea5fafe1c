"""What ``benchmarks/results.json`` says, as Markdown: the full table, the README rows, findings.
Which model and machine the figures came from is said by :mod:`benchmarks.provenance`.

Pure functions of the results dict (no measuring), so the table printed by
``python -m benchmarks.run`` and the blocks ``python -m docs.generate`` writes into
README.md and docs/benchmarks.md are the same text from the same numbers.
Missing pieces are ``{"n/a": why}`` in the results and "n/a (why)" here.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from desktop.imaging import VIEW_SETS

Result = dict[str, Any]

ROOT = Path(__file__).resolve().parent.parent

LABELS = {
    "int8_tflite": "int8 TFLite (LiteRT)",
    "float32_tflite": "float32 TFLite (LiteRT)",
    "keras_float": "float Keras, model(x)",
}
# Where the training rows' input pipeline came from when results.json does not say:
# before the benchmark called the trainer's own pipeline it timed a copy without
# ``image_quality_augment``.
OLD_PIPELINE = "a copy of the pipeline without image_quality_augment"


def na(why: str) -> dict[str, str]:
    """A measurement that could not be made, with the reason shown in its place."""
    return {"n/a": why}


def is_na(value: Any) -> bool:
    return isinstance(value, dict) and "n/a" in value


def get(res: Any, *keys: str) -> Any:
    """``res[k1][k2]...`` or None where any level is missing or n/a."""
    node = res
    for k in keys:
        if not isinstance(node, dict) or k not in node or is_na(node):
            return None
        node = node[k]
    return None if is_na(node) else node


def median(res: Any, *keys: str) -> float | None:
    node = get(res, *keys)
    return node.get("median") if isinstance(node, dict) else None


def fmt(value: Any, unit: str = "", digits: int = 2) -> str:
    """'median (min-max) unit' for stats, 'n/a (why)' for missing pieces."""
    if value is None:
        return "n/a"
    if is_na(value):
        return f"n/a ({value['n/a']})"
    if isinstance(value, dict) and "median" in value:
        m, lo, hi = value["median"], value["min"], value["max"]
        return f"{m:.{digits}f} ({lo:.{digits}f}-{hi:.{digits}f}) {unit}".rstrip()
    if isinstance(value, float):
        return f"{value:.{digits}f} {unit}".rstrip()
    return f"{value} {unit}".rstrip()


def share(v: Any) -> str:
    """A share to one decimal, rounded to the nearest ("86.6 %"); "n/a" when not a number."""
    if not isinstance(v, int | float) or isinstance(v, bool) or v != v:
        return "n/a"
    return f"{100 * v:.1f} %"


def share_down(v: Any) -> str:
    """A share to one decimal, rounded down: 2,099 of 2,100 is 99.9 %, never 100.0 %."""
    if not isinstance(v, int | float) or isinstance(v, bool) or v != v:
        return "n/a"
    return f"{math.floor(v * 1000 + 1e-9) / 10:.1f} %"


def pipeline_source(res: Result) -> str:
    """Which input pipeline the training rows timed (older results timed a copy)."""
    return get(res, "training", "pipeline") or OLD_PIPELINE


def _inference_rows(res: Result) -> list[tuple[str, str]]:
    rows = []
    for name, per_thread in (res.get("inference_ms") or {}).items():
        for t, v in per_thread.items():
            rows.append((f"{LABELS.get(name, name)}, batch 1, {t} thread(s)", fmt(v, "ms/image")))
    for name, v in (res.get("sizes_bytes") or {}).items():
        rows.append((f"file size, {name}", fmt(v if is_na(v) else f"{v:,}", "bytes")))
    return rows


def _accuracy_rows(res: Result) -> list[tuple[str, str]]:
    acc = res.get("accuracy") or {}
    if "n/a" in acc:
        return [("accuracy, held-out", fmt(acc))]
    rows = []
    splits = ", ".join(f"{k} {n}" for k, n in acc.get("images", {}).items())
    views = acc.get("test_time_views")  # older results: every row one view
    for name in LABELS:
        v = acc.get(name)
        shown = (
            fmt(v)
            if is_na(v) or not isinstance(v, dict)
            else ", ".join(f"{k} {x:.3f}" for k, x in v.items() if x is not None)
        )
        how = ""
        if views and views != "none":
            n = len(VIEW_SETS.get(views, ())) or "?"
            how = ", one view" if name == "keras_float" else f", as the app ({n} views)"
        rows.append((f"accuracy, {LABELS[name]}{how} ({splits} images)", shown))
    c = acc.get("card") or {}
    if c.get("accuracy") is not None:
        rows.append(
            (
                "accuracy in the model card",
                f"{c['measured_on']} int8 {c['accuracy']:.3f}, float {c['float_accuracy']:.3f}",
            )
        )
    return rows


def _compute_rows(res: Result) -> list[tuple[str, str]]:
    fl = res.get("flops_per_image")
    rows = [
        (
            "FLOPs per image (Conv2D + Dense, 2 x MACs)",
            fmt(fl)
            if fl is None or is_na(fl)
            else f"{fl['flops'] / 1e6:.1f} MFLOP ({fl['layers']} layers)",
        )
    ]
    for t, a in (res.get("attainable_gflops") or {}).items():
        rows.append(
            (
                f"attainable float32 matmul n={a['matmul_n']}, {t} thread(s)",
                f"numpy {fmt(a['numpy_gflops'], 'GFLOP/s', 1)}; TF {fmt(a['tf_gflops'], 'GFLOP/s', 1)}",
            )
        )
    ach = res.get("achieved_gflops")
    if ach is None or is_na(ach):
        return [*rows, ("achieved GFLOP/s", fmt(ach))]
    for name, per_thread in ach.items():
        for t, v in per_thread.items():
            if is_na(v):
                continue
            frac = v["fraction_of_attainable"]
            rows.append(
                (
                    f"achieved, {LABELS.get(name, name)}, {t} thread(s)",
                    f"{v['gflops']:.1f} GFLOP/s"
                    + (f" ({frac:.0%} of attainable)" if frac is not None else ""),
                )
            )
    return rows


def _views_note(b: Result) -> str:
    """How many forward passes the app's inference figure is, when more than one."""
    n = b.get("test_time_views") or 1
    return f" ({n} views; one forward pass {b['forward_pass']:.2f} ms)" if n > 1 else ""


def _app_rows(res: Result) -> list[tuple[str, str]]:
    c = res.get("classify")
    if c is None or is_na(c):
        rows = [("--classify throughput", fmt(c))]
    else:
        rows = [
            (
                f"--classify, {c['images']} images, whole process",
                f"{fmt(c['total_s'], 's')}; {fmt(c['images_per_s'], 'images/s', 1)}",
            ),
            ("--classify, excluding start-up", fmt(c["images_per_s_excl_startup"], "images/s", 1)),
        ]
        b = c.get("in_process_ms_per_image")
        if b is not None:
            rows.append(
                (
                    "--classify per image, in process (median)",
                    fmt(b)
                    if is_na(b)
                    else f"decode+preprocess {b['decode_preprocess']:.2f} ms, "
                    f"inference {b['inference']:.2f} ms{_views_note(b)}, whole file incl. CAM "
                    f"{b['classify_path_total']:.2f} ms",
                )
            )
    rows += _throughput_rows(res)
    st = res.get("app_start_s") or {}
    rows.append(("app start to first result, unfrozen", fmt(st.get("unfrozen"), "s")))
    rows.append(("app start to first result, frozen bundle", fmt(st.get("frozen"), "s")))
    return rows


def _throughput_rows(res: Result) -> list[tuple[str, str]]:
    """In-process images/s, serial against pipelined (threads) and forked (processes, when
    measured), as a share of the machine's limit."""
    t = res.get("throughput")
    if t is None:
        return []
    if is_na(t):
        return [("throughput, serial vs pipelined", fmt(t))]
    rows = []
    for key in ("1_view", "views"):
        r = t[key]
        rows.append(
            (
                f"in process, {r['views']} view(s), {t['cores']} cores",
                ", ".join(
                    f"{k} {r[k]['images_per_s']:.0f} ({r[k]['share_of_limit']:.0%})"
                    for k in ("serial", "pipelined", "forked")
                    if k in r
                )
                + f" images/s (share of the {r['limit_images_per_s']:.0f} limit)",
            )
        )
    ms = t["ms_per_image"]
    rows.append(
        ("per image, one thread (median)", ", ".join(f"{k} {v:.2f} ms" for k, v in ms.items()))
    )
    c = res.get("classify_train")
    if c is not None:
        rows.append(
            (
                "--classify --json over Train, best of two",
                fmt(c)
                if is_na(c)
                else f"{c['images_per_s']['best']:.0f} images/s "
                f"({c['images']} images, load {c['load_average_1min']:.1f})",
            )
        )
    return rows


def _training_rows(res: Result) -> list[tuple[str, str]]:
    tr = res.get("training")
    if tr is None or is_na(tr):
        return [("training throughput", fmt(tr))]
    rows = [
        (
            f"training: input pipeline alone, {pipeline_source(res)} (batch {tr['batch_size']})",
            fmt(tr["pipeline_images_per_s"], "images/s", 0),
        )
    ]
    if "augment_images_per_s" in tr:
        rows.append(
            ("training: augmentation layers alone", fmt(tr["augment_images_per_s"], "images/s", 0))
        )
    rows.append(
        ("training: train_on_batch step", fmt(tr["train_step_images_per_s"], "images/s", 0))
    )
    rows.append(
        (
            f"training: fit, {tr['fit_steps']} steps over the pipeline",
            fmt(tr["fit_images_per_s"], "images/s", 0),
        )
    )
    return rows


def verdict(passed: bool | None) -> str:
    return {True: "PASS", False: "FAIL", None: "n/a"}[passed]


def format_table(res: Result) -> str:
    """Every measurement, then the targets: printed by the run and put in docs/benchmarks.md."""
    rows = [
        *_inference_rows(res),
        *_accuracy_rows(res),
        *_compute_rows(res),
        *_app_rows(res),
        *_training_rows(res),
    ]
    lines = ["| Measurement | Result |", "|---|---|", *(f"| {a} | {b} |" for a, b in rows)]
    lines += ["", "| Target | Required | Measured | |", "|---|---|---|---|"]
    for t in res.get("targets") or []:
        v = t["value"]
        shown = "n/a" if v is None else (f"{v:,}" if isinstance(v, int) else f"{v:.2f}")
        lines.append(
            f"| {t['name']} | {t['target']} | {shown} {t['unit']} | {verdict(t['pass'])} |"
        )
    return "\n".join(lines)


def rel(path: str) -> str:
    """A path relative to the repository when it lies inside it (the doc is read there).

    Not resolved: a symlinked run folder (runs/shipped) keeps the name it was measured by,
    so the rendered doc is the same on every checkout.
    """
    p = Path(path)
    if not p.is_absolute():
        return str(p)
    try:
        return str(p.relative_to(ROOT))
    except ValueError:
        return str(path)


def _target_text(t: Result) -> str:
    return str(t["target"]).replace("<= ", "≤ ").replace(">= ", "≥ ")


def readme_rows(res: Result) -> list[tuple[str, str, str, str]]:
    """(what, measured, target, verdict) rows of the README's speed and size table."""
    targets = {t["name"]: t for t in res.get("targets") or []}

    def target(name_start: str) -> tuple[str, str]:
        for name, t in targets.items():
            if name.startswith(name_start):
                return _target_text(t), verdict(t["pass"])
        return "", ""

    rows = []
    int8 = median(res, "inference_ms", "int8_tflite", "1")
    keras = median(res, "inference_ms", "keras_float", "1")
    rows.append(
        (
            "int8 TFLite, batch 1, 1 thread",
            f"{int8:.2f} ms/image" if int8 else "n/a",
            *target("int8 latency"),
        )
    )
    rows.append(
        (
            "int8 vs float Keras `model(x)`, 1 thread",
            f"{keras / int8:.1f}× faster ({keras:.1f} ms)" if int8 and keras else "n/a",
            *target("int8 speed-up"),
        )
    )
    c = get(res, "classify") or {}
    ips = median(res, "classify", "images_per_s")
    what = (
        f"`--classify` over {c['images']} 180-px JPEGs, whole process"
        if "180x180" in str(c.get("source", ""))
        else "`--classify`, whole process"
    )
    rows.append((what, f"{ips:.0f} images/s" if ips else "n/a", *target("--classify")))
    size = get(res, "sizes_bytes", "int8_tflite")
    model = Path(str(get(res, "meta", "model") or "model.tflite"))
    rows.append(
        (
            f"`{rel(str(model))}`",
            f"{size:,} bytes" if isinstance(size, int) else "n/a",
            *target(f"{model.name} size"),
        )
    )
    unfrozen = median(res, "app_start_s", "unfrozen")
    frozen = median(res, "app_start_s", "frozen")
    rows.append(
        (
            "app start to first result (unfrozen / frozen bundle)",
            " / ".join(f"{v:.2f} s" if v else "n/a" for v in (unfrozen, frozen)),
            "",
            "",
        )
    )
    pipe = median(res, "training", "pipeline_images_per_s")
    step = median(res, "training", "train_step_images_per_s")
    note = "" if get(res, "training", "pipeline") else f" ({OLD_PIPELINE})"
    rows.append(
        (
            f"training: input pipeline alone{note} vs training step",
            f"{pipe:,.0f} vs {step:,.0f} images/s" if pipe and step else "n/a",
            "",
            "",
        )
    )
    return rows


def readme_table(res: Result) -> str:
    lines = ["| what | measured | target | |", "|---|---|---|---|"]
    lines += [f"| {a} | {b} | {c} | {d} |" for a, b, c, d in readme_rows(res)]
    return "\n".join(lines)


def findings(res: Result) -> list[str]:
    """What the numbers say, as sentences computed from them (never typed in by hand)."""
    out = []
    int8 = median(res, "inference_ms", "int8_tflite", "1")
    keras1 = median(res, "inference_ms", "keras_float", "1")
    keras2 = median(res, "inference_ms", "keras_float", "2")
    f32 = median(res, "inference_ms", "float32_tflite", "1")
    if int8:
        s = f"One forward pass of the int8 model takes {int8:.2f} ms on one thread"
        if keras1:
            s += f", {keras1 / int8:.0f}x less than calling the float Keras model per image ({keras1:.1f} ms)"
            frac = get(res, "achieved_gflops", "keras_float", "1", "fraction_of_attainable")
            if frac is not None:
                s += f"; Keras reaches {frac:.0%} of the float32 matmul peak"
            if keras2:
                s += f", and with two threads it takes {keras2:.1f} ms"
        out.append(s + ".")
    acc = get(res, "accuracy") or {}
    if int8 and f32:
        s = f"Against the same graph in float32 TFLite ({f32:.2f} ms), int8 is {f32 / int8:.1f}x faster"
        q = get(acc, "int8_tflite", "internal_test")
        f = get(acc, "float32_tflite", "internal_test")
        if q is not None and f is not None:
            s += (
                f", at {abs(f - q) * 100:.1f} points {'lower' if q < f else 'higher'} accuracy on the "
                f"internal test split ({q:.3f} vs {f:.3f})"
            )
        out.append(s + ".")
    ips = median(res, "classify", "images_per_s")
    if ips:
        s = f"`--classify` does {ips:.0f} images/s counting process start-up"
        start = median(res, "app_start_s", "unfrozen")
        excl = median(res, "classify", "images_per_s_excl_startup")
        if start:
            s += f" ({start:.2f} s)"
        if excl:
            s += f", {excl:.0f} images/s without it"
        b = get(res, "classify", "in_process_ms_per_image")
        if b:
            s += (
                f". Per image, decoding and preprocessing take {b['decode_preprocess']:.1f} ms "
                f"and inference {b['inference']:.1f} ms"
            )
            n = b.get("test_time_views") or 1
            if n > 1:
                s += f" ({n} forward passes, one per test-time view)"
        out.append(s + ".")
    frozen, unfrozen = median(res, "app_start_s", "frozen"), median(res, "app_start_s", "unfrozen")
    if frozen and unfrozen:
        out.append(
            f"The frozen bundle (whatever `dist/LesionLens/` held that day) starts in {frozen:.2f} s, "
            f"{frozen - unfrozen:+.2f} s against the unfrozen app."
        )
    pipe = median(res, "training", "pipeline_images_per_s")
    step = median(res, "training", "train_step_images_per_s")
    aug = median(res, "training", "augment_images_per_s")
    if pipe and step:
        s = (
            f"Training: the input pipeline ({pipeline_source(res)}) alone delivers {pipe:,.0f} images/s, "
            f"{pipe / step:.0f}x what a training step consumes ({step:.0f} images/s)"
        )
        if aug:
            s += (
                f"; the augmentation layers alone ({aug:.0f} images/s) take {step / aug:.0%} of a step "
                f"({1000 / aug:.1f} of {1000 / step:.1f} ms per image)"
            )
        out.append(s + ".")
    return [f"- {line}" for line in out]
