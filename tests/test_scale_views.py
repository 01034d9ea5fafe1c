"""benchmarks.scale_views: a second scale of test-time views, scored at the shipped alert rate."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np

from benchmarks import scale_views
from desktop.head import LinearHead
from desktop.recapture import VARIANTS


def _clf(threshold: float) -> SimpleNamespace:
    """A classifier stand-in whose head reads the first pooled channel as melanoma evidence."""
    head = LinearHead(np.array([[0.0, 4.0], [0.0, 0.0]]), np.zeros(2), 1.0)
    card = SimpleNamespace(melanoma_index=1, melanoma_threshold=threshold, head=head)
    return SimpleNamespace(card=card)


def test_sample_keeps_every_melanoma_of_the_origin_and_draws_the_rest_seeded():
    rows = [(f"m{i}", "melanoma", "isic2020", "g") for i in range(3)]
    rows += [(f"n{i}", "nevus", "isic2020", "g") for i in range(20)]
    rows += [(f"x{i}", "melanoma", "rosendahl", "g") for i in range(5)]
    picked = scale_views.sample(rows, 8)
    assert len(picked) == 8 and sum(r[1] == "melanoma" for r in picked) == 3
    assert all(r[2] == "isic2020" for r in picked)
    assert picked == scale_views.sample(rows, 8)


def test_flips_are_counted_at_the_shipped_alert_rate_for_every_configuration():
    """Photos whose copies move across the threshold flip; a second scale that does not move
    under a re-capture flips less, and every configuration alerts on the same share."""
    rng = np.random.default_rng(0)
    n, k = 200, 1 + len(VARIANTS)
    feats = np.zeros((n, k, 3, 2), np.float32)
    base = rng.normal(size=n)
    feats[:, :, :, 0] = base[:, None, None]
    feats[:, 1:, 0, 0] += rng.normal(scale=0.5, size=(n, k - 1))  # the shipped scale moves
    is_mel = base > 1.0
    clf = _clf(threshold=0.5)
    out = scale_views.measure(clf, feats, is_mel, clf.card.head)
    rate = out["alert_rate"]
    assert 0.0 < rate < 1.0
    shipped = out["configs"][scale_views.SHIPPED]
    closer = out["configs"]["8 views + 8 of the central 85 %"]
    assert shipped["card"]["mean_alert_flips"] > closer["card"]["mean_alert_flips"] > 0.0
    assert closer["card"]["worst_alert_flips"] == max(closer["card"]["alert_flips"].values())
    assert (
        shipped["network"]["melanoma_roc_auc"] > 0.7 and "melanoma_roc_auc" not in shipped["card"]
    )
    # every head alerts on the shipped share of the photos at its own threshold
    p = clf.card.head.probabilities(feats[:, 0, :2].mean(1))[:, 1]
    assert np.mean(p >= closer["card"]["threshold"]) == np.mean(p >= np.quantile(p, 1 - rate))
    table = scale_views.markdown({"images": n, "melanomas": int(is_mel.sum()), **out})
    assert scale_views.SHIPPED in table and VARIANTS["jpeg_q40"].description in table
    assert VARIANTS["mirror"].description not in table
