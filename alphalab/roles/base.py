"""What every role gets: the campaign (config, workspace, adapter, board), a logger, the usage ledger, and the
settings of its model.

A role module exposes plain functions (LLM and baseline variants) taking a RoleContext and a typed input (the
contracts of alphalab.phase3.contracts in Phase 3), returning a typed output. A task in `tasks/` builds the
context once and passes it in; nothing here knows about Prefect.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from alphalab.campaign import Campaign
from alphalab.config import AgentLimits, ModelSettings
from alphalab.cost import UsageLedger

_log = logging.getLogger("alphalab")


@dataclass
class RoleContext(Campaign):
    # the Prefect task's run logger is passed here by tasks/, so every agent step reaches the UI
    log: Callable[[str], None] = _log.info
    phase: str = ""
    ledger: UsageLedger | None = None

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
