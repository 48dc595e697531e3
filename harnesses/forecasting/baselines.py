"""Reference strategies: naive (last value) and seasonal naive (the value one season ago), and their names.

A seasonal naive's name says its period (`seasonal_naive_12`), so a leaderboard row reads right on any dataset.
Without a period of its own, SeasonalNaive repeats the season the harness decided for the dataset
(`settings.seasonality`, see seasonality.py).
"""

from __future__ import annotations

import re

import numpy as np

from harnesses.forecasting.strategy import RunSettings, Series, Strategy

NAIVE = "naive"
_SEASONAL_NAIVE = re.compile(r"^seasonal_naive_([1-9]\d*)$")


def seasonal_naive_name(period: int) -> str:
    return f"seasonal_naive_{period}"


def _last_finite(values: np.ndarray, n: int) -> np.ndarray:
    """The last `n` values, each NaN replaced by the value one period `n` earlier where one exists."""
    out = np.full(n, np.nan)
    tail = values[-n:] if len(values) >= n else values
    out[n - len(tail):] = tail
    for lag in range(n, len(values) + 1 - n, n):
        holes = np.isnan(out)
        if not holes.any():
            break
        out[holes] = values[-n - lag:len(values) - lag][holes]
    if np.isnan(out).all():
        return np.zeros(n)
    return np.where(np.isnan(out), np.nanmean(out), out)


class Naive(Strategy):
    def predict(self, contexts: list[Series], prediction_length: int) -> np.ndarray:
        return np.stack([np.repeat(_last_finite(c.values, 1), prediction_length) for c in contexts])


class SeasonalNaive(Strategy):
    """Repeats the last season: y[t + h] = y[t + h - m] for the step's position in the season."""

    period: int | None = None  # None: the dataset's season, as the harness decided it

    def __init__(self, settings: RunSettings, period: int | None = None):
        super().__init__(settings)
        self.season = period or self.period or settings.seasonality
        if not self.season:
            raise ValueError("SeasonalNaive needs a period: none given and settings.seasonality is not set")

    def predict(self, contexts: list[Series], prediction_length: int) -> np.ndarray:
        m = self.season
        reps = -(-prediction_length // m)
        return np.stack([np.tile(_last_finite(c.values, m), reps)[:prediction_length] for c in contexts])


class SeasonalNaive168(SeasonalNaive):
    """The weekly seasonal naive of hourly data, for hand-written experiments."""

    period = 168


def baseline_strategy(name: str, settings: RunSettings) -> Strategy | None:
    """The reference strategy a model name stands for (`naive`, `seasonal_naive_<period>`), else None."""
    if name == NAIVE:
        return Naive(settings)
    match = _SEASONAL_NAIVE.match(name)
    return SeasonalNaive(settings, int(match.group(1))) if match else None
