"""Walk-forward evaluation of an experiment's `strategy.py` over the dataset's rolling test windows.

    python -m harnesses.forecasting.evaluate --experiment EXP_DIR --workspace WS --mode smoke|full [--seed N]
        --data PATH [--sandbox auto|none|bwrap] [--network on|off] [--time-limit S] [--options JSON]

`--options` carries the campaign's domain_options this harness reads: threads_per_experiment (OMP/MKL threads of
the Strategy process), expected_instances (asserted in full mode), train_time_s (the Strategy's training budget).
`--time-limit` defaults to the manifest's limit for the mode. The harness prepares the split once into
`WS/.private/` (targets included), runs the Strategy in its own process (see `protocol.py`) with the dataset folder
and `.private/` hidden under bwrap, computes RMSE (primary), MAE, MASE and the per-horizon RMSE itself, and records
the result outside the experiment folder (harnesses.base.record). MASE's season is the manifest's `seasonality`, else
the season of the dataset's freq (seasonality.py); the Strategy gets it as `settings.seasonality`. Smoke mode: the
first few series, their last window, `mode="smoke"` for short training.
"""

from __future__ import annotations

import re
import shutil
import sys
import threading
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import yaml

from alphalab.experiment_files import IO_DIR
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
from harnesses.forecasting.seasonality import dataset_periods
from harnesses.forecasting.strategy import RunSettings

NAME = "forecasting"
ENTRY_POINT = "strategy.py"
SMOKE_SERIES = 8
DEFAULT_LIMITS = {"smoke": 300.0, "full": 3600.0}
_EXCEPTION_LINE = re.compile(r"^([A-Za-z_][\w.]*(?:Error|Exception|Interrupt|Exit))(?::|$)")


def select_instances(data: ForecastData, mode: str) -> np.ndarray:
    """Full: every instance. Smoke: the last window of each of the first few series."""
    if mode == "full":
        return np.arange(len(data.inst_cutoff))
    idx = np.flatnonzero(data.inst_series < SMOKE_SERIES)
    idx = idx[np.lexsort((data.inst_cutoff[idx], data.inst_series[idx]))]
    is_last = np.r_[data.inst_series[idx][1:] != data.inst_series[idx][:-1], True]
    return idx[is_last]


def _manifest(args: HarnessArgs) -> Manifest | None:
    path = args.workspace.adapter / "manifest.yaml"
    return Manifest.model_validate(yaml.safe_load(path.read_text())) if path.is_file() else None


def _time_limit(args: HarnessArgs, manifest: Manifest | None) -> float:
    if args.time_limit_s is not None:
        return args.time_limit_s
    if manifest is not None:
        return manifest.experiment.time_limit_s if args.mode == "full" else manifest.experiment.smoke_time_limit_s
    return DEFAULT_LIMITS[args.mode]


def _seasonality(args: HarnessArgs, manifest: Manifest | None) -> int:
    """The manifest's explicit seasonality, else the season of the dataset's freq."""
    return dataset_periods(args.data, manifest.seasonality if manifest else None)[0]


def _child_env(args: HarnessArgs) -> dict[str, str]:
    env = {"PYTHONUNBUFFERED": "1", "PYTHONHASHSEED": str(args.seed)}
    threads = args.options.get("threads_per_experiment")
    if threads:
        env |= {"OMP_NUM_THREADS": str(threads), "MKL_NUM_THREADS": str(threads)}
    return env


def _process_failure(proc: CommandResult, stage: str) -> EvaluationFailure:
    if proc.timed_out:
        return EvaluationFailure("timeout", f"the strategy process timed out {stage}")
    lines = [ln for ln in proc.output.strip().splitlines() if ln.strip()]
    exc = _EXCEPTION_LINE.match(lines[-1]) if lines else None
    tail = "\n".join(lines[-15:])
    return EvaluationFailure(f"strategy_error:{exc.group(1)}" if exc else f"strategy_exit:{proc.returncode}",
                             f"the strategy process exited with code {proc.returncode} {stage}:\n{tail}")


