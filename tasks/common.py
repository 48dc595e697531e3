"""Options every role task shares: retry only transient provider errors, persist results, cache on inputs + source."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from prefect import Task, get_run_logger
from prefect.cache_policies import INPUTS, TASK_SOURCE
from prefect.client.schemas.objects import TaskRun
from prefect.states import State

from alphalab.cost import UsageLedger
from alphalab.models.base import TransientProviderError
from alphalab.roles.base import RoleContext

ROLE_CACHE = INPUTS + TASK_SOURCE


def retry_transient_only(task: Task, task_run: TaskRun, state: State) -> bool:
    """A deterministic failure (bad output, failed validation) is not retried: only rate limits, 5xx and timeouts."""
    try:
        state.result()
    except TransientProviderError:
        return True
    except Exception:
        return False
    return False


ROLE_TASK_OPTIONS = dict(
    retries=3,
    retry_delay_seconds=[10, 60, 180],
    retry_condition_fn=retry_transient_only,
    persist_result=True,
    cache_policy=ROLE_CACHE,
)


def _present(path: Path) -> bool:
    return path.is_file() or (path.is_dir() and any(path.iterdir()))


def fresh_unless_present(task: Task, outputs: Sequence[Path], *, refresh: bool = False) -> Task:
    """The role task to call: replayed from cache as usual, but run afresh when asked (a rerun) or when something the
    role wrote is gone, since a cached result would then stand for files the workspace no longer holds."""
    if refresh or not all(_present(p) for p in outputs):
        return task.with_options(refresh_cache=True)
    return task


def role_context(workspace: str, phase: str) -> RoleContext:
    """A role's context inside a task run: the campaign as on disk, logging to the run logger, charging its ledger."""
    ctx = RoleContext.load(workspace, log=get_run_logger().info, phase=phase)
    ctx.ledger = UsageLedger(ctx.workspace.usage_log, pricing=ctx.config.pricing)
    return ctx
