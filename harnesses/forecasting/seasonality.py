"""The seasonal periods of a forecasting dataset: the one definition that the harness's MASE, the seasonal-naive
baselines, the Phase 0 fit of the manifest (fit_seasonality.py), the exploration script and the demo's comparison
line all use.

The season comes from the dataset's frequency (`metadata.json` `freq`) through gluonts' own table,
`gluonts.time_feature.get_seasonality`: in gluonts 0.17, h 24, 30min 48, min 1440, B 5, M/MS/ME 12, Q/QS/QE 4, and
1 for D, W and Y (the M4 convention: no cycle within the period is assumed). A multiple divides it (2h: 12). An
explicit `seasonality` in the adapter's manifest wins over the frequency.

A season that spans exactly one day has the week as a second natural season beside it: hourly data gets 24 and 168,
daily data 1 and 7. Every other frequency has one period.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import pandas as pd
from pydantic import BaseModel, Field, ValidationError

from harnesses.base.errors import EvaluationFailure
from harnesses.forecasting.data import resolve_dataset

_DAY = pd.Timedelta(days=1)
_WEEK_IN_DAYS = 7


class UnknownFrequency(EvaluationFailure):
    def __init__(self, freq: str, where: str):
        super().__init__("dataset_freq", f"{where}: freq {freq!r} is not a pandas frequency alias "
                                         "(e.g. h, D, W, M, Q, Y)")


class _Metadata(BaseModel):
    """The one field of the dataset's `metadata.json` this module reads."""

    freq: str = Field(min_length=1)


def _quietly(call, *args):
    """pandas warns on aliases it renames (M -> ME, H -> h), yet a GluonTS dataset must keep M: a Period needs it."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        return call(*args)


def _offset(freq: str, where: str) -> pd.DateOffset:
    try:
        return _quietly(pd.tseries.frequencies.to_offset, freq)
    except ValueError:
        raise UnknownFrequency(freq, where) from None


def season_length(freq: str, where: str = "freq") -> int:
    """gluonts' season length for a pandas frequency alias; UnknownFrequency (naming `where`) for anything else."""
    from gluonts.time_feature import get_seasonality

    try:
        return int(_quietly(get_seasonality, freq))
    except ValueError:
        raise UnknownFrequency(freq, where) from None


def seasonal_periods(freq: str, explicit: int | None = None, where: str = "freq") -> tuple[int, ...]:
    """The season (explicit, else from `freq`) first, then the week where the season spans one day."""
    offset = _offset(freq, where)
    season = explicit or season_length(freq, where)
    spans_a_day = isinstance(offset, pd.offsets.Tick) and pd.Timedelta(offset) * season == _DAY
    return (season, _WEEK_IN_DAYS * season) if spans_a_day else (season,)


def dataset_freq(data: str | Path) -> str:
    """The `freq` of a dataset folder in the GluonTS layout (or a cached GluonTS repository dataset's name)."""
    path = resolve_dataset(data) / "metadata.json"
    try:
        return _Metadata.model_validate_json(path.read_text()).freq
    except ValidationError as e:
        problems = "; ".join(f"{'.'.join(str(x) for x in err['loc'])}: {err['msg']}" for err in e.errors())
        raise EvaluationFailure("dataset_invalid", f"{path}: {problems}") from None


def dataset_periods(data: str | Path, explicit: int | None = None) -> tuple[int, ...]:
    """`seasonal_periods` of a dataset on disk; an unknown freq is reported against its metadata.json."""
    where = str(resolve_dataset(data) / "metadata.json")
    return seasonal_periods(dataset_freq(data), explicit, where=where)
