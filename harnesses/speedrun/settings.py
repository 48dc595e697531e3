"""The knobs of a speedrun evaluation, with the paper's values as defaults.

A campaign overrides them through `domain_options` in its YAML (same names), which reach the harness as `--options`.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

Mode = Literal["smoke", "full"]


class SpeedrunSettings(BaseModel):
    model_config = ConfigDict(extra="ignore")  # domain_options also carries knobs meant for other parts

    budget_s: float = Field(1200.0, gt=0, description="training wall-clock budget in full mode (paper: 20 min)")
    smoke_budget_s: float = Field(20.0, gt=0)
    grace_s: float = Field(30.0, ge=0, description="time after the budget before the training process is killed")
    smoke_grace_s: float = Field(5.0, ge=0)
    param_cap: int = Field(100_000_000, gt=0, description="the largest model the harness accepts (paper: 100M)")
    val_bytes: int = Field(4 * 2**20, gt=0, description="size of the held-out validation split")
    smoke_val_bytes: int = Field(32 * 2**10, gt=0, description="prefix of the validation split scored in smoke mode")
    text_column: str = Field("text", description="column holding the documents in parquet corpora")
    # the logits of one pass are eval_batch_tokens x vocab floats: keep it modest for large vocabularies
    eval_batch_tokens: int = Field(2**15, gt=0, description="tokens per evaluation forward pass")

    def budget(self, mode: Mode) -> float:
        return self.smoke_budget_s if mode == "smoke" else self.budget_s

    def grace(self, mode: Mode) -> float:
        return self.smoke_grace_s if mode == "smoke" else self.grace_s

    def scored_bytes(self, mode: Mode) -> int:
        return min(self.smoke_val_bytes, self.val_bytes) if mode == "smoke" else self.val_bytes
