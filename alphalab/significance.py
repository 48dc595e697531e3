"""When a gain is real: the rule behind the leaderboard's labels.

A new best is re-run with fresh seeds. Its first run is not evidence: it was picked because it came out best, so it
is biased (the winner's curse). The evidence is its re-runs, against the incumbent: the re-runs of the previous
confirmed best, or, before any confirmation, the noise floor's runs of the reference configuration.

The rule is a one-sided two-sample t-test with a pooled variance. The variance is pooled over every group of runs of
one configuration the campaign has (the noise floor's runs, each re-run experiment's runs): `df = sum(n_i - 1)`. With
`d` the re-runs' mean gain over the incumbent's mean (positive = better, in the metric's direction) and
`se = s * sqrt(1/n_candidate + 1/n_incumbent)`:

- `confirmed`: `d > t(1 - alpha, df) * se`: the chance that noise alone gives such a gain is below `alpha`;
- `within noise`: `0 < d <= t * se`: better on average, but not distinguishable from the noise;
- `refuted`: `d <= 0`: the re-runs do not reproduce a gain at all;
- `provisional`: one run, not re-run (yet).

Without an incumbent (the noise floor is off and nothing is confirmed yet) or without a noise estimate, nothing can
be confirmed: a reproduced gain stays `within noise`.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence
from typing import Literal

from pydantic import BaseModel
from scipy import stats

Label = Literal["provisional", "confirmed", "within noise", "refuted"]
DEFAULT_ALPHA = 0.05


class Noise(BaseModel):
    """The pooled standard deviation of one configuration's runs, and its degrees of freedom."""

    sd: float
    df: int


def pooled(groups: Sequence[Sequence[float]]) -> Noise | None:
    """The pooled estimate over groups of runs of one configuration each; None without a group of two runs."""
    df = sum(len(g) - 1 for g in groups if len(g) > 1)
    if df == 0:
        return None
    ss = sum(sum((x - statistics.fmean(g)) ** 2 for x in g) for g in groups if len(g) > 1)
    return Noise(sd=math.sqrt(ss / df), df=df)


class Verdict(BaseModel):
    label: Label
    gain: float  # the re-runs' mean gain over the incumbent, positive when better
    threshold: float | None  # the gain it had to pass; None without a noise estimate


def verdict(reruns: Sequence[float], incumbent: Sequence[float], direction: Literal["min", "max"],
            noise: Noise | None, alpha: float = DEFAULT_ALPHA) -> Verdict:
    """The label of a re-run candidate against the incumbent's runs (empty: no incumbent, the first result)."""
    if not reruns:
        return Verdict(label="provisional", gain=0.0, threshold=None)
    mean = statistics.fmean(reruns)
    if not incumbent:  # nothing to measure a gain against: reproduced, but not shown to be better than anything
        return Verdict(label="within noise", gain=0.0, threshold=None)
    sign = 1.0 if direction == "min" else -1.0
    gain = sign * (statistics.fmean(incumbent) - mean)
    if gain <= 0:
        return Verdict(label="refuted", gain=gain, threshold=None)
    if noise is None:
        return Verdict(label="within noise", gain=gain, threshold=None)
    threshold = stats.t.ppf(1 - alpha, noise.df) * noise.sd * math.sqrt(1 / len(reruns) + 1 / len(incumbent))
    return Verdict(label="confirmed" if gain > threshold else "within noise", gain=gain, threshold=threshold)
