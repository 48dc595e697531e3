"""What the operator can see and do during Phase 3, without Prefect: the campaign's status, and notes and
cancellations written straight to the board (the fallback when no Phase 3 flow run is there to receive them).

`alphalab note` / `alphalab cancel` (cli/operator.py) prefer to send through Prefect flow-run input
under OPERATOR_KEY_PREFIX; the running Phase 3 flow reads it between Dispatcher steps and applies the same changes.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel

from alphalab.board import Board
from alphalab.board_rows import IllegalTransition, UnknownExperiment
from alphalab.campaign import Campaign
from alphalab.cost import UsageLedger
from alphalab.errors import AlphalabError
from alphalab.leaderboard_text import noise_line
from alphalab.phase3.contracts import InboxItem
from alphalab.phase3.progress import load_progress

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
    noise: str = ""

    def text(self) -> str:
        counts = ", ".join(f"{k} {v}" for k, v in self.counts.items() if v) or "empty"
        lines = [
            f"campaign {self.campaign} ({self.workspace})",
            f"board: {counts}",
            f"best: {self.best}",
            self.noise,
            f"budget: {self.experiments_used}/{self.experiments_budget} experiments, "
            f"${self.usd_spent:.4f} of ${self.usd_budget:.2f}",
        ]
        if self.stop_reason:
            lines.append(f"phase 3 stopped: {self.stop_reason}")
        return "\n".join(lines)


def _campaign(workspace: str | Path) -> Campaign:
    campaign = Campaign.load(workspace)
    if not campaign.workspace.board_db.is_file():
        raise AlphalabError(f"{campaign.workspace.root}: Phase 3 has not started (no board yet)")
    return campaign


def status(workspace: str | Path) -> StatusReport:
    campaign = _campaign(workspace)
    config, board, metric = campaign.config, campaign.board, campaign.metric
    best = board.best(metric)
    return StatusReport(
        campaign=config.name, workspace=str(campaign.workspace.root), counts=board.counts(),
        best=(f"{best.id} {metric.name}={best.value:.6g} over {best.n} run(s) ({best.verification})" if best
              else "none yet"),
        experiments_used=board.experiments_used(), experiments_budget=config.budgets.experiments,
        usd_spent=UsageLedger(campaign.workspace.usage_log, pricing=config.pricing).total_usd,
        usd_budget=config.budgets.usd, stop_reason=load_progress(board).stop_reason,
        flow_run_id=board.get_meta(FLOW_RUN_META), noise=noise_line(campaign),
    )


def phase3_flow_run_id(workspace: str | Path) -> str | None:
    return _campaign(workspace).board.get_meta(FLOW_RUN_META)


def apply_item(board: Board, item: InboxItem) -> str:
    """A note or a cancellation on the board; raises IllegalTransition or UnknownExperiment for a refused cancel."""
    if item.kind == "note":
        note = board.add_note(item.text, source="operator")
        return f"note {note.id} recorded; the Strategist sees it at its next turn"
    board.cancel(item.exp_id or "", item.text or "operator")
    return f"{item.exp_id} cancelled"


def apply(workspace: str | Path, item: InboxItem) -> str:
    """Write a note or a cancellation straight to the board."""
    try:
        return apply_item(_campaign(workspace).board, item)
    except (IllegalTransition, UnknownExperiment) as e:
        raise AlphalabError(str(e)) from None
