"""What the operator can see and do during Phase 3, without Prefect: the campaign's status, and notes and
cancellations written straight to the board (the fallback when no Phase 3 flow run is there to receive them).

`alphalab note` / `alphalab cancel` (alphalab/commands/operator.py) prefer to send through Prefect flow-run input
under OPERATOR_KEY_PREFIX; the running Phase 3 flow reads it between Dispatcher steps and applies the same changes.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel

from alphalab.board import Board, IllegalTransition, UnknownExperiment
from alphalab.campaign import load_campaign
from alphalab.cost import UsageLedger
from alphalab.dispatcher import InboxItem
from alphalab.errors import AlphalabError
from alphalab.phase3 import Phase3Env

OPERATOR_KEY_PREFIX = "alphalab-operator"
FLOW_RUN_META = "phase3_flow_run_id"


class StatusReport(BaseModel):
    campaign: str
    workspace: str
    counts: dict[str, int]
    best: str
    experiments_used: int
    experiments_budget: int
    usd_spent: float
    usd_budget: float
    stop_reason: str | None
    flow_run_id: str | None

    def text(self) -> str:
        counts = ", ".join(f"{k} {v}" for k, v in self.counts.items() if v) or "empty"
        lines = [
            f"campaign {self.campaign} ({self.workspace})",
            f"board: {counts}",
            f"best: {self.best}",
            f"budget: {self.experiments_used}/{self.experiments_budget} experiments, "
            f"${self.usd_spent:.4f} of ${self.usd_budget:.2f}",
        ]
        if self.stop_reason:
            lines.append(f"phase 3 stopped: {self.stop_reason}")
        return "\n".join(lines)


def _board(workspace: str | Path) -> tuple[Phase3Env, Board]:
    config, ws = load_campaign(workspace)
    if not ws.board_db.is_file():
        raise AlphalabError(f"{ws.root}: Phase 3 has not started (no board yet)")
    env = Phase3Env(config, ws)
    return env, env.board


def status(workspace: str | Path) -> StatusReport:
    env, board = _board(workspace)
    config = env.config
    best = board.best(env.metric)
    return StatusReport(
        campaign=config.name, workspace=str(env.workspace.root), counts=board.counts(),
        best=(f"{best.id} {env.metric.name}={best.value:.6g} ({best.verification})" if best else "none yet"),
        experiments_used=board.experiments_used(), experiments_budget=config.budgets.experiments,
        usd_spent=UsageLedger(env.workspace.usage_log, pricing=config.pricing).total_usd,
        usd_budget=config.budgets.usd, stop_reason=board.get_meta("phase3_stop_reason"),
        flow_run_id=board.get_meta(FLOW_RUN_META),
    )


def phase3_flow_run_id(workspace: str | Path) -> str | None:
    _, board = _board(workspace)
    return board.get_meta(FLOW_RUN_META)


def apply(workspace: str | Path, item: InboxItem) -> str:
    """Write a note or a cancellation straight to the board."""
    _, board = _board(workspace)
    if item.kind == "note":
        note = board.add_note(item.text, source="operator")
        return f"note {note.id} recorded; the Strategist sees it at its next turn"
    try:
        board.cancel(item.exp_id or "", item.text or "operator")
    except (IllegalTransition, UnknownExperiment) as e:
        raise AlphalabError(str(e)) from None
    return f"{item.exp_id} cancelled"
