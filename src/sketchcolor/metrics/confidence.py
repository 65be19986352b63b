"""Means with confidence intervals: the user study's ratings (Table 3) and the per-image
differences `compare` reports between two methods scored on the same pairs; and how many
pairs a difference needs before such an interval can settle it."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Sequence

from scipy import stats


@dataclass(frozen=True)
class Estimate:
    n: int
    mean: float
    low: float  # the confidence interval; nan when n < 2
    high: float
    sd: float  # the scores' sample standard deviation; nan when n < 2


def mean_ci(scores: Sequence[float], confidence: float = 0.95) -> Estimate:
    """The mean with Student's t confidence interval (nan where undefined)."""
    n = len(scores)
    if n == 0:
        return Estimate(0, math.nan, math.nan, math.nan, math.nan)
    mean = sum(scores) / n
    if n < 2:
        return Estimate(n, mean, math.nan, math.nan, math.nan)
    sd = math.sqrt(sum((s - mean) ** 2 for s in scores) / (n - 1))
    half = float(stats.t.ppf(0.5 + confidence / 2, n - 1)) * sd / math.sqrt(n)
    return Estimate(n, mean, mean - half, mean + half, sd)


def pairs_to_resolve(estimate: Estimate, confidence: float = 0.95, power: float = 0.8) -> int | None:
    """How many pairs a paired comparison needs for a true mean difference of `estimate.mean`,
    spread as `estimate.sd`, to get a t interval that excludes 0 with probability `power`
    (the power of the two-sided one-sample t test, from the noncentral t): the size of
    test set that a "not resolved" verdict would take to settle. None when the mean is 0 or
    the spread unknown."""
    if estimate.n < 2 or estimate.mean == 0 or math.isnan(estimate.sd):
        return None
    if estimate.sd == 0:
        return 2  # every pair differs by the same amount: two pairs show it
    effect = abs(estimate.mean) / estimate.sd
    normal = (stats.norm.ppf(0.5 + confidence / 2) + stats.norm.ppf(power)) / effect
    large_sample = max(2, math.ceil(normal**2))
    if large_sample > 10_000:
        return large_sample  # the t test's answer is within a few pairs of this one
    low, high = 1, 2 * large_sample + 10  # the t test resolves the gap at `high`, never at one pair
    while high - low > 1:  # power grows with the pairs: the fewest that reach it, by bisection
        middle = (low + high) // 2
        low, high = (low, middle) if _t_test_power(middle, effect, confidence) >= power else (middle, high)
    return high


def _t_test_power(n: int, effect: float, confidence: float) -> float:
    """The chance that n pairs with this standardized mean difference give an interval that
    excludes 0 on the side of the true difference (a verdict the wrong way round settles nothing)."""
    critical = stats.t.ppf(0.5 + confidence / 2, n - 1)
    return float(stats.nct.sf(critical, n - 1, effect * math.sqrt(n)))
