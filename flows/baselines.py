"""The comparison baselines as flows, on a workspace whose Phases 0-2 are done (the paper runs Phase 2 once and
copies the harness to every run of a domain). Both record their experiments on the workspace's board, so
`alphalab compare` sets them beside a campaign. The worker role's model drives them; with none, the baseline policy.
"""

from __future__ import annotations

from prefect import flow, get_run_logger

from alphalab.roles.baselines import greedy
from alphalab.roles.baselines import single_shot as shot
from alphalab.campaign import Campaign
from alphalab.compare import WorkspaceSummary
from tasks.baselines import (
    greedy_evaluate, greedy_propose, prepare_workspace, single_shot_implement, single_shot_retry, single_shot_run,
    single_shot_start, summary, usd_spent,
)


@flow(name="greedy-loop")
def greedy_loop(workspace: str, budget: int | None = None) -> WorkspaceSummary:
    """Change the best experiment, run the change, keep it if the primary metric improves, revert otherwise; for
    `budget` experiments (default: the campaign's experiment budget, as the paper gives both the same), or until
    the USD budget is spent or no untried change of the best is left."""
    config = Campaign.load(workspace).config
    log = get_run_logger()
    budget = budget or config.budgets.experiments
    done = prepare_workspace(workspace, greedy.PHASE, greedy.METHOD)
    for n in range(done, budget):
        if usd_spent(workspace) >= config.budgets.usd:
            log.info(f"greedy loop: the USD budget (${config.budgets.usd}) is spent after {n} experiments")
            break
        step = greedy_propose(workspace, n, budget)
        if step is None:
            log.info(f"greedy loop: converged after {n} experiments (no untried change of the best left)")
            break
        if step.ready:
            decision = greedy_evaluate(workspace, step.exp_id)
            log.info(f"iteration {n + 1}/{budget}: {step.change!r} -> {'kept' if decision.kept else 'reverted'}; "
                     f"best {decision.best_id} = {decision.best_value}")
    return summary(workspace)


@flow(name="single-shot")
def single_shot(workspace: str) -> WorkspaceSummary:
    """One call writes the experiment; when its smoke test or its run fails, one retry sees the error."""
    prepare_workspace(workspace, shot.PHASE, shot.METHOD)
    exp_id = single_shot_start(workspace)
    if exp_id is None:
        get_run_logger().info("single shot: this workspace already holds its finished single shot")
        return summary(workspace)
    retried = False
    out = single_shot_implement(workspace, exp_id)
    if not out.ok:
        out, retried = single_shot_retry(workspace, exp_id), True
    if out.ok:
        trial = single_shot_run(workspace, exp_id, last_chance=retried)
        if not trial.ok and not retried:
            if single_shot_retry(workspace, exp_id).ok:
                single_shot_run(workspace, exp_id, last_chance=True)
    return summary(workspace)

