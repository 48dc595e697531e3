"""The campaign's Prefect events, for Automations to hang on (README, "Automations"). Each names its campaign as
the resource `alphalab.campaign.<name>`; Prefect relates it to the flow run that emitted it and that run's tags.

    alphalab.campaign.new-best           another experiment leads the leaderboard, or the leader's label changed
    alphalab.campaign.phase-failed       a phase's flow run failed (payload: phase, error)
    alphalab.campaign.budget-exhausted   Phase 3 stopped on a budget (payload: budget = experiments | usd | wall_clock)
    alphalab.campaign.finished           the campaign flow ran every phase it was asked for
"""

from __future__ import annotations

from typing import Any

from prefect.events import emit_event
from prefect.events.schemas.events import Event

from alphalab.phase3.contracts import Phase3Summary

NEW_BEST = "alphalab.campaign.new-best"
PHASE_FAILED = "alphalab.campaign.phase-failed"
BUDGET_EXHAUSTED = "alphalab.campaign.budget-exhausted"
FINISHED = "alphalab.campaign.finished"
# Phase 3's stop reasons that are a budget running out, by the budget
BUDGET_STOPS = {"experiment_budget": "experiments", "usd_budget": "usd", "wall_clock": "wall_clock"}


def resource_id(campaign: str) -> str:
    return f"alphalab.campaign.{campaign}"


def emit(event: str, campaign: str, payload: dict[str, Any] | None = None,
         labels: dict[str, str] | None = None) -> Event | None:
    """`labels` go on the resource, where an Automation's trigger can match them (it cannot match the payload)."""
    resource = {"prefect.resource.id": resource_id(campaign), "prefect.resource.name": campaign, **(labels or {})}
    return emit_event(event=event, resource=resource, payload=payload or {})


def phase_failed(campaign: str, phase: int, error: str, run_name: str = "") -> Event | None:
    return emit(PHASE_FAILED, campaign, {"phase": phase, "error": error[:2000], "flow_run": run_name},
                {"alphalab.phase": str(phase)})


def phase3_stopped(campaign: str, summary: Phase3Summary) -> Event | None:
    budget = BUDGET_STOPS.get(summary.stop_reason)
    if budget is None:
        return None
    return emit(BUDGET_EXHAUSTED, campaign, {"budget": budget, "analyzed": summary.analyzed,
                                             "best_id": summary.best_id, "best_value": summary.best_value},
                {"alphalab.budget": budget})


def finished(campaign: str, phases_done: list[int], cost_usd: float) -> Event | None:
    return emit(FINISHED, campaign, {"phases_done": phases_done, "cost_usd": cost_usd})
