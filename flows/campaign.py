"""The campaign: Phase 0 (adapter), Phase 1 (explore), Phase 2 (evaluation), then Phase 3 (experiments), each a
subflow working on one workspace. Role tasks cache on their inputs and source with persisted results, so retrying a
failed campaign run replays the finished phases from cache and reruns only what failed. `workspace` may be a
template, and one run at a time holds a workspace (flows/campaign_workspace.py)."""

from __future__ import annotations

from pathlib import Path

from prefect import flow, get_run_logger, tags
from prefect.runtime import flow_run
from pydantic import BaseModel

from alphalab import progress
from alphalab.campaign import Campaign
from alphalab.config import ROLES, CampaignConfig, load_config
from alphalab.cost import UsageLedger
from flows.phase0_adapter import phase0_adapter
from flows.phase1_explore import phase1_explore
from flows.phase2_evaluation import phase2_evaluation
from flows.phase3_experiments import phase3_experiments
from flows.campaign_runs import campaign_tag, run_name
from flows.campaign_workspace import WorkspaceTemplate, fill_workspace, workspace_held
from tasks import events


class CampaignSummary(BaseModel):
    name: str
    workspace: str
    phases_done: list[int]
    cost_usd: float


def baseline_roles(config: CampaignConfig) -> list[str]:
    return [r for r in ROLES if config.models.for_role(r).provider == "baseline"]


def _say(text: str) -> None:
    get_run_logger().info(text)
    progress.announce(text)


@flow(name="campaign", flow_run_name=run_name("campaign"))
def campaign(config: str, workspace: WorkspaceTemplate | None = None, stop_after: int = 3) -> CampaignSummary:
    """Run a campaign from its YAML. `stop_after` ends it after that phase (0-3)."""
    cfg = load_config(config)
    if workspace is not None:
        workspace = fill_workspace(workspace, cfg.name, flow_run.get_scheduled_start_time())
    root = Path(workspace) if workspace else cfg.workspace_dir()
    with workspace_held(root):
        opened = Campaign.open(config, root)
        cfg, ws = opened.config, opened.workspace
        path = str(ws.root)
        baseline = baseline_roles(cfg)
        _say(f"campaign {cfg.name!r} in {path}")
        _say("roles on the baseline policy (no LLM): " + (", ".join(baseline) or "none"))
        done: list[int] = []
        with tags(campaign_tag(cfg.name)):  # the phase runs and their task runs carry the campaign's tag
            for n, phase in enumerate((phase0_adapter, phase1_explore, phase2_evaluation, phase3_experiments)):
                if n > stop_after:
                    break
                phase(path)
                done.append(n)
        cost = UsageLedger(ws.usage_log, pricing=cfg.pricing).total_usd
        _say(f"campaign {cfg.name!r}: phases {done} done; model spend ${cost:.4f}")
        events.finished(cfg.name, done, cost)
        return CampaignSummary(name=cfg.name, workspace=path, phases_done=done, cost_usd=cost)