def _run_strategy(args: HarnessArgs, data: ForecastData, rounds: list[np.ndarray], settings: RunSettings,
                  manifest: Manifest | None) -> tuple[np.ndarray, CommandResult]:
    """Run the Strategy process and feed it the rounds; returns its forecasts in round order."""
    exp_dir, H = args.experiment, data.meta.prediction_length
    io_dir = exp_dir / IO_DIR
    shutil.rmtree(io_dir, ignore_errors=True)
    series = np.unique(np.concatenate([data.inst_series[r] for r in rounds]))
    channel = HarnessChannel(io_dir, data, series, settings, len(rounds))
    channel.reveal(0, rounds[0], rounds[1:])
    # -P: the runner's own modules come from the installed harness, not from files in the experiment folder
    argv = [sys.executable, "-P", "-m", "harnesses.forecasting.runner", "--io", str(io_dir),
            "--strategy", str(exp_dir / ENTRY_POINT)]
    # the dataset folder holds the test split (the targets): hidden from the strategy along with .private/
    hidden = [resolve_dataset(args.data), Path(args.data).resolve()]
    outcome: dict[str, CommandResult] = {}
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
        if outcome["proc"].returncode != 0:
            raise _process_failure(outcome["proc"], "after its last predictions")
    finally:
        shutil.rmtree(io_dir, ignore_errors=True)  # also tells a still-waiting strategy process to stop
        worker.join()
    return np.concatenate(preds), outcome["proc"]


def _check_instance_count(args: HarnessArgs, data: ForecastData, evaluated: int, selected: int) -> None:
    expected = {"selected": selected}
    if args.mode == "full":
        expected["test entries on disk"] = data.meta.n_instances
        if args.options.get("expected_instances") is not None:
            expected["the campaign's expected_instances"] = int(args.options["expected_instances"])
    wrong = {k: v for k, v in expected.items() if v != evaluated}
    if wrong:
        raise EvaluationFailure("instance_count", f"evaluated {evaluated} instances, expected "
                                + ", ".join(f"{v} ({k})" for k, v in wrong.items()))


def evaluate(args: HarnessArgs) -> RunResult:
    start = time.monotonic()
    clear_result(args.workspace, args.experiment, args.mode)
    if not (args.experiment / ENTRY_POINT).is_file():
        raise EvaluationFailure("missing_entry_point", f"{args.experiment / ENTRY_POINT} does not exist")
    manifest = _manifest(args)
    season = _seasonality(args, manifest)
    data = prepared(args.workspace, args.data)
    instances = select_instances(data, args.mode)
    rounds = plan_rounds(data, instances)
    settings = RunSettings(seed=args.seed, mode=args.mode, freq=data.meta.freq,
                           prediction_length=data.meta.prediction_length, seasonality=season,
                           n_series=data.meta.n_series, train_time_s=args.options.get("train_time_s"))
    preds, proc = _run_strategy(args, data, rounds, settings, manifest)
    _check_instance_count(args, data, len(preds), len(instances))
    evaluated = np.concatenate(rounds)
    scales = np.asarray([seasonal_scale(data.context(i), season) for i in evaluated])
    m = compute_metrics(data.targets(evaluated), preds, scales)
    result = RunResult(
        status="ok", eval_mode=args.mode, metrics={"rmse": m.rmse, "mae": m.mae, "mase": m.mase},
        details={"per_horizon_rmse": m.per_horizon_rmse, "instances": m.instances, "mase_instances": m.mase_instances,
                 "series": int(len(np.unique(data.inst_series[evaluated]))), "windows": len(rounds),
                 "seasonality": season, "dataset": data.meta.model_dump(), "strategy_seconds": proc.wall_seconds},
        harness=NAME, seed=args.seed, wall_seconds=round(time.monotonic() - start, 3),
    )
    record(args.workspace, args.experiment, result)
    return result


def main(argv: Sequence[str] | None = None) -> int:
    return harness_main(evaluate, argv, name=NAME, description=__doc__.splitlines()[0])


if __name__ == "__main__":
    sys.exit(main())
