"""Forecast metrics, computed in the harness process from its own copy of the targets."""

from __future__ import annotations

import numpy as np
from pydantic import BaseModel

from harnesses.base.errors import EvaluationFailure


class ForecastMetrics(BaseModel):
    rmse: float
    mae: float
    mase: float
    per_horizon_rmse: list[float]
    instances: int
    mase_instances: int  # instances whose context has a non-zero seasonal scale (the others have no MASE)


def check_predictions(pred: object, n: int, horizon: int, where: str) -> np.ndarray:
    """Predictions must be an (n, horizon) array of finite numbers; anything else fails the run with a clear reason."""
    arr = np.asarray(pred)
    if arr.shape != (n, horizon):
        raise EvaluationFailure("prediction_shape", f"{where}: predictions have shape {arr.shape}, expected "
                                f"({n}, {horizon}) = (contexts, prediction_length)")
    if not np.issubdtype(arr.dtype, np.number):
        raise EvaluationFailure("prediction_dtype", f"{where}: predictions have dtype {arr.dtype}, expected numbers")
    arr = arr.astype(np.float64)
    bad = ~np.isfinite(arr)
    if bad.any():
        kinds = sorted({"NaN" if np.isnan(v) else "inf" for v in arr[bad]})
        raise EvaluationFailure("prediction_nonfinite", f"{where}: {int(bad.sum())} predictions are "
                                f"{' or '.join(kinds)} (first at instance {int(np.argwhere(bad)[0][0])})")
    return arr


def seasonal_scale(context: np.ndarray, season: int) -> float:
    """MASE denominator: mean absolute seasonal-naive error inside the context (lag 1 when it is too short)."""
    c = np.asarray(context, dtype=np.float64)
    m = season if len(c) > season else 1
    d = np.abs(c[m:] - c[:-m])
    d = d[np.isfinite(d)]
    return float(d.mean()) if d.size else 0.0


def compute_metrics(targets: np.ndarray, preds: np.ndarray, scales: np.ndarray) -> ForecastMetrics:
    """Pooled RMSE and MAE over every (instance, step); MASE averaged over instances; RMSE per horizon step.

    Missing (NaN) targets are left out of every figure.
    """
    y = np.asarray(targets, dtype=np.float64)
    err = np.where(np.isfinite(y), preds - y, np.nan)
    sq = err ** 2
    ok = scales > 0
    per_instance_mae = np.nanmean(np.abs(err), axis=1)
    mase = per_instance_mae[ok] / scales[ok]
    return ForecastMetrics(
        rmse=float(np.sqrt(np.nanmean(sq))),
        mae=float(np.nanmean(np.abs(err))),
        mase=float(np.nanmean(mase)) if mase.size else float("nan"),
        per_horizon_rmse=[float(v) for v in np.sqrt(np.nanmean(sq, axis=0))],
        instances=int(len(y)),
        mase_instances=int(ok.sum()),
    )
