"""Prefect tasks for the comparison baselines: each greedy iteration's change and run, and the single shot's call,
retry and run.

Nothing here is cached: every step reads and changes the board, which is the state (a rerun of a flow resumes from
it). Model calls retry on transient provider errors only, like the role tasks.
"""

from __future__ import annotations

from prefect import task
from prefect.cache_policies import NO_CACHE

from alphalab import progress
from alphalab.roles.baselines import greedy, single_shot
from alphalab.roles.baselines.greedy import GreedyDecision, GreedyStep
from alphalab.roles.baselines.trial import TrialOutcome, prepare
from alphalab.campaign import Campaign
from alphalab.compare import WorkspaceSummary, summarize
from alphalab.cost import UsageLedger
from alphalab.phase3.contracts import WorkerOutcome
from tasks.common import ROLE_TASK_OPTIONS, role_context

BASELINE_TASK_OPTIONS = {**ROLE_TASK_OPTIONS, "cache_policy": NO_CACHE, "persist_result": False}
RUN_TASK_OPTIONS = {"cache_policy": NO_CACHE, "persist_result": False}  # a failed run is a result, not a task failure


@task(name="baseline-prepare", **RUN_TASK_OPTIONS)
def prepare_workspace(workspace: str, phase: str, method: str) -> int:
    """Check the workspace and settle interrupted rows; returns the experiments already through the loop."""
    ctx = role_context(workspace, phase)
    prepare(ctx, method)
    return greedy.iterations_done(ctx)


@task(name="greedy-propose", task_run_name="greedy-propose-{n}", **BASELINE_TASK_OPTIONS)
def greedy_propose(workspace: str, n: int, budget: int) -> GreedyStep | None:
    step = greedy.propose(role_context(workspace, greedy.PHASE), n, budget)
    change = f"{step.exp_id}: {step.change}" if step else "no untried change of the best left"
    progress.announce(f"iteration {n + 1}/{budget}: {change}", phase=greedy.PHASE)
    return step


@task(name="greedy-evaluate", task_run_name="greedy-evaluate-{exp_id}", **RUN_TASK_OPTIONS)
def greedy_evaluate(workspace: str, exp_id: str) -> GreedyDecision:
    d = greedy.evaluate(role_context(workspace, greedy.PHASE), exp_id)
    result = f"{d.outcome.value:.6g}" if d.outcome.ok else f"failed ({d.outcome.error_signature})"
    progress.announce(f"{exp_id}: {result}, {'kept' if d.kept else 'reverted'}; best {d.best_id} = {d.best_value}",
                      phase=greedy.PHASE)
    return d


@task(name="usd-spent", **RUN_TASK_OPTIONS)
def usd_spent(workspace: str) -> float:
    campaign = Campaign.load(workspace)
    return UsageLedger(campaign.workspace.usage_log, pricing=campaign.config.pricing).total_usd


@task(name="single-shot-start", **RUN_TASK_OPTIONS)
def single_shot_start(workspace: str) -> str | None:
    return single_shot.start(role_context(workspace, single_shot.PHASE))


@task(name="single-shot-implement", **BASELINE_TASK_OPTIONS)
def single_shot_implement(workspace: str, exp_id: str) -> WorkerOutcome:
    out = single_shot.implement(role_context(workspace, single_shot.PHASE), exp_id)
    progress.announce(f"{exp_id}: the call: {out.detail[:120]}", phase=single_shot.PHASE)
    return out


@task(name="single-shot-retry", **BASELINE_TASK_OPTIONS)
def single_shot_retry(workspace: str, exp_id: str) -> WorkerOutcome:
    out = single_shot.retry(role_context(workspace, single_shot.PHASE), exp_id)
    progress.announce(f"{exp_id}: the retry: {out.detail[:120]}", phase=single_shot.PHASE)
    return out


@task(name="single-shot-run", **RUN_TASK_OPTIONS)
def single_shot_run(workspace: str, exp_id: str, last_chance: bool) -> TrialOutcome:
    o = single_shot.run(role_context(workspace, single_shot.PHASE), exp_id, last_chance)
    metrics = " ".join(f"{k}={v:.6g}" for k, v in o.metrics.items())
    outcome = f"ok: {metrics}" if o.ok else f"failed ({o.error_signature})"
    progress.announce(f"{exp_id}: full run {outcome}", phase=single_shot.PHASE)
    return o


@task(name="baseline-summary", **RUN_TASK_OPTIONS)
def summary(workspace: str) -> WorkspaceSummary:
    return summarize(workspace)
