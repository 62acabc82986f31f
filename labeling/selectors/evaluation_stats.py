"""Statistics of blind pairwise human evaluation: win rates with intervals and a Bradley–Terry ranking.

Pure functions over plain arrays (no ORM), so the coverage simulation in the tests runs them thousands
of times in seconds. The conventions, also stated on the results page and in docs/api.md:

- **Outcome** of one comparison of policy ``a`` against policy ``b``: 1 (a better), 0 (b better) or
  0.5 (a tie: the labeler put both in one group). Ties count as **half a win for each side**.
- **Pair win rate** = (wins + ties/2) / comparisons, with a **Wilson score interval** (95 % by default).
  With ties the score's variance is below the binomial one, so the interval is, if anything, wide.
- **Bradley–Terry**: P(a beats b) = σ(θa − θb); ties enter the likelihood as half a win each way (the
  "ties as half wins" convention of Chatbot Arena's BT fit, not Davidson's tie parameter), so a tie
  pulls the two strengths together. Strengths are centred (mean 0) by a tiny ridge penalty that also
  keeps a never-beaten policy's strength finite. Intervals: **percentile bootstrap over prompts**
  (all comparisons on one prompt are resampled together, as they share its difficulty).
- **Comparisons still needed** to separate a pair whose interval contains 0.5: the normal-approximation
  sample size at which the observed win rate's interval would exclude 0.5, minus what is there.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy.special import expit, log_expit
from scipy.stats import norm

RIDGE = 1e-3  # per-strength L2 penalty: identifies the centring, bounds separated strengths
NEWTON_STEPS = 50


def z_value(confidence: float) -> float:
    """Two-sided normal quantile, e.g. 1.96 for 0.95."""
    return float(norm.ppf(0.5 + confidence / 2))


def wilson_interval(score: float, n: float, confidence: float = 0.95) -> tuple[float, float]:
    """Wilson score interval of a proportion ``score / n`` (``score`` may be fractional: ties count half)."""
    if n <= 0:
        return (0.0, 1.0)
    z = z_value(confidence)
    p = score / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    # At p = 0 (or 1) the bound is exactly 0 (or 1); rounding would leave 1e-17.
    low = 0.0 if score <= 0 else max(0.0, centre - half)
    high = 1.0 if score >= n else min(1.0, centre + half)
    return (low, high)


def comparisons_to_separate(score: float, n: float, confidence: float = 0.95) -> int | None:
    """How many more comparisons (at the same observed win rate) until its interval excludes 0.5.

    0 when it already does; None when the observed rate is exactly 0.5 (no number of comparisons at this
    rate separates the two). Normal approximation: n* = z² p(1−p) / (p − 0.5)².
    """
    if n <= 0:
        return None
    low, high = wilson_interval(score, n, confidence)
    if low > 0.5 or high < 0.5:
        return 0
    p = score / n
    if abs(p - 0.5) < 1e-12:
        return None
    needed = z_value(confidence) ** 2 * max(p * (1 - p), 1e-12) / (p - 0.5) ** 2
    return max(1, math.ceil(needed - n))


@dataclass(frozen=True)
class Comparisons:
    """Comparisons of ``m`` policies grouped by prompt: ``a``, ``b`` policy indices, ``outcome`` (1/0.5/0)
    and ``cluster`` (prompt index, 0..n_clusters-1) per comparison."""

    m: int
    a: np.ndarray
    b: np.ndarray
    outcome: np.ndarray
    cluster: np.ndarray

    @property
    def n_clusters(self) -> int:
        return int(self.cluster.max()) + 1 if len(self.cluster) else 0

    def cluster_tables(self) -> tuple[np.ndarray, np.ndarray]:
        """Per prompt: ``wins[c, i, j]`` (score of i over j, ties half) and ``games[c, i, j]`` (symmetric)."""
        wins = np.zeros((self.n_clusters, self.m, self.m))
        games = np.zeros_like(wins)
        np.add.at(wins, (self.cluster, self.a, self.b), self.outcome)
        np.add.at(wins, (self.cluster, self.b, self.a), 1.0 - self.outcome)
        np.add.at(games, (self.cluster, self.a, self.b), 1.0)
        np.add.at(games, (self.cluster, self.b, self.a), 1.0)
        return wins, games


def bt_fit(wins: np.ndarray, games: np.ndarray) -> np.ndarray:
    """Bradley–Terry strengths for a batch of tables ``wins``/``games`` of shape (..., m, m); returns (..., m).

    Penalised maximum likelihood by Newton's method, batched: a bootstrap of 1000 resamples is one
    array program instead of 1000 calls to a generic optimiser (scipy has no BT fit of its own).
    The objective is concave, so Newton from zero converges in a handful of steps.
    """
    m = wins.shape[-1]
    theta = np.zeros(wins.shape[:-1])
    eye = np.eye(m)
    for _ in range(NEWTON_STEPS):
        p = expit(theta[..., :, None] - theta[..., None, :])  # P(i beats j)
        grad = (wins - games * p).sum(-1) - RIDGE * theta
        w = games * p * (1 - p)
        hess = w - eye * w.sum(-1)[..., None] - RIDGE * eye  # negative definite
        step = np.linalg.solve(hess, grad[..., None])[..., 0]
        theta = theta - step
        if np.max(np.abs(step)) < 1e-9:
            break
    return theta


def bt_log_likelihood(theta: np.ndarray, wins: np.ndarray, games: np.ndarray) -> float:
    """Log-likelihood of strengths on one table (ties as half wins), for checks and model comparison."""
    diff = theta[:, None] - theta[None, :]
    return float((wins * log_expit(diff)).sum())


@dataclass(frozen=True)
class BTResult:
    strengths: np.ndarray  # (m,) centred log-odds strengths
    low: np.ndarray  # (m,) bootstrap percentile bounds
    high: np.ndarray
    rank_low: np.ndarray  # (m,) best / worst rank seen in the central bootstrap mass (1 = best)
    rank_high: np.ndarray
    resamples: int


def bradley_terry(comparisons: Comparisons, *, resamples: int = 1000, confidence: float = 0.95,
                  seed: int = 0) -> BTResult:
    """BT strengths of all policies with percentile-bootstrap intervals (prompts resampled with replacement)."""
    wins, games = comparisons.cluster_tables()
    theta = bt_fit(wins.sum(0), games.sum(0))
    rng = np.random.default_rng(seed)
    n = wins.shape[0]
    # Each resample's table is a weighted sum of the per-prompt tables (weights = multinomial counts).
    weights = rng.multinomial(n, np.full(n, 1.0 / n), size=resamples).astype(float) if n else np.zeros((resamples, 0))
    boot = bt_fit(np.einsum("bc,cij->bij", weights, wins), np.einsum("bc,cij->bij", weights, games))
    alpha = (1 - confidence) / 2
    low, high = np.quantile(boot, [alpha, 1 - alpha], axis=0)
    ranks = (-boot).argsort(-1).argsort(-1) + 1
    rank_low, rank_high = np.quantile(ranks, [alpha, 1 - alpha], axis=0, method="nearest")
    return BTResult(theta, low, high, rank_low.astype(int), rank_high.astype(int), resamples)


def expected_score(theta_a: float, theta_b: float) -> float:
    """The BT probability that a beats b (ties half)."""
    return float(expit(theta_a - theta_b))
