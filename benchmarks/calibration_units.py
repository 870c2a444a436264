"""The population units of the calibration suite (benchmarks/calibration.py) and their true values.

Each unit type is a distribution of activations per class (10 classes, equal
sizes), written so that its survival function S_c(t) = P(a >= t | class c) is
known in closed form. From it:

- measures with a limit as N grows (ccmas, ccmas_morcos, max_informedness and
  its recall / specificity / false alarm rate / FDR / precision at the best
  (class, threshold)) get their population value by formula
  (the class means exactly, the threshold sweep on a grid of 200,001
  thresholds plus the "fires at all" threshold t -> 0+ of an atom at zero);
- measures that depend on the sample size N (precision_60, precision_100,
  n_classes_top100, recall_p1, recall_p95, localist_margin, is_localist) have
  no limit worth reporting (with unbounded tails recall_p1 tends to 0, and
  recall_p95 is reached only far in the tail, on a few images), so their
  population value is *their expectation at this N, class sizes as in the
  sample*: for a measure that takes the best class, the population's best
  class's own expected value (max over classes of E_N[m_c]); estimated here
  from 20,000 independent samples by a plain numpy implementation that shares
  no code with seldb (Monte Carlo error below 0.002).

Every number is computed from the definitions in docs/measures.md, not by seldb.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import stats

K = 10  # classes


@dataclass(frozen=True)
class UnitType:
    """Activations of class c: ReLU(N(mu_c, 1)), exp(N(mu_c, 1)) or a bounded mixture."""

    name: str
    kind: str  # relu | lognormal | bounded
    mu: tuple[float, ...] = (0.0,) * K
    label: str = ""

    def sample(self, rng: np.random.Generator, labels: np.ndarray, n: int) -> np.ndarray:
        """(images, n) activations: n independent samples of the unit on these labels."""
        mu = np.asarray(self.mu)[labels][:, None]
        z = rng.standard_normal((labels.size, n))
        if self.kind == "relu":
            return np.maximum(z + mu, 0.0)
        if self.kind == "lognormal":
            return np.exp(z + mu)
        u = rng.random((labels.size, n))
        lead = labels[:, None] == 0
        other = np.where(rng.random((labels.size, n)) < 0.7, 0.0, 0.6 * u)
        return np.where(lead, 0.5 + 0.5 * u, other)

    def survival(self, t: np.ndarray) -> np.ndarray:
        """(K, thresholds): P(a >= t | c) for t > 0."""
        mu = np.asarray(self.mu)[:, None]
        if self.kind == "relu":
            return stats.norm.sf(t[None, :] - mu)
        if self.kind == "lognormal":
            return stats.norm.sf(np.log(t)[None, :] - mu)
        lead = np.clip((1.0 - t) / 0.5, 0.0, 1.0)
        other = 0.3 * np.clip((0.6 - t) / 0.6, 0.0, 1.0)
        return np.vstack([lead, np.repeat(other[None, :], K - 1, axis=0)])

    def means(self) -> np.ndarray:
        mu = np.asarray(self.mu)
        if self.kind == "relu":
            return mu * stats.norm.cdf(mu) + stats.norm.pdf(mu)
        if self.kind == "lognormal":
            return np.exp(mu + 0.5)
        return np.array([0.75] + [0.3 * 0.3] * (K - 1))


UNIT_TYPES = (
    UnitType(
        "relu_graded", "relu", (0.9, 0.4, 0.1, -0.2, -0.5, -0.8, -0.8, -0.8, -0.8, -0.8), "ReLU, graded class shifts"
    ),
    UnitType("lognormal", "lognormal", (1.5, 0.3) + (0.0,) * 8, "lognormal, selective"),
    UnitType("near_localist", "bounded", label="near-localist, bounded support"),
    UnitType("weak", "relu", (-0.5,) + (-0.8,) * 9, "weak ReLU (class 0 shifted by 0.3)"),
    UnitType("null", "relu", (-0.8,) * K, "null (no class dependence)"),
)


def sweep_values(unit: UnitType) -> dict[str, float]:
    """ccmas, ccmas_morcos, max_informedness (+ its components at the best class and threshold) of
    the population (equal class sizes); NaN where the population has no best choice."""
    means = unit.means()
    best = int(np.argmax(means))
    others = np.delete(means, best).mean()
    out = {"ccmas": (means[best] - others) / (means[best] + others)}
    out["ccmas_morcos"] = out["ccmas"]  # equal class sizes: the pooled and unweighted means agree
    top = {"relu": 8.0, "lognormal": 200.0, "bounded": 1.0}[unit.kind]
    t = np.concatenate([[1e-300], np.linspace(1e-9, top, 200_001)])  # 1e-300: "fires at all", a > 0
    hit = unit.survival(t)  # (K, T)
    if unit.kind == "bounded":
        hit[:, 0] = [1.0] + [0.3] * (K - 1)  # a > 0 at the atom
    false = (hit.sum(axis=0, keepdims=True) - hit) / (K - 1)
    informed = hit - false
    c, j = np.unravel_index(np.argmax(informed), informed.shape)
    if informed[c, j] < 1e-9:
        out.update(max_informedness=0.0)
        return out
    tp, fp = hit[c, j] / K, false[c, j] * (K - 1) / K
    out.update(
        max_informedness=float(informed[c, j]),
        mi_recall=float(hit[c, j]),
        mi_specificity=float(1 - false[c, j]),
        mi_false_alarm_rate=float(false[c, j]),
        mi_false_discovery_rate=float(fp / (tp + fp)),
        mi_precision=float(tp / (tp + fp)),
    )
    return out


def sample_size_values(unit: UnitType, labels: np.ndarray, samples: int = 20_000, seed: int = 99) -> dict[str, float]:
    """The N-dependent measures' expectations at this sample size (see the module docstring)."""
    rng = np.random.default_rng(seed)
    counts = {60: np.zeros(K), 100: np.zeros(K)}
    n_classes, recall1, recall95, margin, localist = 0.0, np.zeros(K), np.zeros(K), 0.0, 0.0
    rank = np.arange(1, labels.size + 1)[:, None]
    lead = int(np.argmax(unit.means()))
    done = 0
    while done < samples:
        n = min(500, samples - done)
        values = unit.sample(rng, labels, n)
        order = np.argsort(-values, axis=0, kind="stable")
        for k in (60, 100):
            top = labels[order[:k]]  # continuous above zero: no ties in any top-100 here
            counts[k] += np.array([(top == c).sum() for c in range(K)]) / k
        n_classes += sum(len(np.unique(labels[order[:100, i]])) for i in range(n))
        for c in range(K):
            inside, outside = values[labels == c], values[labels != c]
            above = inside > outside.max(axis=0)  # precision 1: above every other class's image
            recall1[c] += above.mean(axis=0).sum()
        ranked = labels[order]
        for c in range(K):
            tp = np.cumsum(ranked == c, axis=0)  # images of c among the top r (no ties above zero)
            qualifies = (tp >= 0.95 * rank) & (tp > 0)  # precision >= 0.95 with TP > 0
            recall95[c] += (np.where(qualifies, tp, 0).max(axis=0) / (labels == c).sum()).sum()
        gap = values[labels == lead].min(axis=0) - values[labels != lead].max(axis=0)
        margin += gap.sum()
        localist += (gap > 0).sum()
        done += n
    return {
        "precision_60": float(counts[60].max() / samples),
        "precision_100": float(counts[100].max() / samples),
        "n_classes_top100": n_classes / samples,
        "recall_p1": float(recall1.max() / samples),
        "recall_p95": float(recall95.max() / samples),
        "localist_margin": margin / samples,
        "is_localist": localist / samples,
    }


def population_values(unit: UnitType, labels: np.ndarray, samples: int = 20_000) -> dict[str, float]:
    return {**sweep_values(unit), **sample_size_values(unit, labels, samples)}
