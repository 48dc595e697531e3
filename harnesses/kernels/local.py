"""Judging the harness's own, trusted solutions in this process: its tests and calibration copies of the reference.

The reference and the solution share the process here, so a solution that patched torch would reach the reference:
nothing a Worker wrote is judged this way (evaluate.py runs each party in a process of its own). The verdict is the
same code as evaluate.py's (judge.py); the baseline is measured once per LocalJudge.
"""

from __future__ import annotations

from pathlib import Path

from harnesses.kernels.judge import judge_solution
from harnesses.kernels.problem import ProblemRef
from harnesses.kernels.reference import ReferenceSession
from harnesses.kernels.runner import SolutionSession
from harnesses.kernels.settings import EvalSettings, KernelReport


class LocalJudge:
    def __init__(self, problem: ProblemRef, settings: EvalSettings) -> None:
        self.problem = problem
        self.reference = ReferenceSession(problem, settings)
        self.settings = self.reference.settings
        self.baseline = self.reference.measure()

    def evaluate(self, solution: Path, *, trusted: bool = False) -> KernelReport:
        """`trusted` (a copy of the reference, for calibration) skips the static and fallback checks."""
        s = self.settings.model_copy(update={"static_check": False, "fallback_check": False}) if trusted \
            else self.settings
        return judge_solution(
            self.problem, Path(solution), s,
            reference=lambda seeds: (self.baseline, self.reference.outputs(seeds)),
            run_solution=lambda run_settings, ops, below_ms: SolutionSession(self.problem, run_settings).evaluate(
                solution, ops, below_ms))
