"""The campaign: Phase 0 (adapter), Phase 1 (explore), Phase 2 (evaluation), then Phase 3 (experiments), each a
subflow working on one workspace. Role tasks cache on their inputs and source with persisted results, so retrying a
failed campaign run replays the finished phases from cache and reruns only what failed."""

from __future__ import annotations

import importlib

from prefect import flow, get_run_logger
from pydantic import BaseModel

from alphalab import progress
from alphalab.campaign import open_campaign
from alphalab.config import ROLES, CampaignConfig
from alphalab.cost import UsageLedger
from flows.phase0_adapter import phase0_adapter
from flows.phase1_explore import phase1_explore
from flows.phase2_evaluation import phase2_evaluation

PHASE3_MODULE = "flows.phase3_experiments"


class CampaignSummary(BaseModel):
    name: str
    workspace: str
    phases_done: list[int]
    cost_usd: float
    note: str = ""


def phase3_flow():
    """The Phase 3 flow, or None while it is not installed."""
    try:
        module = importlib.import_module(PHASE3_MODULE)
    except ModuleNotFoundError as e:
        if e.name != PHASE3_MODULE:
            raise
        return None
    return module.phase3_experiments


def baseline_roles(config: CampaignConfig) -> list[str]:
    return [r for r in ROLES if config.models.for_role(r).provider == "baseline"]


def _say(text: str) -> None:
    get_run_logger().info(text)
    progress.announce(text)


@flow(name="campaign")
def campaign(config: str, workspace: str | None = None, stop_after: int = 3) -> CampaignSummary:
    """Run a campaign from its YAML. `stop_after` ends it after that phase (0-3)."""
    cfg, ws = open_campaign(config, workspace)
    path = str(ws.root)
    baseline = baseline_roles(cfg)
    _say(f"campaign {cfg.name!r} in {path}")
    _say("roles on the baseline policy (no LLM): " + (", ".join(baseline) or "none"))
    done: list[int] = []
    for n, phase in enumerate((phase0_adapter, phase1_explore, phase2_evaluation)):
        if n > stop_after:
            break
        phase(path)
        done.append(n)
    note = ""
    if stop_after >= 3:
        phase3 = phase3_flow()
        if phase3 is None:
            note = "Phase 3 (experiments) is not available in this installation: the campaign ends after Phase 2"
            _say(note)
        else:
            phase3(path)
            done.append(3)
    cost = UsageLedger(ws.usage_log, pricing=cfg.pricing).total_usd
    _say(f"campaign {cfg.name!r}: phases {done} done; model spend ${cost:.4f}")
    return CampaignSummary(name=cfg.name, workspace=path, phases_done=done, cost_usd=cost, note=note)
