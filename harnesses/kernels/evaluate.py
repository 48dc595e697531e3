"""Evaluate one kernel experiment and record its result.

    python -P -m harnesses.kernels.evaluate --experiment EXP_DIR --workspace WS --mode smoke|full [--seed N]
        [--problem NAME] [--device cpu|cuda] [--problems-dir DIR] [--sandbox auto|none|bwrap] [--network on|off]
        [--data DIR] [--options JSON]

The experiment folder holds `solution.py` (a `ModelNew`; for a robust-kbench task, `solution.cu` exporting
`forward` will do) and names its problem in `problem.txt` (one line), unless `--problem` is given or `spec.json`
carries `{"params": {"problem": ...}}`. Problems, in KernelBench's or robust-kbench's format (problem.py), come from
`--problems-dir`, else the workspace adapter's `options.problems_dir`, else the campaign's data path when it holds
problems, else the built-in set. The campaign's `domain_options.protocols` (comma-separated: kernelbench,
robust-kbench) names the suites' protocols to time beside ours; the leaderboard ranks on ours.

Three processes, and what each computes:
- this one (trusted; never imports the solution): the static check, the comparison of the solution's outputs with
  the reference's, the speedups, and the recorded result (judge.py);
- the pristine reference process (harnesses.kernels.reference; outside the sandbox, working in the workspace's
  `.private/kernels/`, where its baselines are cached): the reference's outputs for this evaluation's input seeds,
  its op set, and the eager and torch.compile timings;
- the solution's process (harnesses.kernels.runner; sandboxed, `-P`, a PYTHONPATH without the experiment folder):
  imports the solution, runs the run-time checks, saves its outputs and times it. What it hands back through the
  experiment's `_io/` folder is the solution's word (see KernelReport).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

import torch
import yaml

from alphalab.experiment_files import BUILD_CACHES, IO_DIR
from alphalab.results import RunResult
from alphalab.sandbox import CommandResult, SandboxConfig, run_command
from alphalab.workspace import Workspace
from harnesses.base import EvaluationFailure, HarnessArgs, clear_result, harness_main, record, run_experiment_process
from harnesses.kernels.judge import Outputs, ReferenceFn, SolutionFn, judge_solution
from harnesses.kernels.problem import BUILTIN_PROBLEMS, ProblemRef, find_problem, resolve_problem_set
from harnesses.kernels.reference import BASELINE_FILE
from harnesses.kernels.runner import REPORT_FILE
from harnesses.kernels.settings import PROTOCOLS, Baseline, EvalSettings, KernelReport

HARNESS_NAME = "kernels"
ENTRY_POINT = "solution.py"
CUDA_ENTRY_POINT = "solution.cu"  # a robust-kbench submission
PROBLEM_FILE = "problem.txt"
CACHE_DIR = "kernels"  # under Workspace.private
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


def problems_dir(workspace: Workspace | None, override: Path | None, data: Path | None = None) -> Path:
    if override:
        return Path(override).resolve()
    configured = adapter_options(workspace).get("problems_dir")
    if configured:
        path = Path(str(configured)).expanduser()
        return path if path.is_absolute() else workspace.root / path
    return resolve_problem_set(data, None)


def solution_file(exp_dir: Path) -> Path:
    python = exp_dir / ENTRY_POINT
    return exp_dir / CUDA_ENTRY_POINT if not python.is_file() and (exp_dir / CUDA_ENTRY_POINT).is_file() else python


def python_path(*excluded: Path) -> str:
    """The repository first, then the caller's absolute PYTHONPATH entries outside `excluded` (the workspace, the
    experiment folder): an empty or relative entry would resolve against the child's working directory, which for
    the runner is the experiment folder."""
    kept = [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep)
            if p and os.path.isabs(p) and not any(Path(p).resolve().is_relative_to(x) for x in excluded)]
    return os.pathsep.join([str(_REPO_ROOT), *kept])


def _clear(path: Path) -> None:
    # a link planted under the name is removed, never followed
    if path.is_symlink() or path.is_file():
        path.unlink()
    elif path.is_dir():
        shutil.rmtree(path)


def load_outputs(path: Path) -> list[torch.Tensor] | None:
    """One input set's saved output tensors; None for a missing, linked or malformed file."""
    if path.is_symlink() or not path.is_file():
        return None
    try:
        value = torch.load(path, map_location="cpu", weights_only=True)
    except Exception:  # whatever the file holds, it is no output list
        return None
    if isinstance(value, list) and all(type(t) is torch.Tensor and t.layout == torch.strided for t in value):
        return value
    return None


