"""The single-shot baseline (the paper's section 3, a lower bound): one call writes the experiment, with one retry.

The call is a Phase 3 Worker `implement` (the worker's model with the adapter's worker prompt, or the template
rendered with the search space's reference without a model), checked by the trusted smoke test. When the smoke test
or the full run fails, the one retry is a Worker `fix` that sees the error (without a model: the search space's
fallback overrides). A second failure ends the experiment dead.
"""

from __future__ import annotations

from alphalab.roles.baselines.trial import ROLE, TrialOutcome, run_full
from alphalab.roles import worker
from alphalab.roles.base import RoleContext
from alphalab.phase3.contracts import WorkerOutcome

METHOD = "single shot"
PHASE = "single-shot"
NAME = "single shot"


def start(ctx: RoleContext) -> str | None:
    """The one experiment's row; None when the workspace already holds a finished single shot (the flow was rerun:
    an interrupted attempt was cancelled by `prepare` and starts afresh)."""
    if ctx.board.select("done", "dead", kind="experiment"):
        return None
    space = ctx.manifest.search_space
    # a model designs the experiment itself; the policy has only the template's reference to offer
    spec = {"params": space.reference_params()} if space and not ctx.uses_llm(ROLE) else {}
    exp = ctx.board.add(name=NAME, spec=spec, hypothesis="one call writes the experiment; one retry on failure")
    ctx.board.update(exp.id, seed=ctx.seed_for(exp.seq))
    ctx.exp_dir(exp.id).mkdir(parents=True, exist_ok=True)
    return exp.id


def implement(ctx: RoleContext, exp_id: str) -> WorkerOutcome:
    """The single call, then the smoke test: the experiment ends queued, or failed with the error for the retry."""
    out = worker.implement(ctx, exp_id)
    if out.ok:
        ctx.board.transition(exp_id, "implemented")
        ctx.board.transition(exp_id, "checked", note=out.detail[:300])
        ctx.board.transition(exp_id, "queued")
    else:
        ctx.board.transition(exp_id, "failed", error_signature=out.error_signature, note=out.detail[-500:])
    ctx.log(f"single shot {exp_id}: {out.detail[:200]}")
    return out


def retry(ctx: RoleContext, exp_id: str) -> WorkerOutcome:
    """The one retry of a failed experiment: queued again when its smoke test passes, dead otherwise."""
    out = worker.fix(ctx, exp_id)
    attempts = ctx.board.get(exp_id).attempts + 1
    if out.spec is not None:
        ctx.board.update(exp_id, spec=out.spec)
    if out.ok:
        ctx.board.transition(exp_id, "checked", attempts=attempts, note=f"retry: {out.detail[:300]}")
        ctx.board.transition(exp_id, "queued")
    else:
        ctx.board.transition(exp_id, "dead", attempts=attempts, note=f"retry failed: {out.detail[-300:]}")
    ctx.log(f"single shot {exp_id}: retry {'passed its smoke test' if out.ok else 'failed'}")
    return out


def run(ctx: RoleContext, exp_id: str, last_chance: bool) -> TrialOutcome:
    """The full evaluation; with the retry spent (`last_chance`), a failure is final."""
    outcome = run_full(ctx, exp_id)
    if not outcome.ok and last_chance:
        ctx.board.transition(exp_id, "dead", note=f"run failed after the retry ({outcome.error_signature})")
    return outcome

