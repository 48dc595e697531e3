"""Baseline exploration of a forecasting dataset in the GluonTS layout: python explore.py DATA_PATH WORKSPACE

Reads the training split only (the test split's targets are for the harness), and writes figures and plots:
summary statistics, ACF and seasonality strength at the dataset's seasonal periods (24 and 168 on hourly data, 12 on
monthly: harnesses/forecasting/seasonality.py, the manifest's own seasonality first), cross-series correlation, PCA,
and a seasonal-naive backtest on the last windows of the training data. Output: WORKSPACE/plots/*.png,
WORKSPACE/data_report/exploration.md and WORKSPACE/learnings.md; the summary is printed too.
"""

import gzip
import json
import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import yaml  # noqa: E402

from alphalab.manifest import Manifest  # noqa: E402
from alphalab.workspace import Workspace  # noqa: E402
from harnesses.forecasting.baselines import seasonal_naive_name  # noqa: E402
from harnesses.forecasting.seasonality import dataset_periods  # noqa: E402

MAX_SERIES_FOR_ACF = 100
ALIGN_PERIODS = 12  # the last 12 longest periods of every series (12 weeks of hourly data), for cross-series figures


def load_train(data: Path) -> tuple[dict, list[np.ndarray], int]:
    from gluonts.dataset.common import load_datasets

    ds = load_datasets(metadata=data, train=data / "train", test=None)
    meta = json.loads((data / "metadata.json").read_text())
    series = [np.asarray(e["target"], dtype=np.float64) for e in ds.train]
    return meta, series, count_entries(data / "test")


def count_entries(folder: Path) -> int:
    """Test entries (JSON lines) without parsing them: the targets are not looked at."""
    n = 0
    for f in sorted(p for p in folder.rglob("*") if p.is_file()):
        with (gzip.open(f, "rb") if f.suffix == ".gz" else open(f, "rb")) as fh:
            n += sum(1 for line in fh if line.strip())
    return n


def acf(x: np.ndarray, lag: int) -> float:
    x = x[np.isfinite(x)]
    if len(x) <= lag + 1:
        return float("nan")
    a, b = x[:-lag] - x.mean(), x[lag:] - x.mean()
    return float((a * b).sum() / ((x - x.mean()) ** 2).sum())


def seasonal_strength(x: np.ndarray, period: int) -> float:
    """1 - var(remainder) / var(seasonal + remainder), with a centred moving-average trend and phase means."""
    x = np.nan_to_num(x, nan=np.nanmean(x))
    if len(x) < 3 * period:
        return float("nan")
    trend = np.convolve(x, np.ones(period) / period, mode="same")
    detrended = (x - trend)[period:-period]
    phase = np.arange(len(detrended)) % period
    profile = np.array([detrended[phase == p].mean() for p in range(period)])
    remainder = detrended - profile[phase]
    return float(max(0.0, 1 - remainder.var() / detrended.var())) if detrended.var() > 0 else 0.0


