"""Walk-forward evaluation of an experiment's `strategy.py` over the dataset's rolling test windows.

    python -m harnesses.forecasting.evaluate --experiment EXP_DIR --workspace WS --mode smoke|full [--seed N]
                                             [--data PATH] [--sandbox none|bwrap]

The dataset is `--data`, else the `data_path` of `WS/campaign.yaml`. The harness prepares the split once into
`WS/.private/` (targets included), runs the Strategy in its own process (see `protocol.py`) with the dataset folder
and `.private/` hidden under bwrap, computes RMSE (primary), MAE, MASE and the per-horizon RMSE itself, and writes
`EXP_DIR/metrics.json`. Smoke mode: the first few series, their last window, `mode="smoke"` for short training.
"""

from __future__ import annotations

import shutil
import sys
import threading
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import yaml

from alphalab.manifest import Manifest
from alphalab.results import RunResult
from alphalab.sandbox import CommandResult
from harnesses.base.cli import HarnessArgs, harness_main
from harnesses.base.errors import EvaluationFailure
from harnesses.base.isolation import run_experiment_process
from harnesses.base.recording import clear_result, record
from harnesses.forecasting.cache import prepared
from harnesses.forecasting.data import ForecastData, resolve_dataset
from harnesses.forecasting.metrics import check_predictions, compute_metrics, seasonal_scale
from harnesses.forecasting.protocol import HarnessChannel, plan_rounds
from harnesses.forecasting.strategy import RunSettings

NAME = "forecasting"
ENTRY_POINT = "strategy.py"
IO_DIR = "_io"
SMOKE_SERIES = 8
DEFAULT_SEASONALITY = 24
DEFAULT_LIMITS = {"smoke": 300.0, "full": 3600.0}


def select_instances(data: ForecastData, mode: str) -> np.ndarray:
    if mode == "full":
        return np.arange(len(data.inst_cutoff))
    series = np.arange(min(SMOKE_SERIES, data.meta.n_series))
    last = {int(s): -1 for s in series}
    for i, s in enumerate(data.inst_series):
        if int(s) in last and (last[int(s)] < 0 or data.inst_cutoff[i] > data.inst_cutoff[last[int(s)]]):
            last[int(s)] = i
    return np.asarray([i for i in last.values() if i >= 0], dtype=np.int64)


def _manifest(args: HarnessArgs) -> Manifest | None:
    path = args.workspace.adapter / "manifest.yaml"
    return Manifest.model_validate(yaml.safe_load(path.read_text())) if path.is_file() else None


def _time_limit(args: HarnessArgs, manifest: Manifest | None) -> float:
    if args.campaign and args.campaign.execution.experiment_timeout_s and args.mode == "full":
        return args.campaign.execution.experiment_timeout_s
    if manifest is not None:
        return manifest.experiment.time_limit_s if args.mode == "full" else manifest.experiment.smoke_time_limit_s
    return DEFAULT_LIMITS[args.mode]


def _seasonality(args: HarnessArgs, manifest: Manifest | None) -> int:
    return (manifest.seasonality if manifest and manifest.seasonality else None) or DEFAULT_SEASONALITY


def _child_env(args: HarnessArgs) -> dict[str, str]:
    env = {"PYTHONUNBUFFERED": "1", "PYTHONHASHSEED": str(args.seed)}
    threads = args.campaign.domain_options.get("threads_per_experiment") if args.campaign else None
    if threads:
        env |= {"OMP_NUM_THREADS": str(threads), "MKL_NUM_THREADS": str(threads)}
    return env


def _process_failure(proc: CommandResult, stage: str) -> EvaluationFailure:
    if proc.timed_out:
        return EvaluationFailure("timeout", f"the strategy process timed out {stage}")
    lines = [ln for ln in proc.output.strip().splitlines() if ln.strip()]
    last = lines[-1] if lines else ""
    exc = last.split(":", 1)[0].strip() if ":" in last and " " not in last.split(":", 1)[0].strip() else ""
    tail = "\n".join(lines[-15:])
    return EvaluationFailure(f"strategy_error:{exc}" if exc else f"strategy_exit:{proc.returncode}",
                             f"the strategy process exited with code {proc.returncode} {stage}:\n{tail}")


