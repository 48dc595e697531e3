"""Every message of Phase 3, in one place: what the Dispatcher hands each role and gets back, the role interface it
calls, the operator's inbox items, the campaign's progress counters and the summary the flow returns.

The Dispatcher depends on these and on nothing in alphalab/roles/; a role module depends on these and never on the
Dispatcher.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Literal

from pydantic import BaseModel, Field

StopReason = Literal[
    "experiment_budget", "converged", "usd_budget", "wall_clock", "no_proposals", "provider_error", "all_dead",
]


# ---- Strategist ------------------------------------------------------------------------------------------------------
class StrategistInput(BaseModel):
    turn: int
    proposals_wanted: int = Field(ge=0)
    budget_left: int = Field(ge=0)
    usd_spent: float = 0.0


class StrategistOutput(BaseModel):
    proposed: list[str] = Field(default_factory=list)
    cancelled: list[str] = Field(default_factory=list)
    playbook_updated: bool = False
    seen_debriefs: list[str] = Field(default_factory=list)
    prompt_chars: int = 0
    report: str = ""


# ---- Workers ---------------------------------------------------------------------------------------------------------
class WorkerOutcome(BaseModel):
    exp_id: str
    task: Literal["implement", "analyze", "fix"]
    ok: bool
    gave_up: bool = False
    error_signature: str | None = None
    detail: str = ""
    spec: dict[str, Any] | None = None  # a new spec when the task changed the configuration


# ---- Supervisor ------------------------------------------------------------------------------------------------------
class Failure(BaseModel):
    exp_id: str
    error_signature: str | None
    log_tail: str = ""


class SupervisorInput(BaseModel):
    error_rate: float
    window: int
    failures: list[Failure] = Field(default_factory=list)


class SupervisorOutcome(BaseModel):
    patched: bool
    signature: str | None = None
    reason: str = ""


# ---- Reporter --------------------------------------------------------------------------------------------------------
class MilestoneOutcome(BaseModel):
    number: int
    overview: Path
    plot: Path
    markdown: str


@dataclass
class Phase3Roles:
    """The role calls the Dispatcher makes (from its worker threads): bound in-process by alphalab.roles.phase3, or
    as Prefect task runs by tasks/experiment_roles.py."""

    implement: Callable[[str], WorkerOutcome]
    analyze: Callable[[str], WorkerOutcome]
    fix: Callable[[str], WorkerOutcome]
    strategist: Callable[[StrategistInput], StrategistOutput]
    supervisor: Callable[[SupervisorInput], SupervisorOutcome]
    reporter: Callable[[int], MilestoneOutcome]


# ---- the operator ----------------------------------------------------------------------------------------------------
class InboxItem(BaseModel):
    kind: Literal["note", "cancel"]
    text: str = ""
    exp_id: str | None = None


# ---- progress and the end --------------------------------------------------------------------------------------------
class Phase3Progress(BaseModel):
    """The Dispatcher's counters, kept on the board (alphalab.phase3.progress) so a resumed campaign continues them."""

    started_at: float | None = None
    stop_reason: StopReason | None = None
    strategist_turns: int = 0
    strategist_analyzed_at: int = 0  # experiments analyzed when the last Strategist turn started
    milestones: int = 0
    milestone_analyzed: int = 0  # experiments analyzed when the last milestone report was written
    supervisor_at_run: int = 0  # attempts recorded (supervision.py) when the Supervisor was last called


class Phase3Summary(BaseModel):
    stop_reason: StopReason
    stop_cause: str = ""  # why, in words, where the reason alone does not say (stops.stop_cause)
    analyzed: int
    best_id: str | None
    best_value: float | None
    counts: dict[str, int]
    strategist_turns: int
    milestones: int
    # (experiments analyzed when the turn started, characters of the Strategist's prompt)
    strategist_prompts: list[tuple[int, int]] = Field(default_factory=list)
