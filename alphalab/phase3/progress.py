"""Where the Dispatcher's counters live: one typed record (Phase3Progress) stored as JSON in the board's meta table,
so a campaign killed at any point resumes with the turns, milestones and Supervisor window it had. And how far the
experiment budget is (BudgetCount), for the budget artifact and the terminal's live view."""

from __future__ import annotations

from pydantic import BaseModel

from alphalab.board import Board
from alphalab.phase3.contracts import Phase3Progress

PROGRESS_KEY = "phase3_progress"
# a board written before the record existed kept one meta key per counter
_OLD_KEYS = {
    "started_at": "phase3_started_at", "stop_reason": "phase3_stop_reason", "strategist_turns": "strategist_turns",
    "strategist_analyzed_at": "strategist_analyzed_at", "milestones": "milestones",
    "milestone_analyzed": "milestone_analyzed", "supervisor_at_run": "supervisor_at_run",
}


def load_progress(board: Board) -> Phase3Progress:
    stored = board.get_meta(PROGRESS_KEY)
    if stored is not None:
        return Phase3Progress.model_validate_json(stored)
    old = {field: board.get_meta(key) for field, key in _OLD_KEYS.items()}
    return Phase3Progress.model_validate({k: v for k, v in old.items() if v is not None})


def save_progress(board: Board, progress: Phase3Progress) -> None:
    board.set_meta(PROGRESS_KEY, progress.model_dump_json())


class BudgetCount(BaseModel):
    """The experiments that are through (analyzed, dead, or cancelled after they ran) against the budget: not the
    proposed ones, which reach the budget with the Strategist's first turns, long before anything has finished."""

    budget: int
    analyzed: int
    dead: int
    cancelled: int  # after they ran (cancelled before, they do not count against the budget)
    proposed: int  # Board.experiments_used
    noise_runs: int  # apart from the budget, as are the re-runs
    reruns: int

    @property
    def through(self) -> int:
        return self.analyzed + self.dead + self.cancelled

    @property
    def percent(self) -> float:
        return round(min(100.0, 100.0 * self.through / self.budget), 1) if self.budget > 0 else 100.0


def budget_count(board: Board, budget: int) -> BudgetCount:
    experiments = board.select(kind="experiment")
    return BudgetCount(
        budget=budget, analyzed=sum(1 for e in experiments if e.analyzed_seq is not None),
        dead=sum(1 for e in experiments if e.state == "dead"),
        cancelled=sum(1 for e in experiments if e.state == "cancelled" and e.started_at is not None),
        proposed=board.experiments_used(), noise_runs=len(board.select(kind="noise")),
        reruns=len(board.select(kind="verify")),
    )
