"""Where the Dispatcher's counters live: one typed record (Phase3Progress) stored as JSON in the board's meta table,
so a campaign killed at any point resumes with the turns, milestones and Supervisor window it had."""

from __future__ import annotations

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