def seasonal_naive_rmse(series: list[np.ndarray], H: int, m: int, windows: int) -> float:
    errs = []
    for x in series:
        for w in range(windows, 0, -1):
            cut = len(x) - w * H
            if cut < m:
                continue
            ctx, y = x[:cut], x[cut: cut + H]
            f = np.tile(ctx[-m:], -(-H // m))[:H]
            errs.append((f - y) ** 2)
    return float(np.sqrt(np.nanmean(np.concatenate(errs)))) if errs else float("nan")


def explicit_seasonality(ws: Path) -> int | None:
    """The workspace manifest's own seasonality, which wins over the data's freq (as in the harness)."""
    path = Workspace(ws).adapter / "manifest.yaml"
    return Manifest.model_validate(yaml.safe_load(path.read_text())).seasonality if path.is_file() else None


def main(data: Path, ws: Path) -> str:
    meta, series, test_entries = load_train(data)
    H = int(meta["prediction_length"])
    periods = dataset_periods(data, explicit_seasonality(ws))
    season, longest = periods[0], periods[-1]
    lengths = np.array([len(s) for s in series])
    allv = np.concatenate(series)
    plots = ws / "plots"
    plots.mkdir(parents=True, exist_ok=True)
    sample = series[:: max(1, len(series) // MAX_SERIES_FOR_ACF)]
    acfs = {m: np.nanmean([acf(s, m) for s in sample]) for m in periods}
    strengths = {m: np.nanmean([seasonal_strength(s, m) for s in sample]) for m in periods}
    L = int(min(ALIGN_PERIODS * longest, lengths.min()))
    aligned = np.stack([np.nan_to_num(s[-L:], nan=np.nanmean(s)) for s in series])
    std = aligned.std(axis=1, keepdims=True)
    z = (aligned - aligned.mean(axis=1, keepdims=True)) / np.where(std > 0, std, 1)
    corr = np.corrcoef(z) if len(series) > 1 else np.ones((1, 1))
    mean_corr = float(corr[~np.eye(len(corr), dtype=bool)].mean()) if len(series) > 1 else float("nan")
    sv = np.linalg.svd(z.T - z.T.mean(axis=0), compute_uv=False)  # components over series, samples over time
    explained = sv ** 2 / (sv ** 2).sum()
    windows = 7
    naive_rmse = {m: seasonal_naive_rmse(series, H, m, windows) for m in periods}

    fig, ax = plt.subplots(figsize=(10, 4))
    for s in series[:5]:
        ax.plot(s[-2 * longest:], lw=0.8)
    ax.set(title=f"last {2 * longest} steps of training data (first 5 series)", xlabel="step")
    fig.savefig(plots / "series_recent.png", dpi=80)
    fig, ax = plt.subplots(figsize=(8, 3))
    lags = np.arange(1, 2 * longest + 1)
    ax.plot(lags, [np.nanmean([acf(s, k) for s in sample[:20]]) for k in lags])
    for m in periods:
        ax.axvline(m, ls=":")
    ax.set(title="mean ACF", xlabel="lag (steps)")
    fig.savefig(plots / "acf.png", dpi=80)
    fig, ax = plt.subplots(figsize=(6, 3))
    ax.bar(range(1, min(10, len(explained)) + 1), explained[:10])
    ax.set(title="PCA: variance explained", xlabel="component")
    fig.savefig(plots / "pca.png", dpi=80)
    plt.close("all")

    figures = {
        "series": len(series), "freq": meta.get("freq"), "seasonal_periods": list(periods), "prediction_length": H,
        "train_length_min": int(lengths.min()), "train_length_max": int(lengths.max()),
        "test_entries": test_entries, "mean": float(np.nanmean(allv)), "std": float(np.nanstd(allv)),
        "min": float(np.nanmin(allv)), "max": float(np.nanmax(allv)), "missing_fraction": float(np.isnan(allv).mean()),
        **{f"acf_{m}": float(v) for m, v in acfs.items()},
        **{f"seasonal_strength_{m}": float(v) for m, v in strengths.items()},
        "mean_cross_correlation": mean_corr, "pca_explained_first_3": [round(float(v), 3) for v in explained[:3]],
        **{f"train_backtest_rmse_{seasonal_naive_name(m)}": v for m, v in naive_rmse.items()},
    }
    lines = [f"- {k}: {v:.4g}" if isinstance(v, float) else f"- {k}: {v}" for k, v in figures.items()]
    best_m = min(periods, key=lambda m: np.nan_to_num(naive_rmse[m], nan=np.inf))
    # the longer cycle when it is at least as strong as the season, else two seasons
    context = longest if len(periods) > 1 and acfs[longest] >= acfs[season] else 2 * season
    acf_text = " vs ".join(f"lag {m} {acfs[m]:.2f}" for m in reversed(periods))
    implications = [
        f"- Seasonal naive({best_m}) is the stronger baseline on the last {windows} training windows "
        f"(RMSE {naive_rmse[best_m]:.4g}); every model must beat it.",
        f"- ACF at {acf_text}: use a context of at least {context} steps.",
        f"- Mean cross-series correlation {mean_corr:.2f}: "
        + ("a global model / cross-series model (iTransformer) can share strength." if mean_corr > 0.3 else
           "series are weakly related; per-series scaling matters more than cross-series attention."),
    ]
    summary = "## Figures (training split)\n\n" + "\n".join(lines) + "\n\n## Implications\n\n" + "\n".join(implications)
    (ws / "data_report").mkdir(parents=True, exist_ok=True)
    (ws / "data_report" / "exploration.md").write_text(
        f"# Data report\n\nData: `{data}`\n\n{summary}\n\nPlots: plots/series_recent.png, plots/acf.png, "
        "plots/pca.png\n")
    (ws / "learnings.md").write_text(f"# Learnings\n\n{summary}\n")
    return summary


if __name__ == "__main__":
    print(main(Path(sys.argv[1]), Path(sys.argv[2])))
