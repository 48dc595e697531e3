"""The shared harness base: process separation for experiment code, result recording, a common CLI.

A domain harness supplies only the domain parts (data split, metric functions); the separation is here:

    from harnesses.base import EvaluationFailure, HarnessArgs, clear_result, harness_main, record
    from harnesses.base import run_experiment_process

    def evaluate(args: HarnessArgs) -> RunResult:
        clear_result(args.workspace, args.experiment, args.mode)   # no earlier result survives this run
        inputs = prepare_inputs(args)                       # what the experiment may see (no targets)
        proc = run_experiment_process([sys.executable, "train.py"], exp_dir=args.experiment,
                                      workspace=args.workspace, timeout_s=args.time_limit_s or 600,
                                      sandbox=args.sandbox, inputs=[inputs], hidden=[args.data])
        if proc.returncode != 0:
            raise EvaluationFailure("experiment_error", proc.output[-2000:])
        metrics = score(args.experiment / "predictions.npy", targets_in(args.workspace.private))
        result = RunResult(status="ok", eval_mode=args.mode, metrics=metrics, seed=args.seed)
        record(args.workspace, args.experiment, result)  # outside the experiment folder, after its processes died
        return result

    if __name__ == "__main__":
        sys.exit(harness_main(evaluate, None, name="mydomain", description="..."))

`harness_main` gives every harness the same command line (--experiment --workspace --mode --seed --data, and the
campaign's --sandbox --network --time-limit --options --campaign-seed: see cli.py) and records a failed result for
an EvaluationFailure or a harness bug. See `harnesses/forecasting/` for a complete harness (walk-forward
forecasting, windows revealed one at a time).
"""

from harnesses.base.cli import HarnessArgs, harness_main, harness_parser, parse_harness_args
from harnesses.base.errors import EvaluationFailure
from harnesses.base.isolation import run_experiment_process
from harnesses.base.recording import clear_result, fail, record

__all__ = [
    "EvaluationFailure", "HarnessArgs", "clear_result", "fail", "harness_main", "harness_parser", "parse_harness_args",
    "record", "run_experiment_process",
]
