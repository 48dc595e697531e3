"""When Phase 3 stops: the USD budget, the wall clock and a provider error (hard stops: running jobs are stopped
and re-queued, so a resumed campaign with a larger budget, or a fixed key, carries on), and convergence (`patience`
analyzed experiments without a new best: pending work is cancelled, running work finishes). The experiment budget
ends the loop once every budgeted experiment is through (the Dispatcher's `_finished`)."""

from __future__ import annotations

import time
from concurrent.futures import Future

from alphalab.board import Board
from alphalab.board_rows import PENDING
from alphalab.campaign import Campaign
from alphalab.models.base import ProviderError
from alphalab.phase3.contracts import Phase3Progress, StopReason
from alphalab.ranking import running_best, since_best

HARD_STOPS = ("usd_budget", "wall_clock", "provider_error")


def provider_error(fut: Future) -> ProviderError | None:
    """The ProviderError a role task ended with. Any one stops Phase 3: a permanent one (a revoked key, an exhausted
    quota) fails every later call too, and a transient one already outlasted the provider's and Prefect's retries."""
    error = fut.exception()
    return error if isinstance(error, ProviderError) else None


def converged(campaign: Campaign) -> bool:
    points = running_best(campaign.board.analyzed(), campaign.metric)
    return since_best(points) >= campaign.config.phase3.patience


def stop_reason(campaign: Campaign, progress: Phase3Progress, usd_spent: float) -> StopReason | None:
    budgets = campaign.config.budgets
    started = progress.started_at or time.time()
    if usd_spent >= budgets.usd:
        return "usd_budget"
    if time.time() - started >= budgets.wall_clock_hours * 3600:
        return "wall_clock"
    if converged(campaign):
        return "converged"
    return None


def wind_down(board: Board, reason: StopReason) -> None:
    """After a soft stop nothing new starts: pending experiments are cancelled and failures left unfixed."""
    for e in board.select(*PENDING, "failed", kind="experiment"):
        if e.state == "failed":
            board.transition(e.id, "dead", note=f"stopped before a fix: {reason}")
        else:
            board.cancel(e.id, f"campaign stopped: {reason}")
