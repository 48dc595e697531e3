"""The campaign: Phase 0 (adapter), Phase 1 (explore), Phase 2 (evaluation), then Phase 3 (experiments), each a
subflow working on one workspace. Role tasks cache on their inputs and source with persisted results, so retrying a
failed campaign run replays the finished phases from cache and reruns only what failed."""

from __future__ import annotations

from prefect import flow, get_run_logger
from pydantic import BaseModel

from alphalab import progress
from alphalab.campaign import Campaign
from alphalab.config import ROLES, CampaignConfig
from alphalab.cost import UsageLedger
from flows.phase0_adapter import phase0_adapter
from flows.phase1_explore import phase1_explore
from flows.phase2_evaluation import phase2_evaluation
from flows.phase3_experiments import phase3_experiments


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


@flow(name="campaign")
def campaign(config: str, workspace: str | None = None, stop_after: int = 3) -> CampaignSummary:
    """Run a campaign from its YAML. `stop_after` ends it after that phase (0-3)."""
    opened = Campaign.open(config, workspace)
    cfg, ws = opened.config, opened.workspace
    path = str(ws.root)
    baseline = baseline_roles(cfg)
    _say(f"campaign {cfg.name!r} in {path}")
    _say("roles on the baseline policy (no LLM): " + (", ".join(baseline) or "none"))
    done: list[int] = []
    for n, phase in enumerate((phase0_adapter, phase1_explore, phase2_evaluation, phase3_experiments)):
        if n > stop_after:
            break
        phase(path)
        done.append(n)
    cost = UsageLedger(ws.usage_log, pricing=cfg.pricing).total_usd
    _say(f"campaign {cfg.name!r}: phases {done} done; model spend ${cost:.4f}")
    return CampaignSummary(name=cfg.name, workspace=path, phases_done=done, cost_usd=cost)
