"""Writing datasets in the GluonTS on-disk layout: `metadata.json`, `train/data.json`, `test/data.json`.

The last `windows * prediction_length` values of each series are the rolling test targets: train holds everything
before them, and test holds one entry per window (the series up to the end of that window), window by window as
GluonTS's repository datasets do.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import orjson


@dataclass(frozen=True)
class RawSeries:
    item_id: str
    start: str  # first timestamp, e.g. "2016-01-01 00:00:00"
    values: np.ndarray


def write_gluonts_dataset(path: Path, series: Sequence[RawSeries], *, freq: str, prediction_length: int,
                          windows: int, decimals: int | None = None) -> Path:
    path = Path(path)
    (path / "train").mkdir(parents=True, exist_ok=True)
    (path / "test").mkdir(parents=True, exist_ok=True)
    held = windows * prediction_length
    for s in series:
        if len(s.values) <= held:
            raise ValueError(f"series {s.item_id}: length {len(s.values)} leaves nothing to train on")
    opt = orjson.OPT_SERIALIZE_NUMPY | orjson.OPT_APPEND_NEWLINE

    def entry(k: int, s: RawSeries, end: int) -> bytes:
        v = np.asarray(s.values[:end], dtype=np.float64)
        v = np.round(v, decimals) if decimals is not None else v
        return orjson.dumps({"start": s.start, "target": v, "item_id": s.item_id, "feat_static_cat": [k]}, option=opt)

    with open(path / "train" / "data.json", "wb") as f:
        for k, s in enumerate(series):
            f.write(entry(k, s, len(s.values) - held))
    with open(path / "test" / "data.json", "wb") as f:
        for w in range(1, windows + 1):
            for k, s in enumerate(series):
                f.write(entry(k, s, len(s.values) - held + w * prediction_length))
    meta = {"freq": freq, "prediction_length": prediction_length,
            "feat_static_cat": [{"name": "feat_static_cat_0", "cardinality": str(len(series))}]}
    (path / "metadata.json").write_text(json.dumps(meta, indent=2))
    return path


def generate_dataset(path: Path, *, n_series: int, length: int, prediction_length: int = 24, windows: int = 7,
                     seed: int = 0, start: str = "2016-01-01 00:00:00") -> Path:
    """Hourly occupancy-like series in [0, 1]: daily and weekly cycles, a per-series level, and noise."""
    rng = np.random.default_rng(seed)
    t = np.arange(length)
    daily = np.sin(2 * np.pi * t / 24)
    weekly = np.where((t // 24) % 7 >= 5, 0.5, 1.0)
    level = rng.uniform(0.02, 0.1, size=(n_series, 1))
    amp = rng.uniform(0.01, 0.05, size=(n_series, 1))
    noise = rng.normal(0.0, 0.005, size=(n_series, length))
    values = np.clip(level + amp * daily * weekly + noise, 0.0, 1.0)
    series = [RawSeries(item_id=str(k), start=start, values=values[k]) for k in range(n_series)]
    return write_gluonts_dataset(path, series, freq="h", prediction_length=prediction_length, windows=windows,
                                 decimals=4)
