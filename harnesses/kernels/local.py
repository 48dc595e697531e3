"""Judging the harness's own, trusted solutions in this process: its tests and calibration copies of the reference.

The reference and the solution share the process here, so a solution that patched torch would reach the reference:
nothing a Worker wrote is judged this way (evaluate.py runs each party in a process of its own). The verdict is the
same code as evaluate.py's (judge.py); the baseline is measured once per LocalJudge and configuration.
"""

from __future__ import annotations

from pathlib import Path

from harnesses.kernels.judge import judge_solution
from harnesses.kernels.problem import ProblemRef
from harnesses.kernels.reference import ReferenceSession
from harnesses.kernels.runner import SolutionSession
from harnesses.kernels.settings import Baseline, EvalSettings, KernelReport


class LocalJudge:
    def __init__(self, problem: ProblemRef, settings: EvalSettings) -> None:
        self.problem = problem
        self.reference = ReferenceSession(problem, settings)
        self.settings = self.reference.settings
        self.baseline = self.reference.measure()
        self._sessions = {0: (self.reference, self.baseline)}

    def _reference(self, settings: EvalSettings, seeds: list[int]) -> tuple[Baseline, dict]:
        if settings.config not in self._sessions:
            session = ReferenceSession(self.problem, settings)
            self._sessions[settings.config] = (session, session.measure())
        session, baseline = self._sessions[settings.config]
        return baseline, session.outputs(seeds)

    def evaluate(self, solution: Path, *, trusted: bool = False) -> KernelReport:
        """`trusted` (a copy of the reference, for calibration) skips the static and fallback checks."""
        s = self.settings.model_copy(update={"static_check": False, "fallback_check": False}) if trusted \
            else self.settings
        return judge_solution(
            self.problem, Path(solution), s,
            reference=self._reference,
            run_solution=lambda run_settings, ops, below_ms: SolutionSession(self.problem, run_settings).evaluate(
                solution, ops, below_ms))
