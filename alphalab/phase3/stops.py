"""When Phase 3 stops: the USD budget, the wall clock and a provider error (hard stops: running jobs are stopped
and re-queued, so a resumed campaign with a larger budget, or a fixed key, carries on); convergence (`patience`
analyzed experiments without a new best) and `all_dead` (the first `all_dead_after` experiments all died: soft stops,
pending work is cancelled, running work finishes). The experiment budget ends the loop once every budgeted
experiment is through (the Dispatcher's `_finished`)."""

from __future__ import annotations

import time
from collections import Counter
from concurrent.futures import Future

from alphalab.board import Board
from alphalab.board_rows import PENDING, Experiment
from alphalab.campaign import Campaign
from alphalab.experiment_files import RUN_LOG, SMOKE_LOG
from alphalab.models.base import ProviderError
from alphalab.phase3.contracts import Phase3Progress, StopReason
from alphalab.ranking import running_best, since_best

HARD_STOPS = ("usd_budget", "wall_clock", "provider_error")
SOFT_STOPS = ("converged", "all_dead")


def provider_error(fut: Future) -> ProviderError | None:
    """The ProviderError a role task ended with. Any one stops Phase 3: a permanent one (a revoked key, an exhausted
    quota) fails every later call too, and a transient one already outlasted the provider's and Prefect's retries."""
    error = fut.exception()
    return error if isinstance(error, ProviderError) else None


def converged(campaign: Campaign) -> bool:
    points = running_best(campaign.board.analyzed(), campaign.metric)
    return since_best(points) >= campaign.config.phase3.patience


def dead_ids(board: Board) -> frozenset[str]:
    return frozenset(e.id for e in board.select("dead", kind="experiment"))


def _died(campaign: Campaign, earlier: frozenset[str]) -> list[Experiment]:
    return [e for e in campaign.board.select("dead", kind="experiment") if e.id not in earlier]


def all_dead(campaign: Campaign, earlier: frozenset[str]) -> bool:
    """`all_dead_after` experiments died and not one ran to its end: the campaign's own code (its template, its
    harness) is broken, and the rest of the budget would die the same way. Only deaths since `earlier` (the dead
    when this Dispatcher started) count, so a resumed campaign whose template was fixed gets to try again."""
    if campaign.board.select("finished", "analyzed", kind="experiment"):
        return False
    return len(_died(campaign, earlier)) >= campaign.config.phase3.all_dead_after


def stop_cause(campaign: Campaign, reason: StopReason | None, earlier: frozenset[str]) -> str:
    """The stop in words where its reason alone does not say why: for `all_dead`, the error most of the dead
    share and the log of one of them."""
    dead = _died(campaign, earlier)
    if reason != "all_dead" or not dead:
        return ""
    signature, n = Counter(e.error_signature or "unknown" for e in dead).most_common(1)[0]
    example = next(e for e in dead if (e.error_signature or "unknown") == signature)
    folder = campaign.exp_dir(example.id)
    logs = [folder / name for name in (SMOKE_LOG, RUN_LOG) if (folder / name).is_file()]
    # the newer log is the one its last attempt failed in
    where = max(logs, key=lambda p: p.stat().st_mtime) if logs else folder
    return (f"every one of the first {len(dead)} experiments died: {signature} in {n} of them; "
            f"see {where.relative_to(campaign.workspace.root).as_posix()}")


def stop_reason(campaign: Campaign, progress: Phase3Progress, usd_spent: float,
                earlier_dead: frozenset[str]) -> StopReason | None:
    budgets = campaign.config.budgets
    started = progress.started_at or time.time()
    if usd_spent >= budgets.usd:
        return "usd_budget"
    if time.time() - started >= budgets.wall_clock_hours * 3600:
        return "wall_clock"
    if converged(campaign):
        return "converged"
    if all_dead(campaign, earlier_dead):
        return "all_dead"
    return None


def wind_down(board: Board, reason: StopReason) -> None:
    """After a soft stop nothing new starts: pending experiments are cancelled and failures left unfixed."""
    for e in board.select(*PENDING, "failed", kind="experiment"):
        if e.state == "failed":
            board.transition(e.id, "dead", note=f"stopped before a fix: {reason}")
        else:
            board.cancel(e.id, f"campaign stopped: {reason}")
