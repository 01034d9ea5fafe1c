"""benchmarks.ensemble: the members' probabilities averaged, and what the ensemble gains."""

from __future__ import annotations

import numpy as np
import pytest

from benchmarks.ensemble import ENSEMBLE, average, gains, markdown
from benchmarks.run_heads import Heads, head_figures


def _heads(rng, n: int, moved: tuple[str, ...], names=None) -> Heads:
    def probs():
        p = rng.random((n, 3))
        return p / p.sum(1, keepdims=True)

    return Heads(
        probs={h: probs() for h in ("network", "blend")},
        moved={h: {v: probs() for v in moved} for h in ("network", "blend")},
        names=np.array(names or [f"i{k}" for k in range(n)]),
        is_mel=np.arange(n) % 3 == 0,
        allowed=np.eye(3, dtype=bool)[np.arange(n) % 3],
        mel=0,
    )


def stability_flips(h: Heads, head: str, variant: str) -> float:
    """Share of images whose alert (at sensitivity 0.90 on the originals) a re-capture flips."""
    from benchmarks.recapture_head import stability

    st = stability(h.probs[head], {variant: h.moved[head][variant]}, h.is_mel, h.mel)
    return st["variants"][variant]["alert_flips"]


def test_average_is_the_mean_of_the_members_over_shared_recaptures():
    rng = np.random.default_rng(0)
    a, b = _heads(rng, 30, ("jpeg", "blur")), _heads(rng, 30, ("jpeg",))
    ens = average([a, b])
    assert np.allclose(ens.probs["blend"], (a.probs["blend"] + b.probs["blend"]) / 2)
    assert list(ens.moved["network"]) == ["jpeg"]  # only what every member has
    assert np.allclose(
        ens.moved["network"]["jpeg"], (a.moved["network"]["jpeg"] + b.moved["network"]["jpeg"]) / 2
    )
    worst = head_figures(ens)["blend"]["worst_recapture"]
    assert worst["alert_flips_under"] == "jpeg"  # the only shared re-capture
    both = head_figures(a)["network"]["worst_recapture"]
    flips = {v: stability_flips(a, "network", v) for v in ("jpeg", "blur")}
    assert both["alert_flips_under"] == max(flips, key=flips.get)
    assert both["alert_flips"] == pytest.approx(max(flips.values()), abs=1e-4)
    other = _heads(rng, 30, ("jpeg",), names=[f"j{k}" for k in range(30)])
    with pytest.raises(SystemExit, match="other images"):
        average([a, other])


def test_gains_set_the_ensemble_against_its_best_and_mean_member():
    def e(auc):
        return {
            "melanoma_roc_auc": auc,
            "specificity_at_sensitivity_0.90": 0.3,
            "balanced_accuracy": 0.5,
        }

    sets = {
        "o held out: o": {
            "r1": {"network": e(0.70), "blend": e(0.72)},
            "r2": {"network": e(0.60), "blend": e(0.76)},
            ENSEMBLE: {"network": e(0.68), "blend": e(0.78)},
        }
    }
    g = gains(sets)["o held out: o"]
    assert g["network"] == {"over_best_member": -0.02, "over_mean_member": 0.03}
    assert g["blend"] == {"over_best_member": 0.02, "over_mean_member": 0.04}
    table = markdown({"sets": sets, "gains": gains(sets)})
    assert f"| o held out: o | **{ENSEMBLE}** | 0.680 / 0.30 / 0.50 / n/a |" in table
    assert "| o held out: o: blend | +0.020 | +0.040 |" in table
