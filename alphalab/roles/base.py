"""What every role gets: the campaign, the workspace, a logger, the usage ledger, and one way to run an LLM turn.

A role module exposes plain functions (LLM and baseline variants) taking a RoleContext and a typed input, returning a
typed output. Tasks in `tasks/` wrap them; nothing here knows about Prefect.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from alphalab.config import AgentLimits, CampaignConfig, ModelSettings
from alphalab.workspace import Workspace

_log = logging.getLogger("alphalab")


@dataclass
class RoleContext:
    config: CampaignConfig
    workspace: Workspace
    # the Prefect task's run logger is passed here by tasks/, so every agent step reaches the UI
    log: Callable[[str], None] = _log.info
    phase: str = ""
    ledger: Any = None  # alphalab.cost.UsageLedger
    extras: dict[str, Any] = field(default_factory=dict)

    def model_settings(self, role: str) -> ModelSettings:
        return self.config.models.for_role(role)

    def uses_llm(self, role: str) -> bool:
        return self.model_settings(role).provider != "baseline"

    @property
    def limits(self) -> AgentLimits:
        return self.config.agent_limits

    def trajectory_path(self, role: str, label: str) -> Path:
        self.workspace.trajectories.mkdir(parents=True, exist_ok=True)
        return self.workspace.trajectories / f"{self.phase or 'x'}-{role}-{label}.jsonl"
