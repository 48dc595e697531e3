"""The trusted verdict on one solution: the static check, the solution's outputs compared with the pristine
reference's, and speedups of the solution's timing over the pristine baselines.

This runs in the harness's own process (evaluate.py), which never imports solution code: nothing here can be
patched by the solution. `judge_solution` gets its two parties as functions, so the same verdict serves both ways
of running them:
- `reference(seeds)`: the pristine baseline and the reference's outputs for those input seeds;
- `run_solution(settings, reference_ops, reverify_below_ms)`: the solution process's report and its outputs per
  input seed (`settings` name the device the reference ran on).
evaluate.py backs them with processes (reference.py, runner.py); local.py runs both here, for trusted solutions.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import torch
from pydantic import BaseModel

from harnesses.kernels.correctness import compare
from harnesses.kernels.problem import ProblemRef
from harnesses.kernels.settings import Baseline, EvalSettings, KernelReport
from harnesses.kernels.static_check import check_source

Outputs = dict[int, list[torch.Tensor]]
ReferenceFn = Callable[[list[int]], tuple[Baseline, Outputs]]
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


def compare_sets(seeds: list[int], outputs: Outputs, expected: Outputs, complete: bool) -> _Checked:
    """The solution's outputs against the reference's, set by set in order. `complete`: every set must be there
    (the solution's process reported no rejection of its own, which would explain the missing ones)."""
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
        result = compare(outs, refs)
        if not result.ok:
            return _Checked(rule="incorrect", reason=f"input set {k}: {result.reason}",
                            max_abs_error=result.max_abs_error)
        worst = max(worst, result.max_abs_error)
    return _Checked(max_abs_error=worst)


def judge_solution(problem: ProblemRef, solution: Path, settings: EvalSettings, reference: ReferenceFn,
                   run_solution: SolutionFn) -> KernelReport:
    s = settings
    report = KernelReport(problem=problem.name, solution=str(solution), device=s.device, mode=s.mode,
                          trials=s.trials, correctness_sets=s.correctness_sets)
    if s.static_check:
        violations = check_source(Path(solution).read_text())
        if violations:
            report.violations = [str(v) for v in violations]
            return _reject(report, violations[0].rule, "; ".join(report.violations))
    baseline, expected = reference(s.correctness_seeds())
    report.env, report.device, report.baseline_key = baseline.env, baseline.env.device, baseline.key
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
    checked = compare_sets(s.correctness_seeds(), outputs, expected, complete=claimed.rejected_rule is None)
    if checked.rule:
        return _reject(report, checked.rule, checked.reason,
                       checked.max_abs_error if checked.rule == "incorrect" else None)
    report.max_abs_error = checked.max_abs_error
    if claimed.rejected_rule:
        return _reject(report, claimed.rejected_rule, claimed.reason or claimed.rejected_rule)
    first_ms = claimed.first_pass_solution_ms or claimed.solution_ms
    if not (first_ms and first_ms > 0 and claimed.solution_ms and claimed.solution_ms > 0):
        return _reject(report, "bad_report", f"the solution's process reported no valid timing ({first_ms!r} ms)")
    if first_ms < below_ms:
        # a suspiciously large win counts only once the re-run on new inputs was compared here too
        report.first_pass_speedup = max(t / first_ms for t in (baseline.eager_ms, baseline.compile_ms) if t)
        if claimed.reverified is not True:
            return _reject(report, "reverify_missing", f"a {report.first_pass_speedup:.1f}x speedup needs a "
                                                       "re-verification, and the solution's process ran none")
        seeds = s.correctness_seeds(reverify=True)
        checked = compare_sets(seeds, outputs, reference(seeds)[1], complete=True)
        if checked.rule:
            report.reverified = False
            return _reject(report, checked.rule, f"re-verification failed: {checked.reason}")
    report.correct = True
    report.speedup_vs_eager = baseline.eager_ms / claimed.solution_ms
    report.speedup_vs_compile = baseline.compile_ms / claimed.solution_ms if baseline.compile_ms else None
    return report
