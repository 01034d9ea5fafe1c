"""The numbers behind clinic adaptation, in numpy: a head refitted on pooled features,
its temperature, its melanoma threshold, and honest cross-validated figures.

The adapted head is a *correction* of the base head: in standardised feature space,
``logits = Z (V0 + D) + (c0 + d)`` where ``V0, c0`` reproduce the base model and only the
correction ``D`` is penalised (``lam / 2 * |D|^2``). With few images it stays near the base
model; classes absent or rare in the clinic's data are not corrected at all, so they keep
the base behaviour. The loss allows partial labels: an image known only to be "not
melanoma" counts with the probability of every class it allows.

Every choice (penalty, temperature, threshold) is made on out-of-fold probabilities, and
the figures reported for it come from a further outer fold: nested cross-validation.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from desktop.head import LinearHead, softmax

# Penalties tried, strongest first (a tie keeps the stronger: closer to the base model).
PENALTIES: tuple[float, ...] = (1.0, 0.1, 0.01, 0.001)
# A class with fewer single-label images than this keeps the base head's weights.
MIN_CLASS_IMAGES = 10
TARGET_SENSITIVITY = 0.90
# Weigh classes equally in the fit (see class_weights).
BALANCED = True
MAX_ITER = 300
# Stop when the loss changes by less than this share, or no gradient entry exceeds this:
# far below what moves a probability in the third decimal.
LOSS_TOLERANCE = 1e-7
GRADIENT_TOLERANCE = 1e-5


@dataclass(frozen=True)
class Data:
    """Pooled features, what each image's label allows, and groups kept within one fold.

    ``copies``: the pooled features of re-captured copies of the same images
    (``desktop.recapture``), ``(draws, n, channels)``. A head is fitted on the images and
    their copies alike (each copy with its image's label and fold), so a re-take moves it
    less; everything measured (out-of-fold losses, temperature, threshold, figures) is
    measured on the images alone.

    ``weight``: a per-image weight multiplied into the class balance of the fit (a copy
    weighs as its image), for example to weigh each origin of a pooled fit the same
    (``benchmarks.head_weighting``); ``None`` weighs every image alike.
    """

    x: np.ndarray  # (n, channels)
    allowed: np.ndarray  # (n, classes) bool; one True for a full label
    groups: np.ndarray  # (n,) str
    copies: np.ndarray | None = None  # (draws, n, channels)
    weight: np.ndarray | None = None  # (n,) positive

    def __post_init__(self) -> None:
        if self.copies is not None and self.copies.shape[1:] != self.x.shape:
            raise ValueError(f"copies are {self.copies.shape}, images {self.x.shape}")
        if self.weight is not None and (
            self.weight.shape != (len(self.x),) or not np.all(self.weight > 0)
        ):
            raise ValueError("weight must hold one positive number per image")

    @property
    def single(self) -> np.ndarray:
        """Images with exactly one class (a full label)."""
        return self.allowed.sum(axis=1) == 1

    def subset(self, idx: np.ndarray) -> Data:
        copies = None if self.copies is None else self.copies[:, idx]
        weight = None if self.weight is None else self.weight[idx]
        return Data(self.x[idx], self.allowed[idx], self.groups[idx], copies, weight)

    def fitted_on(self) -> tuple[np.ndarray, np.ndarray]:
        """The rows a head is fitted on: the images, then each draw of their copies."""
        if self.copies is None:
            return self.x, self.allowed
        k = len(self.copies) + 1
        return np.concatenate([self.x, *self.copies]), np.tile(self.allowed, (k, 1))


@dataclass(frozen=True)
class Base:
    """The base model's head (the card's CAM weights are the network's last layer)."""

    weights: np.ndarray  # (channels, classes)
    bias: np.ndarray  # (classes,)
    temperature: float


def trainable_classes(data: Data) -> np.ndarray:
    """Classes with enough single-label images to be corrected (the rest keep the base)."""
    counts = data.allowed[data.single].sum(axis=0)
    return counts >= MIN_CLASS_IMAGES


# --- optimisation -------------------------------------------------------------------------
def class_weights(allowed: np.ndarray) -> np.ndarray:
    """Per-image weights that give every class present the same total weight (balanced),
    so a nevus-heavy clinic does not teach the head to call everything a nevus. Images with a
    partial label (known only not to be melanoma) weigh 1."""
    single = allowed.sum(axis=1) == 1
    counts = allowed[single].sum(axis=0).astype(np.float64)
    present = counts > 0
    w = np.ones(len(allowed))
    if present.any():
        per_class = np.where(present, single.sum() / (present.sum() * np.maximum(counts, 1)), 0)
        w[single] = per_class[allowed[single].argmax(axis=1)]
    return w / w.mean()


def _loss_grad(params: np.ndarray, z: np.ndarray, allowed: np.ndarray, v0, c0, mask, lam, w):
    d, n_cls = z.shape[1], v0.shape[1]
    dv = params[: d * n_cls].reshape(d, n_cls) * mask
    dc = params[d * n_cls :] * mask
    logits = z @ (v0 + dv) + (c0 + dc)
    p = softmax(logits)
    q_num = p * allowed
    q_sum = q_num.sum(axis=1, keepdims=True)
    loss = -np.mean(w * np.log(np.maximum(q_sum[:, 0], 1e-300))) + 0.5 * lam * float(np.sum(dv**2))
    g_logits = w[:, None] * (p - q_num / np.maximum(q_sum, 1e-300)) / len(z)
    gv = (z.T @ g_logits + lam * dv) * mask
    gc = g_logits.sum(axis=0) * mask
    return loss, np.concatenate([gv.ravel(), gc])


def _lbfgs(fun, x0: np.ndarray, max_iter: int = MAX_ITER, memory: int = 10) -> np.ndarray:
    """Limited-memory BFGS with a backtracking line search: enough for a convex loss."""
    x = x0.copy()
    f, g = fun(x)
    s_hist: list[np.ndarray] = []
    y_hist: list[np.ndarray] = []
    for _ in range(max_iter):
        if float(np.max(np.abs(g))) < GRADIENT_TOLERANCE:
            break
        q = g.copy()
        alphas = []
        for s, y in zip(reversed(s_hist), reversed(y_hist), strict=True):
            a = float(s @ q) / float(y @ s)
            alphas.append(a)
            q -= a * y
        if s_hist:
            q *= float(s_hist[-1] @ y_hist[-1]) / float(y_hist[-1] @ y_hist[-1])
        for (s, y), a in zip(zip(s_hist, y_hist, strict=True), reversed(alphas), strict=True):
            b = float(y @ q) / float(y @ s)
            q += s * (a - b)
        direction = -q
        slope = float(g @ direction)
        if slope >= 0:  # not a descent direction: restart from the gradient
            s_hist.clear()
            y_hist.clear()
            direction, slope = -g, -float(g @ g)
        step = 1.0
        while True:
            x_new = x + step * direction
            f_new, g_new = fun(x_new)
            if f_new <= f + 1e-4 * step * slope or step < 1e-10:
                break
            step *= 0.5
        s, y = x_new - x, g_new - g
        if float(s @ y) > 1e-12:
            s_hist.append(s)
            y_hist.append(y)
            if len(s_hist) > memory:
                s_hist.pop(0)
                y_hist.pop(0)
        converged = abs(f - f_new) < LOSS_TOLERANCE * max(1.0, abs(f))
        x, f, g = x_new, f_new, g_new
        if converged:
            break
    return x


def fit_head(data: Data, base: Base, lam: float, trainable: np.ndarray) -> LinearHead:
    """The corrected head (temperature 1: calibrate with :func:`fit_temperature`)."""
    return _fit(data, base, lam, trainable, None)[0]


def _fit(
    data: Data, base: Base, lam: float, trainable: np.ndarray, start: np.ndarray | None
) -> tuple[LinearHead, np.ndarray]:
    """The head and its raw solution; ``start`` is an earlier solution on the same images
    (a stronger penalty's): warm starts make the penalty path cheap."""
    x, allowed = data.fitted_on()
    mu = x.mean(axis=0)
    sd = x.std(axis=0)
    sd = np.where(sd > 1e-8, sd, 1.0)
    z = (x - mu) / sd
    v0 = base.weights * sd[:, None] / base.temperature
    c0 = (mu @ base.weights + base.bias) / base.temperature
    mask = trainable.astype(np.float64)
    w = class_weights(allowed) if BALANCED else np.ones(len(x))
    if data.weight is not None:
        w = w * np.tile(data.weight, len(x) // len(data.x))
        w = w / w.mean()
    size = v0.size + v0.shape[1]
    x0 = np.zeros(size) if start is None else start
    params = _lbfgs(lambda p: _loss_grad(p, z, allowed, v0, c0, mask, lam, w), x0)
    d, n_cls = v0.shape
    v = v0 + params[: d * n_cls].reshape(d, n_cls) * mask
    c = c0 + params[d * n_cls :] * mask
    weights = v / sd[:, None]  # back to raw features: logits = x W + b
    bias = c - mu @ weights
    return LinearHead(weights=weights, bias=bias, temperature=1.0), params


# --- calibration and threshold ------------------------------------------------------------
def nll(probs: np.ndarray, allowed: np.ndarray) -> float:
    """Mean negative log-likelihood of the allowed classes."""
    return float(-np.mean(np.log(np.maximum((probs * allowed).sum(axis=1), 1e-12))))


def fit_temperature(logits: np.ndarray, allowed: np.ndarray) -> float:
    """The temperature minimising the out-of-fold NLL (golden-section search on log T)."""
    lo, hi = math.log(0.2), math.log(5.0)
    ratio = (math.sqrt(5) - 1) / 2

    def cost(log_t: float) -> float:
        return nll(softmax(logits / math.exp(log_t)), allowed)

    a, b = hi - ratio * (hi - lo), lo + ratio * (hi - lo)
    fa, fb = cost(a), cost(b)
    for _ in range(40):
        if fa < fb:
            hi, b, fb = b, a, fa
            a = hi - ratio * (hi - lo)
            fa = cost(a)
        else:
            lo, a, fa = a, b, fb
            b = lo + ratio * (hi - lo)
            fb = cost(b)
    return math.exp((lo + hi) / 2)


def threshold_for_sensitivity(scores: np.ndarray, positive: np.ndarray, target: float) -> float:
    """A threshold whose share of positives at or above it is >= ``target``, splitting the
    images as the highest such threshold does.

    It lies halfway between the last positive it keeps and the next lower score, not on that
    positive's score: a card stores the head rounded, and a threshold exactly on an image's
    score would let the rounding move that image across it (a melanoma lost on validation).
    """
    s = np.asarray(scores, dtype=np.float64)
    pos = np.sort(s[positive])[::-1]
    if len(pos) == 0:
        raise ValueError("no positives to set a threshold on")
    k = max(1, math.ceil(target * len(pos) - 1e-9))
    t = float(pos[k - 1])
    below = s[s < t]
    return float((t + below.max()) / 2) if below.size else t


def specificity_at_sensitivity(scores: np.ndarray, positive: np.ndarray, target: float) -> float:
    """The share of negatives left under :func:`threshold_for_sensitivity`'s threshold: how
    many other lesions stay quiet at the alert a set would need to catch ``target`` of its own
    melanomas (issue #26's yardstick column, at 0.90)."""
    s = np.asarray(scores, dtype=np.float64)
    pos = np.asarray(positive, dtype=bool)
    if not (~pos).any():
        return float("nan")
    return float((s[~pos] < threshold_for_sensitivity(s, pos, target)).mean())


# --- metrics ------------------------------------------------------------------------------
def roc_auc(scores: np.ndarray, positive: np.ndarray) -> float:
    """Area under the ROC curve (ties count half); NaN without both kinds."""
    scores = np.asarray(scores, dtype=np.float64)
    positive = np.asarray(positive, dtype=bool)
    n_pos, n_neg = int(positive.sum()), int((~positive).sum())
    if n_pos == 0 or n_neg == 0:
        return float("nan")
    order = np.argsort(scores, kind="mergesort")
    ranks = np.empty(len(scores))
    sorted_scores = scores[order]
    i = 0
    while i < len(scores):  # average ranks over ties
        j = i
        while j + 1 < len(scores) and sorted_scores[j + 1] == sorted_scores[i]:
            j += 1
        ranks[order[i : j + 1]] = (i + j) / 2 + 1
        i = j + 1
    return float((ranks[positive].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


def roc_curve(scores: np.ndarray, positive: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(false-positive rate, true-positive rate) at every threshold, from (0, 0) to (1, 1)."""
    order = np.argsort(-np.asarray(scores), kind="mergesort")
    pos = np.asarray(positive, dtype=bool)[order]
    tpr = np.concatenate([[0.0], np.cumsum(pos) / max(1, pos.sum())])
    fpr = np.concatenate([[0.0], np.cumsum(~pos) / max(1, (~pos).sum())])
    return fpr, tpr


def alerts(probs: np.ndarray, melanoma: int, threshold: float | np.ndarray) -> np.ndarray:
    """The app's rule: melanoma at or over the threshold, or melanoma the most likely class."""
    return (probs[:, melanoma] >= threshold) | (probs.argmax(axis=1) == melanoma)


def balanced_accuracy(probs: np.ndarray, allowed: np.ndarray) -> float:
    """Mean recall over the classes present among the single-label images."""
    single = allowed.sum(axis=1) == 1
    truth = allowed[single].argmax(axis=1)
    pred = probs[single].argmax(axis=1)
    recalls = [float(np.mean(pred[truth == c] == c)) for c in np.unique(truth)]
    return float(np.mean(recalls)) if recalls else float("nan")


@dataclass(frozen=True)
class Figures:
    """What the before/after table shows, for one model over the clinic's images."""

    images: int
    melanomas: int
    roc_auc: float
    sensitivity: float
    specificity: float
    balanced_accuracy: float

    def to_dict(self) -> dict[str, float | int]:
        return {k: (round(v, 4) if isinstance(v, float) else v) for k, v in vars(self).items()}


def figures(
    probs: np.ndarray, allowed: np.ndarray, melanoma: int, threshold: float | np.ndarray
) -> Figures:
    is_mel = allowed[:, melanoma] & (allowed.sum(axis=1) == 1)
    alert = alerts(probs, melanoma, threshold)
    return Figures(
        images=len(probs),
        melanomas=int(is_mel.sum()),
        roc_auc=roc_auc(probs[:, melanoma], is_mel),
        sensitivity=float(alert[is_mel].mean()) if is_mel.any() else float("nan"),
        specificity=float((~alert[~is_mel]).mean()) if (~is_mel).any() else float("nan"),
        balanced_accuracy=balanced_accuracy(probs, allowed),
    )


# --- cross-validation ---------------------------------------------------------------------
def folds(groups: np.ndarray, positive: np.ndarray, k: int, seed: int = 0) -> np.ndarray:
    """Fold of each image: whole groups per fold, groups with a melanoma dealt out evenly."""
    rng = np.random.default_rng(seed)
    uniq = np.unique(groups)
    has_pos = {g: bool(positive[groups == g].any()) for g in uniq}
    fold_of: dict[str, int] = {}
    for kind in (True, False):
        members = [g for g in uniq if has_pos[g] == kind]
        rng.shuffle(members)
        for i, g in enumerate(members):
            fold_of[g] = i % k
    return np.array([fold_of[g] for g in groups])


@dataclass(frozen=True)
class Choice:
    """What inner cross-validation chose, and the out-of-fold probabilities it saw."""

    penalty: float
    temperature: float
    threshold: float
    oof_probabilities: np.ndarray


def choose(
    data: Data,
    base: Base,
    melanoma: int,
    k: int,
    seed: int = 0,
    penalties: Sequence[float] = PENALTIES,
) -> Choice:
    """Penalty by out-of-fold NLL; temperature and threshold on the out-of-fold logits."""
    is_mel = data.allowed[:, melanoma] & data.single
    fold = folds(data.groups, is_mel, k, seed)
    trainable = trainable_classes(data)
    logits = {lam: np.zeros(data.allowed.shape) for lam in penalties}
    for f in range(k):
        tr, te = np.flatnonzero(fold != f), fold == f
        start = None
        for lam in penalties:  # strongest first: each solution starts the next
            head, start = _fit(data.subset(tr), base, lam, trainable, start)
            logits[lam][te] = head.logits(data.x[te])
    best: tuple[float, float, np.ndarray] | None = None
    for lam in penalties:
        score = nll(softmax(logits[lam]), data.allowed)
        if best is None or score < best[0] - 1e-4:
            best = (score, lam, logits[lam])
    assert best is not None
    _, lam, logits = best
    temperature = fit_temperature(logits, data.allowed)
    probs = softmax(logits / temperature)
    threshold = threshold_for_sensitivity(probs[:, melanoma], is_mel, TARGET_SENSITIVITY)
    return Choice(lam, temperature, threshold, probs)


def fold_count(data: Data, melanoma: int, wanted: int) -> int:
    """Folds for cross-validating a clinic's images: at most one per group holding a
    melanoma (a fold without one cannot set a threshold), at least two."""
    mel_groups = data.groups[data.allowed[:, melanoma] & data.single]
    return max(2, min(wanted, len(np.unique(mel_groups))))


def adapted_is_better(before: Figures, after: Figures) -> bool:
    """The rule ``adapt`` writes by: out of fold, the adapted melanoma AUC must beat the
    base's on the clinic's own images; else the clinic keeps the base model."""
    return bool(np.isfinite(after.roc_auc) and after.roc_auc > before.roc_auc)


def fit_final(data: Data, base: Base, melanoma: int, k: int, seed: int = 0):
    """The adapted head fitted on every image, with the choices of cross-validation."""
    choice = choose(data, base, melanoma, k, seed)
    head = fit_head(data, base, choice.penalty, trainable_classes(data))
    head = LinearHead(head.weights, head.bias, choice.temperature)
    return head, choice


def nested_oof(
    data: Data, base: Base, melanoma: int, k: int, seed: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    """Outer out-of-fold probabilities and the threshold each outer fold chose on its own
    training part: the honest figures of the whole procedure, threshold included."""
    is_mel = data.allowed[:, melanoma] & data.single
    fold = folds(data.groups, is_mel, k, seed + 1)
    probs = np.zeros(data.allowed.shape)
    thresholds = np.zeros(len(data.x))
    for f in range(k):
        tr, te = np.flatnonzero(fold != f), fold == f
        head, choice = fit_final(data.subset(tr), base, melanoma, max(2, k - 1), seed)
        probs[te] = head.probabilities(data.x[te])
        thresholds[te] = choice.threshold
    return probs, thresholds
