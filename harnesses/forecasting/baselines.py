"""Reference strategies: naive (last value) and seasonal naive (the value one season ago)."""

from __future__ import annotations

import numpy as np

from harnesses.forecasting.strategy import Series, Strategy


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

    season = 24

    def predict(self, contexts: list[Series], prediction_length: int) -> np.ndarray:
        m = self.season
        reps = -(-prediction_length // m)
        return np.stack([np.tile(_last_finite(c.values, m), reps)[:prediction_length] for c in contexts])


class SeasonalNaive168(SeasonalNaive):
    season = 168
