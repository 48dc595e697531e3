"""What a campaign hands its harness: the manifest placeholders whose values come from the campaign config (the
dataset, the sandbox, the time limit, the domain options, the campaign seed), built once from that config.

A harness takes them as explicit command-line arguments and never reads the campaign config itself (DESIGN.md §2):
the trusted core decides them, and a harness stays runnable by hand with flags alone.
"""

from __future__ import annotations

import json
import string
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from alphalab.config import CampaignConfig
from alphalab.manifest import Manifest
from alphalab.sandbox import SandboxConfig

Mode = Literal["smoke", "full"]


class HarnessInputs(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    data: Path = Field(description="the campaign's data_path")
    sandbox: SandboxConfig = SandboxConfig()
    options: dict[str, str | int | float | bool] = Field(default_factory=dict,
                                                         description="the campaign's domain_options")
    campaign_seed: int = Field(0, description="the campaign's seed, e.g. of a data split made once per campaign")
    smoke_time_limit_s: float = Field(gt=0)
    full_time_limit_s: float = Field(gt=0)

    @classmethod
    def of(cls, config: CampaignConfig, manifest: Manifest) -> "HarnessInputs":
        spec = manifest.experiment
        return cls(data=config.data_path, sandbox=config.sandbox, options=config.domain_options,
                   campaign_seed=config.seed, smoke_time_limit_s=spec.smoke_time_limit_s,
                   # a campaign may override the manifest's limit of a full run, not that of the smoke test
                   full_time_limit_s=config.execution.experiment_timeout_s or spec.time_limit_s)

    def time_limit_s(self, mode: Mode) -> float:
        return self.full_time_limit_s if mode == "full" else self.smoke_time_limit_s

    def missing_from(self, command: str) -> list[str]:
        """The campaign's sandbox settings `command` would drop: a harness not handed `{sandbox}` or `{network}`
        runs with its defaults (auto, no network), so a campaign set to a strict sandbox would silently lose it."""
        passed = {f for _, f, _, _ in string.Formatter().parse(command) if f is not None}
        defaults = SandboxConfig()
        wanted = {"sandbox": self.sandbox.mode != defaults.mode, "network": self.sandbox.allow_network}
        return [name for name, needed in wanted.items() if needed and name not in passed]

    def placeholders(self, mode: Mode) -> dict[str, object]:
        """The values of the campaign's placeholders (alphalab.manifest.PLACEHOLDERS) for a run in `mode`."""
        return {
            "data": Path(self.data).resolve(),
            "sandbox": self.sandbox.mode,
            "network": "on" if self.sandbox.allow_network else "off",
            "time_limit": self.time_limit_s(mode),
            "options": json.dumps(self.options, sort_keys=True, separators=(",", ":")),
            "campaign_seed": self.campaign_seed,
        }
