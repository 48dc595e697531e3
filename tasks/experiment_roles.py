"""Prefect tasks for the Phase 3 roles: one task run per Worker task, Strategist turn, Supervisor intervention and
milestone report, so the UI shows each with its run log (every agent step is logged there).

Unlike the Phase 0-2 tasks these do not cache on their inputs: a Strategist turn on the same workspace is a new
decision every time, and the board (not the task cache) is what makes a resumed Phase 3 skip finished work.
Retries still cover transient provider errors only.
"""

from __future__ import annotations

from prefect import task
from prefect.cache_policies import NO_CACHE

from alphalab.phase3.contracts import (
    MilestoneOutcome, Phase3Roles, StrategistInput, StrategistOutput, SupervisorInput, SupervisorOutcome, WorkerOutcome,
)
from alphalab.roles import reporter, strategist, supervisor, worker
from tasks.common import ROLE_TASK_OPTIONS, role_context

PHASE = "phase3"
PHASE3_TASK_OPTIONS = {**ROLE_TASK_OPTIONS, "cache_policy": NO_CACHE, "persist_result": False}


@task(name="implement", task_run_name="implement-{exp_id}", **PHASE3_TASK_OPTIONS)
def implement_task(workspace: str, exp_id: str) -> WorkerOutcome:
    return worker.implement(role_context(workspace, PHASE), exp_id)


@task(name="analyze", task_run_name="analyze-{exp_id}", **PHASE3_TASK_OPTIONS)
def analyze_task(workspace: str, exp_id: str) -> WorkerOutcome:
    return worker.analyze(role_context(workspace, PHASE), exp_id)


@task(name="fix", task_run_name="fix-{exp_id}", **PHASE3_TASK_OPTIONS)
def fix_task(workspace: str, exp_id: str) -> WorkerOutcome:
    return worker.fix(role_context(workspace, PHASE), exp_id)


@task(name="strategist", task_run_name="strategist-turn-{request.turn}", **PHASE3_TASK_OPTIONS)
def strategist_task(workspace: str, request: StrategistInput) -> StrategistOutput:
    return strategist.run(role_context(workspace, PHASE), request)


@task(name="supervisor", **PHASE3_TASK_OPTIONS)
def supervisor_task(workspace: str, request: SupervisorInput) -> SupervisorOutcome:
    return supervisor.run(role_context(workspace, PHASE), request)


@task(name="reporter", task_run_name="milestone-{number:03d}", **PHASE3_TASK_OPTIONS)
def reporter_task(workspace: str, number: int) -> MilestoneOutcome:
    return reporter.write_milestone(role_context(workspace, PHASE), number)


def prefect_roles(workspace: str) -> Phase3Roles:
    """The Dispatcher's role calls as Prefect task runs (it calls them from its worker threads)."""
    return Phase3Roles(
        implement=lambda exp_id: implement_task(workspace, exp_id),
        analyze=lambda exp_id: analyze_task(workspace, exp_id),
        fix=lambda exp_id: fix_task(workspace, exp_id),
        strategist=lambda request: strategist_task(workspace, request),
        supervisor=lambda request: supervisor_task(workspace, request),
        reporter=lambda number: reporter_task(workspace, number),
    )
