"""The trusted verdict on one solution: the static check, the solution's outputs compared with the pristine
reference's, and speedups of the solution's timing over the pristine baselines.

This runs in the harness's own process (evaluate.py), which never imports solution code: nothing here can be
patched by the solution. `judge_solution` gets its two parties as functions, so the same verdict serves both ways
of running them:
- `reference(settings, seeds)`: the pristine baseline and the reference's outputs for those input seeds, at the
  settings' configuration;
- `run_solution(settings, reference_ops, reverify_below_ms)`: the solution process's report and its outputs per
  input seed (`settings` name the device the reference ran on).
evaluate.py backs them with processes (reference.py, runner.py); local.py runs both here, for trusted solutions.

Beside the ranked numbers (our protocol), the verdict carries the same solution under each suite protocol the
settings name, and, once accepted in full mode, a shape check: the whole judgement again at the problem's second
configuration. A solution wrong there is rejected (`shape_specialised`); one that wins at the first shape but not
at the second is accepted and flagged.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import torch
from pydantic import BaseModel

from harnesses.base import EvaluationFailure
from harnesses.kernels.correctness import compare
from harnesses.kernels.problem import ProblemRef, has_shape_check
from harnesses.kernels.settings import PROTOCOLS, Baseline, EvalSettings, KernelReport, ShapeCheck, Timing
from harnesses.kernels.static_check import check_cuda_source, check_source

Outputs = dict[int, list[torch.Tensor]]
ReferenceFn = Callable[[EvalSettings, list[int]], tuple[Baseline, Outputs]]
SolutionFn = Callable[[EvalSettings, list[str] | None, float], tuple[KernelReport, Outputs]]


class _Checked(BaseModel):
    rule: str | None = None
    reason: str = ""
    max_abs_error: float = 0.0


def reverify_below_ms(baseline: Baseline, settings: EvalSettings) -> float:
    """A solution faster than this beats a baseline by more than the re-verification threshold."""
    return max(t for t in (baseline.eager_ms, baseline.compile_ms) if t) / settings.reverify_threshold


def _reject(report: KernelReport, rule: str, reason: str, max_abs_error: float | None = None) -> KernelReport:
    report.correct, report.rejected_rule, report.reason = False, rule, reason
    if max_abs_error is not None:
        report.max_abs_error = max_abs_error
    return report


def _same(a: list[torch.Tensor] | None, b: list[torch.Tensor] | None) -> bool:
    return a is not None and b is not None and len(a) == len(b) and all(
        x.shape == y.shape and x.dtype == y.dtype and torch.equal(x, y) for x, y in zip(a, b))


def compare_sets(seeds: list[int], outputs: Outputs, expected: Outputs, complete: bool,
                 tolerance: float | None = None) -> _Checked:
    """The solution's outputs against the reference's, set by set in order. `complete`: every set must be there
    (the solution's process reported no rejection of its own, which would explain the missing ones). `tolerance`:
    atol = rtol for a suite's protocol, instead of KernelBench's per-dtype ones."""
    worst = 0.0
    for k, seed in enumerate(seeds):
        if seed not in outputs:
            if complete:
                return _Checked(rule="missing_outputs", reason=f"the solution's process left no outputs for input "
                                                               f"set {k}")
            break
        outs, refs = outputs[seed], expected[seed]
        if k and _same(outs, outputs.get(seeds[k - 1])) and not _same(refs, expected[seeds[k - 1]]):
            return _Checked(rule="stale_output", reason=f"input set {k}: output is identical to the previous call's "
                                                        "although the inputs changed (an output cached from an "
                                                        "earlier call)")
        result = compare(outs, refs, tolerance)
        if not result.ok:
            return _Checked(rule="incorrect", reason=f"input set {k}: {result.reason}",
                            max_abs_error=result.max_abs_error)
        worst = max(worst, result.max_abs_error)
    return _Checked(max_abs_error=worst)


def _speedups(eager_ms: float | None, compile_ms: float | None, solution_ms: float | None
              ) -> tuple[float | None, float | None]:
    if not solution_ms:
        return None, None
    return (eager_ms / solution_ms if eager_ms else None), (compile_ms / solution_ms if compile_ms else None)


def judge_solution(problem: ProblemRef, solution: Path, settings: EvalSettings, reference: ReferenceFn,
                   run_solution: SolutionFn) -> KernelReport:
    report, outputs, expected, baseline = _judge(problem, solution, settings, reference, run_solution)
    if not report.accepted:
        return report
    seeds = settings.correctness_seeds()
    for name, timing in report.protocols.items():
        protocol, base = PROTOCOLS[name], baseline.protocols.get(name) or Timing(protocol=name)
        timing.eager_ms, timing.compile_ms = base.eager_ms, base.compile_ms
        timing.compile_mode, timing.compile_error = base.compile_mode, base.compile_error
        timing.speedup_vs_eager, timing.speedup_vs_compile = _speedups(base.eager_ms, base.compile_ms,
                                                                       timing.solution_ms)
        timing.correct = compare_sets(seeds, outputs, expected, complete=True,
                                      tolerance=protocol.tolerance).rule is None
        best = max(filter(None, (timing.speedup_vs_eager, timing.speedup_vs_compile)), default=None)
        if protocol.flag_speedup_above and best and best > protocol.flag_speedup_above:
            timing.flag = f"{best:.1f}x: above the {protocol.flag_speedup_above:g}x {name} flags as suspicious"
    if settings.use_shape_check:
        report.shape_check = shape_check(problem, solution, settings, reference, run_solution, report)
        if report.shape_check.status == "failed":
            return _reject(report, "shape_specialised", f"at the second configuration "
                                                        f"({report.shape_check.config}): {report.shape_check.reason}")
    return report


def shape_check(problem: ProblemRef, solution: Path, settings: EvalSettings, reference: ReferenceFn,
                run_solution: SolutionFn, first: KernelReport) -> ShapeCheck:
    """The same judgement at the problem's second configuration (our protocol; no further checks)."""
    if not has_shape_check(problem):
        return ShapeCheck(status="unavailable", reason="the problem has one configuration only")
    second = settings.model_copy(update={"config": 1, "protocols": [], "shape_check": False})
    try:
        report = _judge(problem, solution, second, reference, run_solution)[0]
    except EvaluationFailure as exc:  # the reference itself failed at that shape: nothing to hold the solution to
        return ShapeCheck(status="unavailable", reason=exc.message[-500:])
    check = ShapeCheck(config=report.config, status="passed", eager_ms=report.eager_ms,
                       compile_ms=report.compile_ms, solution_ms=report.solution_ms,
                       speedup_vs_eager=report.speedup_vs_eager, speedup_vs_compile=report.speedup_vs_compile)
    if not report.accepted:
        check.status, check.reason = "failed", f"{report.rejected_rule}: {report.reason}"
        return check
    ranked = [(a, b) for a, b in ((first.speedup_vs_compile, report.speedup_vs_compile),
                                  (first.speedup_vs_eager, report.speedup_vs_eager)) if a is not None][:1]
    # CPU mode's timings are of toy shapes, no speedup claim
    if first.device == "cuda" and ranked and ranked[0][0] > 1.0 and (ranked[0][1] or 0.0) <= 1.0:
        check.status = "flagged"
        check.reason = (f"wins at one shape only: {ranked[0][0]:.2f}x at {first.config}, {ranked[0][1]:.2f}x at "
                        f"{report.config}")
    return check


def _judge(problem: ProblemRef, solution: Path, settings: EvalSettings, reference: ReferenceFn,
           run_solution: SolutionFn) -> tuple[KernelReport, Outputs, Outputs, Baseline | None]:
    """The verdict, the solution's outputs and the reference's (per input seed), and the baseline."""
    s = settings
    report = KernelReport(problem=problem.name, solution=str(solution), device=s.device, mode=s.mode,
                          trials=s.trials, correctness_sets=s.correctness_sets)
    if s.static_check:
        source = Path(solution).read_text()
        violations = check_cuda_source(source) if Path(solution).suffix == ".cu" else check_source(source)
        if violations:
            report.violations = [str(v) for v in violations]
            return _reject(report, violations[0].rule, "; ".join(report.violations)), {}, {}, None
    baseline, expected = reference(s, s.correctness_seeds())
    report.env, report.device, report.baseline_key = baseline.env, baseline.env.device, baseline.key
    report.config, report.precision = baseline.config, baseline.precision
    report.eager_ms, report.eager_ms_repeats = baseline.eager_ms, baseline.eager_ms_repeats
    report.compile_ms, report.compile_ms_repeats = baseline.compile_ms, baseline.compile_ms_repeats
    report.compile_error = baseline.compile_error
    below_ms = reverify_below_ms(baseline, s)
    run_settings = s.model_copy(update={"device": baseline.env.device})
    claimed, outputs = run_solution(run_settings, baseline.ops if s.fallback_check else None, below_ms)
    # the solution process's word: its timings, whether it re-verified, and a rejection of its own
    report.solution_ms, report.solution_ms_repeats = claimed.solution_ms, claimed.solution_ms_repeats
    report.first_pass_solution_ms, report.reverified = claimed.first_pass_solution_ms, claimed.reverified
    report.trials = claimed.trials
    report.protocols = {name: Timing(protocol=name, solution_ms=t.solution_ms) for name, t in claimed.protocols.items()
                        if name in s.protocols and name in baseline.protocols}
    checked = compare_sets(s.correctness_seeds(), outputs, expected, complete=claimed.rejected_rule is None)
    if checked.rule:
        return _reject(report, checked.rule, checked.reason,
                       checked.max_abs_error if checked.rule == "incorrect" else None), outputs, expected, baseline
    report.max_abs_error = checked.max_abs_error
    if claimed.rejected_rule:
        rejected = _reject(report, claimed.rejected_rule, claimed.reason or claimed.rejected_rule)
        return rejected, outputs, expected, baseline
    first_ms = claimed.first_pass_solution_ms or claimed.solution_ms
    if not (first_ms and first_ms > 0 and claimed.solution_ms and claimed.solution_ms > 0):
        return _reject(report, "bad_report", f"the solution's process reported no valid timing ({first_ms!r} ms)"
                       ), outputs, expected, baseline
    if first_ms < below_ms:
        # a suspiciously large win counts only once the re-run on new inputs was compared here too
        report.first_pass_speedup = max(t / first_ms for t in (baseline.eager_ms, baseline.compile_ms) if t)
        if claimed.reverified is not True:
            return _reject(report, "reverify_missing", f"a {report.first_pass_speedup:.1f}x speedup needs a "
                                                       "re-verification, and the solution's process ran none"
                           ), outputs, expected, baseline
        seeds = s.correctness_seeds(reverify=True)
        checked = compare_sets(seeds, outputs, reference(s, seeds)[1], complete=True)
        if checked.rule:
            report.reverified = False
            rejected = _reject(report, checked.rule, f"re-verification failed: {checked.reason}")
            return rejected, outputs, expected, baseline
    report.correct = True
    report.speedup_vs_eager, report.speedup_vs_compile = _speedups(baseline.eager_ms, baseline.compile_ms,
                                                                   claimed.solution_ms)
    return report, outputs, expected, baseline
