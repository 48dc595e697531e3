"""A monthly dataset of our own making: synthetic series with a yearly cycle of 12 months, a trend and noise, written
in the GluonTS layout with rolling windows of 12 months, the same from the same seed.

Each series has its own level, growth, cycle (amplitude, phase, a second harmonic) and noise, and starts in its own
year. The freq is written as "M": GluonTS reads `start` as a pandas Period, which refuses the offset aliases MS/ME.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from harnesses.forecasting.layout import RawSeries, write_gluonts_dataset

FREQ = "M"
SERIES = 150
YEARS = 20
PREDICTION_LENGTH = 12
WINDOWS = 3
YEAR = 12


def monthly_series(n_series: int = SERIES, years: int = YEARS, seed: int = 0) -> list[RawSeries]:
    rng = np.random.default_rng(seed)
    t = np.arange(YEAR * years)
    level = rng.uniform(100.0, 1000.0, size=(n_series, 1))
    growth = rng.normal(0.004, 0.003, size=(n_series, 1))  # per month, relative to the level
    amp = rng.uniform(0.05, 0.3, size=(n_series, 1))
    phase = rng.uniform(0.0, 2 * np.pi, size=(n_series, 1))
    cycle = np.sin(2 * np.pi * t / YEAR + phase) + rng.uniform(0.0, 0.5, size=(n_series, 1)) * np.sin(
        4 * np.pi * t / YEAR + 2 * phase)
    noise = rng.normal(0.0, 1.0, size=(n_series, len(t))) * rng.uniform(0.02, 0.08, size=(n_series, 1))
    values = level * np.maximum(1 + growth * t, 0.1) * (1 + amp * cycle) * (1 + noise)
    first_year = rng.integers(1990, 2005, size=n_series)
    return [RawSeries(item_id=f"m{k:03d}", start=f"{first_year[k]}-01", values=values[k]) for k in range(n_series)]


def build_monthly_dataset(path: Path, *, n_series: int = SERIES, years: int = YEARS, seed: int = 0,
                          prediction_length: int = PREDICTION_LENGTH, windows: int = WINDOWS) -> Path:
    return write_gluonts_dataset(Path(path), monthly_series(n_series, years, seed), freq=FREQ,
                                 prediction_length=prediction_length, windows=windows, decimals=2)
