"""Phase 1: the Explorer writes plan.md, works through it, and leaves learnings.md and data_report/ behind. The
Supervisor check then fails the phase, naming what is missing, unless every plan item is checked."""

from __future__ import annotations

from prefect import flow, get_run_logger

from alphalab import supervisor_checks
from alphalab.adapters import load_adapter
from alphalab.campaign import Campaign
from alphalab.roles.explorer import ExplorerResult
from alphalab.workspace import Workspace
from flows.campaign_runs import on_phase_failure, run_name
from tasks.common import fresh_unless_present
from tasks.setup_roles import campaign_key, explore_data


@flow(name="phase1-explore", flow_run_name=run_name("phase 1"),
      on_failure=[on_phase_failure(1)])
def phase1_explore(workspace: str, refresh_cache: bool = False) -> ExplorerResult:
    ws = Campaign.load(workspace).workspace
    load_adapter(ws.adapter)  # Phase 0's output must be valid before anything runs on it
    role = fresh_unless_present(explore_data, [ws.plan, ws.learnings, ws.data_report], refresh=refresh_cache)
    result = role(workspace, campaign_key(ws))
    stopped = [] if result.finished else [f"the Explorer stopped before report_to_user ({result.reason})"]
    supervisor_checks.require(1, ws, extra=stopped)
    ws.commit("phase 1: exploration")
    get_run_logger().info(f"Phase 1 done: {_summary(ws)}")
    return result


def _summary(ws: Workspace) -> str:
    items = supervisor_checks.plan_items(ws.plan)
    return (f"{len(items)} plan items checked; {len(list(ws.scripts.glob('*')))} scripts, "
            f"{len(list(ws.plots.glob('*')))} plots, {len(list(ws.data_report.glob('*')))} report files")
