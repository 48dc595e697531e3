"""What experiment code implements: a `Strategy` that is fitted on the training series and then forecasts contexts.

An experiment's `strategy.py` defines `class Strategy` (subclassing this one is optional). It runs in its own
process (see `runner.py`) and only ever sees training series and contexts; the targets stay in the harness.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
from pydantic import BaseModel


@dataclass(frozen=True)
class Series:
    index: int  # position of the series in the dataset: stable across train and contexts (use it for embeddings)
    item_id: str
    start: str  # timestamp of values[0], as a pandas Period string
    freq: str
    values: np.ndarray  # float32, may contain NaN for missing observations


class RunSettings(BaseModel):
    seed: int
    mode: Literal["smoke", "full"]  # smoke: a few series, one window; train briefly
    freq: str
    prediction_length: int
    seasonality: int | None  # the harness's season: the manifest's seasonality, else the freq's (seasonality.py)
    n_series: int
    # wall-clock seconds the Strategy should give training (campaign domain option `train_time_s`), None: no cap
    train_time_s: float | None = None


class Strategy:
    def __init__(self, settings: RunSettings):
        self.settings = settings

    def fit(self, train: list[Series]) -> None:
        """Learn from the training series (every value before the first target window)."""

    def predict(self, contexts: list[Series], prediction_length: int) -> np.ndarray:
        """Return point forecasts, shape (len(contexts), prediction_length), finite values only."""
        raise NotImplementedError
