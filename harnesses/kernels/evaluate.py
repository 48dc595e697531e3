"""Evaluate one kernel experiment and record its result.

    python -m harnesses.kernels.evaluate --experiment EXP_DIR --workspace WS --mode smoke|full [--seed N]
        [--problem NAME] [--device cpu|cuda] [--problems-dir DIR] [--sandbox none|bwrap]

The experiment folder holds `solution.py` (a `ModelNew`) and names its problem in `problem.txt` (one line), unless
`--problem` is given or `spec.json` carries `{"params": {"problem": ...}}`. Problems come from `--problems-dir`, else
the workspace adapter's `options.problems_dir`, else the built-in set. The solution is imported only in a separate
process (harnesses.kernels.runner, through harnesses.base's isolation); this process turns that process's report
into `metrics.json`.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import yaml

from alphalab.config import SandboxConfig
from alphalab.results import RunResult
from alphalab.workspace import Workspace
from harnesses.base import EvaluationFailure, HarnessArgs, harness_main, record, run_experiment_process
from harnesses.kernels.problem import BUILTIN_PROBLEMS, ProblemRef, find_problem
from harnesses.kernels.settings import EvalSettings, KernelReport

HARNESS_NAME = "kernels"
ENTRY_POINT = "solution.py"
PROBLEM_FILE = "problem.txt"
REPORT_FILE = ".kernel_report.json"
_REPO_ROOT = Path(__file__).resolve().parents[2]


def problem_name(exp_dir: Path, override: str | None) -> str:
    if override:
        return override
    named = exp_dir / PROBLEM_FILE
    if named.is_file() and named.read_text().strip():
        return named.read_text().strip().splitlines()[0].strip()
    spec = exp_dir / "spec.json"
    if spec.is_file():
        params = json.loads(spec.read_text()).get("params", {})
        if isinstance(params, dict) and params.get("problem"):
            return str(params["problem"])
    raise EvaluationFailure("bad_experiment", f"name the problem in {PROBLEM_FILE} "
                                              "(or spec.json params.problem, or --problem)")


def adapter_options(workspace: Workspace | None) -> dict:
    """The `options` of the workspace adapter's manifest (problems_dir, reverify_threshold), if there is one."""
    manifest = workspace.adapter / "manifest.yaml" if workspace else None
    if manifest is None or not manifest.is_file():
        return {}
    return (yaml.safe_load(manifest.read_text()) or {}).get("options", {}) or {}


def problems_dir(workspace: Workspace | None, override: Path | None) -> Path:
    if override:
        return Path(override).resolve()
    configured = adapter_options(workspace).get("problems_dir")
    if configured:
        path = Path(str(configured)).expanduser()
        return path if path.is_absolute() else workspace.root / path
    return BUILTIN_PROBLEMS


def judge(problem: ProblemRef, exp_dir: Path, settings: EvalSettings, workspace: Workspace,
          sandbox: SandboxConfig | None, timeout_s: float) -> KernelReport:
    """Run the runner on the solution in its own process; a crash or timeout there is the solution's failure.

    The report comes back through the experiment folder (the only writable path under a sandbox). The solution
    shares the runner's process, so what keeps it from rewriting the report is the static check (no file or `sys`
    access) and the run-time checks, not the file system."""
    report_path = exp_dir / REPORT_FILE
    report_path.unlink(missing_ok=True)
    argv = [sys.executable, "-m", "harnesses.kernels.runner", "--problem-file", str(problem.path),
            "--solution", str(exp_dir / ENTRY_POINT), "--settings", settings.model_dump_json(),
            "--out", str(report_path)]
    # builds and caches go to the experiment folder: under a sandbox it is the only writable path
    python_path = os.pathsep.join(filter(None, [str(_REPO_ROOT), os.environ.get("PYTHONPATH")]))
    env = {"PYTHONPATH": python_path, "TORCH_EXTENSIONS_DIR": str(exp_dir / ".torch_extensions"),
           "TRITON_CACHE_DIR": str(exp_dir / ".triton"), "PYTHONDONTWRITEBYTECODE": "1"}
    for name in ("CUDA_VISIBLE_DEVICES", "TORCH_CUDA_ARCH_LIST", "MAX_JOBS", "CUDA_HOME"):
        if name in os.environ:
            env[name] = os.environ[name]
    run = run_experiment_process(argv, exp_dir=exp_dir, workspace=workspace, timeout_s=timeout_s, sandbox=sandbox,
                                 inputs=(problem.path.parent, _REPO_ROOT), env=env)
    base = KernelReport(problem=problem.name, solution=str(exp_dir / ENTRY_POINT), device=settings.device,
                        mode=settings.mode)
    if run.timed_out:
        return base.model_copy(update={"rejected_rule": "timeout", "reason": f"no verdict within {timeout_s:g} s"})
    if run.returncode != 0 or not report_path.is_file():
        return base.model_copy(update={"rejected_rule": "crash",
                                       "reason": f"runner exited {run.returncode}: {run.output[-3000:]}"})
    report = KernelReport.model_validate_json(report_path.read_text())
    report_path.unlink()
    return report


