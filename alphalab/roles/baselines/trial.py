"""What both baselines share: checking the workspace is ready, labelling the board, and running one experiment's
full evaluation through the Phase 3 runner's `execute` and the harness with its board transitions."""

from __future__ import annotations

import time

from pydantic import BaseModel

from alphalab import harness_seal
from alphalab.adapters import load_adapter
from alphalab.board import Board
from alphalab.board_rows import PENDING
from alphalab.compare import METHOD_KEY
from alphalab.errors import AdapterError, PhaseFailed
from alphalab.experiment_files import DEBRIEF
from alphalab.execution import RunOutcome, execute, kill_marked_group
from alphalab.phase3.outcomes import record_run
from alphalab.campaign import Campaign
from alphalab.roles import worker
from alphalab.roles.base import RoleContext

ROLE = "worker"


class TrialOutcome(BaseModel):
    exp_id: str
    ok: bool
    value: float | None = None
    metrics: dict[str, float] = {}
    error_signature: str | None = None
    error: str = ""


def policy_label(ctx: RoleContext) -> str:
    settings = ctx.model_settings(ROLE)
    return f"{settings.provider}:{settings.model}" if ctx.uses_llm(ROLE) else "baseline policy"


def prepare(ctx: RoleContext, method: str) -> None:
    """Check Phases 0-2 left an adapter and a harness, label the board, and settle rows a crash left mid-way.

    A row interrupted before its result is cancelled (it does not count against the budget); a failed row that
    never got its verdict is dead; a finished one gets its debrief."""
    ws = ctx.workspace
    problems = [] if any(ws.harness.rglob("*.py")) else ["harness/ holds no Python files (Phase 2 builds it)"]
    try:
        load_adapter(ws.adapter)
    except AdapterError as e:  # it lists every problem, a missing adapter folder included
        problems.insert(0, str(e))
    if problems:
        raise PhaseFailed(f"{method}: {ws.root} is not ready: run Phases 0-2 first (`alphalab run CONFIG "
                          "--stop-after 2`, then `alphalab baseline ... --from` that workspace):\n"
                          + "\n".join(f"  - {p}" for p in problems))
    harness_seal.ensure(ws)
    label = f"{method} ({policy_label(ctx)})"
    ctx.board.set_meta(METHOD_KEY, label)
    for exp in ctx.board.select(*PENDING, "running", kind="experiment"):
        # a run that outlived the crashed flow would still hold its slot
        request = ctx.run_request(exp, slot="")
        kill_marked_group(request.pid_file, request.marker)
        ctx.board.cancel(exp.id, f"interrupted before its result; {method} resumed")
    for exp in ctx.board.select("failed", kind="experiment"):
        ctx.board.transition(exp.id, "dead", note=f"{exp.note}; {method} resumed".strip("; "))
    for exp in ctx.board.select("finished", kind="experiment"):
        debrief(ctx, exp.id)


def queue_without_smoke(board: Board, exp_id: str, reason: str) -> None:
    """implemented -> checked -> queued for a loop that runs the full evaluation as its only check."""
    if board.get(exp_id).state == "to_implement":
        board.transition(exp_id, "implemented")
    board.transition(exp_id, "checked", note=f"no smoke test: {reason}")
    board.transition(exp_id, "queued")


def debrief(env: Campaign, exp_id: str) -> None:
    """A templated debrief (no model call), then analyzed -> done: the result enters the leaderboard."""
    exp = env.board.get(exp_id)
    (env.exp_dir(exp_id) / DEBRIEF).write_text(worker.debrief_markdown(env, exp))
    env.board.transition(exp_id, "analyzed")
    env.board.transition(exp_id, "done")


def _run(env: Campaign, exp_id: str) -> RunOutcome:
    # one run at a time, waited for: run it in this process (`execute` enforces the time limit and always returns)
    slot = env.config.execution.gpu_slots[0]
    job_id = f"local-{exp_id}-{env.board.get(exp_id).attempts}"
    exp = env.board.transition(exp_id, "running", expect="queued", slot=slot, started_at=time.time(), job_id=job_id)
    return execute(env.run_request(exp, slot), job_id)


def run_full(env: Campaign, exp_id: str) -> TrialOutcome:
    """Run a queued experiment's full evaluation; it ends done (result on the leaderboard) or failed."""
    o = _run(env, exp_id)
    record_run(env, env.board.get(exp_id), o, log=lambda line: None)
    if not o.ok:
        return TrialOutcome(exp_id=exp_id, ok=False, error_signature=o.error_signature, error=o.error)
    assert o.result is not None
    debrief(env, exp_id)
    return TrialOutcome(exp_id=exp_id, ok=True, value=o.result.metrics.get(env.metric.name),
                        metrics=o.result.metrics)
