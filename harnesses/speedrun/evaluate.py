"""Evaluate one speedrun experiment: train under the wall-clock budget, then score the last checkpoint.

    python -m harnesses.speedrun.evaluate --experiment EXP_DIR --workspace WS --mode smoke|full [--seed N]
        --data CORPUS [--sandbox auto|none|bwrap] [--network on|off] [--options JSON] [--campaign-seed N]

The budget, the parameter cap and the validation size come from `--options`, the campaign's `domain_options` (see
settings.py for names and defaults); the validation split is drawn once per campaign with `--campaign-seed`. The
experiment's `train.py` runs with its folder as working directory and reads these environment variables:
  SPEEDRUN_TRAIN_BIN       the training bytes (documents joined by a NUL byte)
  SPEEDRUN_CHECKPOINT_DIR  where to save model.py + model.pt (+ stats.json), see checkpoint.py
  SPEEDRUN_DEADLINE_UNIX   when the budget ends (time.time() scale); the process is killed `grace` s after it
  SPEEDRUN_BUDGET_S, SPEEDRUN_PARAM_CAP, SPEEDRUN_SEED, SPEEDRUN_MODE
It never sees the validation bytes: they live under the workspace's .private/ and, like the raw corpus, are
masked when the sandbox is bwrap.
"""

from __future__ import annotations

import os
import shutil
import sys
import time
from collections.abc import Sequence
from pathlib import Path

import torch

from alphalab.experiment_files import CHECKPOINT_DIR
from alphalab.results import RunResult
from harnesses.base import EvaluationFailure, HarnessArgs, clear_result, harness_main, record, run_experiment_process
from harnesses.speedrun.bpb import EvaluationError, check_causal, score
from harnesses.speedrun.checkpoint import CheckpointError, load_checkpoint
from harnesses.speedrun.corpus import SplitError, SplitPaths, ensure_split, read_validation
from harnesses.speedrun.guard import ScoringSnapshot, forbid_reads
from harnesses.speedrun.settings import SpeedrunSettings

NAME = "speedrun"
ENTRY_POINT = "train.py"
_PASSED_THROUGH_ENV = ("CUDA_VISIBLE_DEVICES", "NVIDIA_VISIBLE_DEVICES", "TORCHINDUCTOR_CACHE_DIR", "TRITON_CACHE_DIR")
_REPORTED_STATS = ("tokens_seen", "tokens_per_s", "mfu", "flops_per_token", "steps")


def evaluate(args: HarnessArgs) -> RunResult:
    settings = SpeedrunSettings.model_validate(args.options)
    exp_dir = args.experiment
    if not (exp_dir / ENTRY_POINT).is_file():
        raise EvaluationFailure("missing_entry_point", f"{exp_dir / ENTRY_POINT} does not exist")
    try:
        split = ensure_split(args.workspace, args.data, args.campaign_seed, settings.val_bytes, settings.text_column)
    except SplitError as e:
        raise EvaluationFailure("data_split_error", str(e)) from e

    ckpt_dir = exp_dir / CHECKPOINT_DIR
    clear_result(args.workspace, exp_dir, args.mode)
    shutil.rmtree(ckpt_dir, ignore_errors=True)  # only a model saved by this run may be scored
    budget = settings.budget(args.mode)
    run = run_experiment_process(
        [sys.executable, ENTRY_POINT], exp_dir=exp_dir, workspace=args.workspace,
        timeout_s=budget + settings.grace(args.mode), sandbox=args.sandbox,
        inputs=[SplitPaths.of(args.workspace).train_dir], hidden=[args.data],
        env=_train_env(args, settings, ckpt_dir, budget),
    )
    details = {"train_wall_s": run.wall_seconds, "train_returncode": run.returncode,
               "killed_at_budget": run.timed_out, "budget_s": budget, "param_cap": settings.param_cap,
               "gpu": _gpu_name(), "val_bytes_total": split.val_bytes}
    if run.returncode != 0 and not run.timed_out:
        raise EvaluationFailure("train_crashed",
                                f"train.py exited with code {run.returncode}; output tail:\n{run.output[-3000:]}")

    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    data = read_validation(args.workspace, split)[: settings.scored_bytes(args.mode)]
    # the raw corpus holds the validation documents too, unless the experiment itself lives under it
    forbidden = [args.workspace.private] + ([args.data] if args.data not in exp_dir.parents else [])
    snapshot = ScoringSnapshot()  # model.py is imported into this process next: nothing it changes may count
    try:
        with forbid_reads(*forbidden):
            ckpt = load_checkpoint(ckpt_dir, device, settings.param_cap)
            snapshot.check("loading the checkpoint")
            check_causal(ckpt, data, device)
            start = time.monotonic()
            bpb = score(ckpt, data, device, settings.eval_batch_tokens)
            snapshot.check("scoring")
    except (CheckpointError, EvaluationError) as e:
        # with nothing saved, what train.py printed is the only clue a Worker has
        tail = f"\ntrain.py output tail:\n{run.output[-2000:]}" if e.signature == "no_checkpoint" else ""
        raise EvaluationFailure(e.signature, f"{e.message}{tail}") from e
    reported = {k: float(ckpt.stats[k]) for k in _REPORTED_STATS if isinstance(ckpt.stats.get(k), (int, float))}
    details |= {"eval_s": round(time.monotonic() - start, 3), "seq_len": ckpt.seq_len, "val_bytes": bpb.n_bytes,
                "val_tokens": bpb.n_tokens, "val_nll_nats": bpb.nll_nats, "reported": ckpt.stats}
    result = RunResult(
        status="ok", eval_mode=args.mode, harness=NAME, seed=args.seed, wall_seconds=run.wall_seconds,
        metrics={"val_bpb": bpb.val_bpb, "params": float(ckpt.n_params), **reported}, details=details,
    )
    record(args.workspace, exp_dir, result)
    return result


def _train_env(args: HarnessArgs, settings: SpeedrunSettings, ckpt_dir: Path, budget: float) -> dict[str, str]:
    env = {k: os.environ[k] for k in _PASSED_THROUGH_ENV if k in os.environ}
    return env | {
        "PYTHONUNBUFFERED": "1",
        "SPEEDRUN_TRAIN_BIN": str(SplitPaths.of(args.workspace).train_file),
        "SPEEDRUN_CHECKPOINT_DIR": str(ckpt_dir),
        "SPEEDRUN_DEADLINE_UNIX": f"{time.time() + budget:.3f}",
        "SPEEDRUN_BUDGET_S": str(budget),
        "SPEEDRUN_PARAM_CAP": str(settings.param_cap),
        "SPEEDRUN_SEED": str(args.seed),
        "SPEEDRUN_MODE": args.mode,
    }


def _gpu_name() -> str:
    return torch.cuda.get_device_name(0) if torch.cuda.is_available() else "cpu"


def main(argv: Sequence[str] | None = None) -> int:
    return harness_main(evaluate, argv, name=NAME, description=__doc__.splitlines()[0])


if __name__ == "__main__":
    raise SystemExit(main())