def evaluate(args: HarnessArgs) -> RunResult:
    start = time.monotonic()
    exp_dir = args.experiment
    clear_result(exp_dir)
    if not (exp_dir / ENTRY_POINT).is_file():
        raise EvaluationFailure("missing_entry_point", f"{exp_dir / ENTRY_POINT} does not exist")
    manifest = _manifest(args)
    season = _seasonality(args, manifest)
    data = prepared(args.workspace, args.data)
    instances = select_instances(data, args.mode)
    rounds = plan_rounds(data, instances)
    series = np.unique(data.inst_series[instances])
    H = data.meta.prediction_length
    settings = RunSettings(seed=args.seed, mode=args.mode, freq=data.meta.freq, prediction_length=H,
                           seasonality=season, n_series=data.meta.n_series)
    io_dir = exp_dir / IO_DIR
    shutil.rmtree(io_dir, ignore_errors=True)
    channel = HarnessChannel(io_dir, data, series, settings, len(rounds))
    channel.reveal(0, rounds[0], rounds[1:])
    outcome: dict[str, CommandResult] = {}
    argv = [sys.executable, "-m", "harnesses.forecasting.runner", "--io", str(io_dir),
            "--strategy", str(exp_dir / ENTRY_POINT)]
    # the dataset folder holds the test split (the targets): hidden from the strategy along with .private/
    hidden = [resolve_dataset(args.data), Path(args.data).resolve()]
    worker = threading.Thread(target=lambda: outcome.setdefault("proc", run_experiment_process(
        argv, exp_dir=exp_dir, workspace=args.workspace, timeout_s=_time_limit(args, manifest),
        sandbox=args.sandbox, inputs=[io_dir], env=_child_env(args), hidden=hidden)), daemon=True)
    worker.start()
    preds: list[np.ndarray] = []
    try:
        for r, idx in enumerate(rounds):
            got = channel.wait_predictions(r, worker.is_alive)
            if got is None:
                worker.join()
                raise _process_failure(outcome["proc"], f"before returning predictions for window round {r}")
            preds.append(check_predictions(got, len(idx), H, f"window round {r}"))
            if r + 1 < len(rounds):
                channel.reveal(r + 1, rounds[r + 1], rounds[r + 2:])
        worker.join()
        proc = outcome["proc"]
        if proc.returncode != 0:
            raise _process_failure(proc, "after its last predictions")
    finally:
        shutil.rmtree(io_dir, ignore_errors=True)  # also tells a still-waiting strategy process to stop
        worker.join()
    evaluated = np.concatenate(rounds)
    if len(evaluated) != len(instances) or (args.mode == "full" and len(evaluated) != data.meta.n_instances):
        raise EvaluationFailure("instance_count", f"evaluated {len(evaluated)} instances, expected "
                                f"{data.meta.n_instances if args.mode == 'full' else len(instances)}")
    expected = args.campaign.domain_options.get("expected_instances") if args.campaign else None
    if args.mode == "full" and expected is not None and int(expected) != len(evaluated):
        raise EvaluationFailure("instance_count", f"evaluated {len(evaluated)} instances, the campaign expects "
                                f"{expected}")
    scales = np.asarray([seasonal_scale(data.context(i), season) for i in evaluated])
    m = compute_metrics(data.targets(evaluated), np.concatenate(preds), scales)
    result = RunResult(
        status="ok", eval_mode=args.mode, metrics={"rmse": m.rmse, "mae": m.mae, "mase": m.mase},
        details={"per_horizon_rmse": m.per_horizon_rmse, "instances": m.instances, "mase_instances": m.mase_instances,
                 "series": int(len(series)), "windows": len(rounds), "seasonality": season,
                 "dataset": data.meta.model_dump(), "strategy_seconds": outcome["proc"].wall_seconds},
        harness=NAME, seed=args.seed, wall_seconds=round(time.monotonic() - start, 3),
    )
    record(exp_dir, result)
    return result


def main(argv: Sequence[str] | None = None) -> int:
    return harness_main(evaluate, argv, name=NAME, description=__doc__.splitlines()[0])


if __name__ == "__main__":
    sys.exit(main())