def to_result(report: KernelReport, seed: int, wall_seconds: float) -> RunResult:
    metrics = {"correct": 1.0 if report.accepted else 0.0}
    for name in ("speedup_vs_compile", "speedup_vs_eager", "eager_ms", "compile_ms", "solution_ms", "max_abs_error"):
        value = getattr(report, name)
        if value is not None:
            metrics[name] = float(value)
    return RunResult(status="ok" if report.accepted else "failed", eval_mode=report.mode, metrics=metrics,
                     details=report.model_dump(mode="json"), error=report.reason,
                     error_signature=report.rejected_rule, harness=HARNESS_NAME, seed=seed,
                     wall_seconds=round(wall_seconds, 3))


def evaluate_experiment(exp_dir: Path, workspace: Workspace, mode: str, seed: int = 0, *, problem: str | None = None,
                        device: str | None = None, problems: Path | None = None,
                        sandbox: SandboxConfig | None = None, timeout_s: float = 1800.0, **overrides) -> RunResult:
    exp_dir = Path(exp_dir).resolve()
    if not (exp_dir / ENTRY_POINT).is_file():
        raise EvaluationFailure("bad_experiment", f"{ENTRY_POINT} not found in {exp_dir}")
    try:
        ref = find_problem(problem_name(exp_dir, problem), problems_dir(workspace, problems))
    except (KeyError, FileNotFoundError) as exc:
        raise EvaluationFailure("bad_experiment", str(exc)) from exc
    threshold = adapter_options(workspace).get("reverify_threshold")
    if threshold and "reverify_threshold" not in overrides:
        overrides["reverify_threshold"] = float(threshold)
    # "auto" is resolved in the runner, so this process never imports torch
    settings = EvalSettings.for_mode(mode, device=device or "auto", seed=seed, **overrides)
    started = time.monotonic()
    report = judge(ref, exp_dir, settings, workspace, sandbox, timeout_s)
    result = to_result(report, seed, time.monotonic() - started)
    record(exp_dir, result)
    return result


def main(argv: list[str] | None = None) -> int:
    extra = argparse.ArgumentParser(add_help=False)
    extra.add_argument("--problem", default=None)
    extra.add_argument("--device", choices=("cpu", "cuda"), default=None)
    extra.add_argument("--problems-dir", type=Path, default=None)
    extra.add_argument("--timeout", type=float, default=1800.0)
    extra.add_argument("--reverify-threshold", type=float, default=None,
                       help="default: the adapter's options.reverify_threshold, else 10")
    known, rest = extra.parse_known_args(argv if argv is not None else sys.argv[1:])
    if "--data" not in rest:
        # the shared CLI wants a dataset; for kernels the data is the problem set
        rest += ["--data", str(known.problems_dir or BUILTIN_PROBLEMS)]

    overrides = {} if known.reverify_threshold is None else {"reverify_threshold": known.reverify_threshold}

    def run(args: HarnessArgs) -> RunResult:
        return evaluate_experiment(args.experiment, args.workspace, args.mode, args.seed, problem=known.problem,
                                   device=known.device, problems=known.problems_dir, sandbox=args.sandbox,
                                   timeout_s=known.timeout, **overrides)

    return harness_main(run, rest, name=HARNESS_NAME, description=__doc__.splitlines()[0])


if __name__ == "__main__":
    sys.exit(main())