def reference_fn(problem: ProblemRef, workspace: Workspace, timeout_s: float) -> ReferenceFn:
    """The pristine reference process, one run per request: trusted code only, so no sandbox; its baselines and
    compile caches stay under .private/, where experiment code can neither read nor plant anything."""
    cache = workspace.private / CACHE_DIR

    def reference(settings: EvalSettings, seeds: list[int]) -> tuple[Baseline, Outputs]:
        cache.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(dir=cache, prefix="request-") as tmp:
            out = Path(tmp)
            argv = [sys.executable, "-P", "-m", "harnesses.kernels.reference", "--problem-file", str(problem.path),
                    "--format", problem.format, "--settings", settings.model_dump_json(),
                    "--seeds", ",".join(map(str, seeds)),
                    "--cache", str(cache), "--out", str(out)]
            env = {"PYTHONPATH": python_path(workspace.root), "PYTHONDONTWRITEBYTECODE": "1",
                   "TORCHINDUCTOR_CACHE_DIR": str(cache / "inductor"), "TRITON_CACHE_DIR": str(cache / "triton")}
            proc = run_command(argv, cwd=out, timeout_s=timeout_s, env=env)
            if proc.returncode != 0 or not (out / BASELINE_FILE).is_file():
                raise EvaluationFailure("reference_error", f"the reference process exited {proc.returncode} "
                                                           f"(timed out: {proc.timed_out}): {proc.output[-3000:]}")
            baseline = Baseline.model_validate_json((out / BASELINE_FILE).read_text())
            outputs = {seed: load_outputs(out / f"{seed}.pt") for seed in seeds}
        missing = [seed for seed, value in outputs.items() if value is None]
        if missing:
            raise EvaluationFailure("reference_error", f"the reference process wrote no outputs for seeds {missing}")
        return baseline, outputs

    return reference


def solution_fn(problem: ProblemRef, exp_dir: Path, workspace: Workspace, sandbox: SandboxConfig | None,
                timeout_s: float) -> SolutionFn:
    """The solution's process, in the sandbox; a crash or timeout there is the solution's failure."""
    io = exp_dir / IO_DIR
    solution = solution_file(exp_dir)

    def run_solution(settings: EvalSettings, reference_ops: list[str] | None,
                     reverify_below_ms: float) -> tuple[KernelReport, Outputs]:
        _clear(io)
        io.mkdir()
        argv = [sys.executable, "-P", "-m", "harnesses.kernels.runner", "--problem-file", str(problem.path),
                "--format", problem.format, "--solution", str(solution), "--settings", settings.model_dump_json(),
                "--io", str(io),
                "--reverify-below-ms", repr(reverify_below_ms)]
        if reference_ops is not None:
            argv += ["--reference-ops", json.dumps(reference_ops)]
        # builds and caches go to the experiment folder: under a sandbox it is the only writable path
        env = {"PYTHONPATH": python_path(workspace.root, exp_dir), "PYTHONDONTWRITEBYTECODE": "1",
               "TORCH_EXTENSIONS_DIR": str(exp_dir / BUILD_CACHES[0]), "TRITON_CACHE_DIR": str(exp_dir / BUILD_CACHES[1])}
        for name in ("CUDA_VISIBLE_DEVICES", "TORCH_CUDA_ARCH_LIST", "MAX_JOBS", "CUDA_HOME"):
            if name in os.environ:
                env[name] = os.environ[name]
        try:
            run = run_experiment_process(argv, exp_dir=exp_dir, workspace=workspace, timeout_s=timeout_s,
                                         sandbox=sandbox, inputs=(problem.path.parent, _REPO_ROOT), env=env)
            return _read_run(run, io, settings, problem, solution, timeout_s)
        finally:
            _clear(io)

    return run_solution


