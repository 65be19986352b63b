"""Means with confidence intervals: the user study's ratings (Table 3) and the per-image
differences `compare` reports between two methods scored on the same pairs."""

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


def mean_ci(scores: Sequence[float], confidence: float = 0.95) -> Estimate:
    """The mean with Student's t confidence interval (nan where undefined)."""
    n = len(scores)
    if n == 0:
        return Estimate(0, math.nan, math.nan, math.nan)
    mean = sum(scores) / n
    if n < 2:
        return Estimate(n, mean, math.nan, math.nan)
    sd = math.sqrt(sum((s - mean) ** 2 for s in scores) / (n - 1))
    half = float(stats.t.ppf(0.5 + confidence / 2, n - 1)) * sd / math.sqrt(n)
    return Estimate(n, mean, mean - half, mean + half)
