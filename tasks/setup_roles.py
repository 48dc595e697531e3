"""Prefect tasks for the Phase 0–2 roles: one task per role invocation.

Each task takes the workspace folder plus a campaign key (the workspace's first git commit) so the inputs+source
cache never hands one workspace's results to another, nor to a workspace recreated at the same path. Editing the
config of a running campaign (say, its Phase 3 budget) does not invalidate the finished phases; `alphalab
rerun-phase N` recomputes one on purpose. Retries cover transient provider errors only; results persist, so
retrying a failed campaign run replays the finished roles from cache.
"""

from __future__ import annotations

from typing import Callable, TypeVar

from prefect import get_run_logger, task
from prefect.cache_policies import NO_CACHE

from alphalab import progress, reference_check
from alphalab.adapters import ResolvedAdapter
from alphalab.campaign import Campaign
from alphalab.roles import builder, critic, customizer, explorer, generator, tester
from alphalab.roles.base import RoleContext
from alphalab.roles.builder import BuilderInput, BuildResult
from alphalab.roles.critic import CriticInput, Review
from alphalab.roles.explorer import ExplorerResult
from alphalab.reference_check import ReferenceCheck
from alphalab.roles.tester import TesterInput, TestReport
from alphalab.workspace import Workspace
from tasks.common import ROLE_TASK_OPTIONS, role_context

T = TypeVar("T")


def campaign_key(ws: Workspace) -> str:
    return ws.git("rev-list", "--max-parents=0", "HEAD").stdout.split()[0]


def _run_role(workspace: str, phase: str, role: str, fn: Callable[[RoleContext], T]) -> T:
    ctx = role_context(workspace, phase)
    settings = ctx.model_settings(role)
    policy = f"{settings.provider}:{settings.model}" if ctx.uses_llm(role) else "baseline policy"
    progress.emit(progress.ProgressEvent(phase=phase, role=role, cost_usd=ctx.ledger.total_usd,
                                         detail=f"start ({policy})"))
    out = fn(ctx)
    progress.emit(progress.ProgressEvent(phase=phase, role=role, cost_usd=ctx.ledger.total_usd, detail="done"))
    return out


# campaign_key is unused in the bodies on purpose: it is part of the cache key.
@task(name="customizer", **ROLE_TASK_OPTIONS)
def customize_adapter(workspace: str, campaign_key: str) -> ResolvedAdapter:
    return _run_role(workspace, "phase0", "customizer", customizer.customize)


@task(name="generator", **ROLE_TASK_OPTIONS)
def generate_adapter(workspace: str, campaign_key: str) -> ResolvedAdapter:
    return _run_role(workspace, "phase0", "generator", generator.generate)


@task(name="explorer", **ROLE_TASK_OPTIONS)
def explore_data(workspace: str, campaign_key: str) -> ExplorerResult:
    return _run_role(workspace, "phase1", "explorer", explorer.explore)


@task(name="builder", task_run_name="builder-round-{request.round}", **ROLE_TASK_OPTIONS)
def build_harness(workspace: str, campaign_key: str, request: BuilderInput) -> BuildResult:
    return _run_role(workspace, "phase2", "builder", lambda ctx: builder.build(ctx, request))


@task(name="critic", task_run_name="critic-round-{request.round}", **ROLE_TASK_OPTIONS)
def review_harness(workspace: str, campaign_key: str, request: CriticInput) -> Review:
    return _run_role(workspace, "phase2", "critic", lambda ctx: critic.review(ctx, request))


@task(name="tester", **ROLE_TASK_OPTIONS)
def test_harness(workspace: str, campaign_key: str, request: TesterInput) -> TestReport:
    return _run_role(workspace, "phase2", "tester", lambda ctx: tester.test(ctx, request))


# never cached: the gate holds only on a result the harness recorded just now
@task(name="reference-check", task_run_name="reference-check-{label}", cache_policy=NO_CACHE)
def check_reference(workspace: str, label: str) -> ReferenceCheck:
    """The Phase 2 gate: the reference experiment through the smoke and full commands (alphalab.reference_check)."""
    campaign = Campaign.load(workspace)
    progress.emit(progress.ProgressEvent(phase="phase2", role="reference", detail="smoke and full runs"))
    out = reference_check.check(campaign)
    reference_check.save(campaign.workspace, out)
    verdict = (f"passed: full {out.primary}={out.results['full'].metrics[out.primary]:.6g}" if out.passed
               else "FAILED: " + "; ".join(out.problems))
    get_run_logger().info(f"reference experiment ({label}): {verdict}")
    progress.emit(progress.ProgressEvent(phase="phase2", role="reference", detail=verdict[:200]))
    return out