def _read_run(run: CommandResult, io: Path, settings: EvalSettings, problem: ProblemRef, solution: Path,
              timeout_s: float) -> tuple[KernelReport, Outputs]:
    """What the solution's process left in `io`. Every process of the run is dead by now (the sandbox's PID
    namespace, or the reaper), so nothing swaps these files while they are read."""
    base = KernelReport(problem=problem.name, solution=str(solution), device=settings.device,
                        mode=settings.mode)
    if run.timed_out:
        return base.model_copy(update={"rejected_rule": "timeout", "reason": f"no verdict within {timeout_s:g} s"}), {}
    report = io / REPORT_FILE
    if run.returncode != 0 or io.is_symlink() or report.is_symlink() or not report.is_file():
        return base.model_copy(update={"rejected_rule": "crash",
                                       "reason": f"runner exited {run.returncode}: {run.output[-3000:]}"}), {}
    try:
        claimed = KernelReport.model_validate_json(report.read_text())
    except ValueError as exc:
        return base.model_copy(update={"rejected_rule": "bad_report", "reason": f"unreadable report: {exc}"}), {}
    seeds = settings.correctness_seeds() + settings.correctness_seeds(reverify=True)
    outputs = {seed: value for seed in seeds if (value := load_outputs(io / f"{seed}.pt")) is not None}
    return claimed, outputs


def to_result(report: KernelReport, seed: int, wall_seconds: float) -> RunResult:
    metrics = {"correct": 1.0 if report.accepted else 0.0}
    for name in ("speedup_vs_compile", "speedup_vs_eager", "eager_ms", "compile_ms", "solution_ms", "max_abs_error"):
        value = getattr(report, name)
        if value is not None:
            metrics[name] = float(value)
    # the suites' numbers beside ours, under their own names: never the ranked metric
    for protocol, timing in report.protocols.items():
        for name in ("speedup_vs_eager", "speedup_vs_compile"):
            if (value := getattr(timing, name)) is not None:
                metrics[f"{protocol.replace('-', '_')}_{name}"] = float(value)
    if report.shape_check is not None and report.shape_check.status != "unavailable":
        metrics["shape_check_ok"] = 1.0 if report.shape_check.status == "passed" else 0.0
    return RunResult(status="ok" if report.accepted else "failed", eval_mode=report.mode, metrics=metrics,
                     details=report.model_dump(mode="json"), error=report.reason,
                     error_signature=report.rejected_rule, harness=HARNESS_NAME, seed=seed,
                     wall_seconds=round(wall_seconds, 3))


def protocol_names(options: dict) -> list[str]:
    """The campaign's `domain_options.protocols`: suite protocols to time beside ours."""
    names = [n.strip() for n in str(options.get("protocols", "")).split(",") if n.strip()]
    unknown = [n for n in names if n not in PROTOCOLS]
    if unknown:
        raise EvaluationFailure("bad_options", f"domain_options.protocols: unknown {unknown} "
                                               f"(known: {', '.join(PROTOCOLS)})")
    return names


def evaluate_experiment(exp_dir: Path, workspace: Workspace, mode: str, seed: int = 0, *, problem: str | None = None,
                        device: str | None = None, problems: Path | None = None, data: Path | None = None,
                        sandbox: SandboxConfig | None = None, timeout_s: float = 1800.0, **overrides) -> RunResult:
    exp_dir = Path(exp_dir).resolve()
    clear_result(workspace, exp_dir, mode)
    solution = solution_file(exp_dir)
    if not solution.is_file():
        raise EvaluationFailure("bad_experiment", f"{ENTRY_POINT} (or {CUDA_ENTRY_POINT}) not found in {exp_dir}")
    try:
        ref = find_problem(problem_name(exp_dir, problem), problems_dir(workspace, problems, data))
    except (KeyError, FileNotFoundError) as exc:
        raise EvaluationFailure("bad_experiment", str(exc)) from exc
    threshold = adapter_options(workspace).get("reverify_threshold")
    if threshold and "reverify_threshold" not in overrides:
        overrides["reverify_threshold"] = float(threshold)
    # "auto" is resolved in the reference process: this one never initialises CUDA
    settings = EvalSettings.for_mode(mode, device=device or "auto", seed=seed, **overrides)
    started = time.monotonic()
    report = judge_solution(ref, solution, settings, reference_fn(ref, workspace, timeout_s),
                            solution_fn(ref, exp_dir, workspace, sandbox, timeout_s))
    result = to_result(report, seed, time.monotonic() - started)
    record(workspace, exp_dir, result)
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
                                   device=known.device, problems=known.problems_dir, data=args.data,
                                   sandbox=args.sandbox, timeout_s=known.timeout,
                                   protocols=protocol_names(args.options), **overrides)

    return harness_main(run, rest, name=HARNESS_NAME, description=__doc__.splitlines()[0])


if __name__ == "__main__":
    sys.exit(main())
