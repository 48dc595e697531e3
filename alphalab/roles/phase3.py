"""The Phase 3 roles bound in-process to one context, behind the Dispatcher's role interface (Phase3Roles): for
runs without Prefect (tests, benchmarks). The Phase 3 flow binds the same functions as task runs instead
(tasks/experiment_roles.py)."""

from __future__ import annotations

from alphalab.phase3.contracts import Phase3Roles
from alphalab.roles import reporter, strategist, supervisor, worker
from alphalab.roles.base import RoleContext


def local_roles(ctx: RoleContext) -> Phase3Roles:
    return Phase3Roles(
        implement=lambda exp_id: worker.implement(ctx, exp_id),
        analyze=lambda exp_id: worker.analyze(ctx, exp_id),
        fix=lambda exp_id: worker.fix(ctx, exp_id),
        strategist=lambda inp: strategist.run(ctx, inp),
        supervisor=lambda inp: supervisor.run(ctx, inp),
        reporter=lambda n: reporter.write_milestone(ctx, n),
    )
