"""What every Phase 3 piece shares: the workspace's adapter and manifest, the board, seeds, and the commands that
run an experiment's smoke test and full evaluation."""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

from pydantic import BaseModel, Field

from alphalab.adapters import Adapter, load_adapter
from alphalab.board import Board, Experiment
from alphalab.config import CampaignConfig
from alphalab.execution import RunRequest, harness_command
from alphalab.manifest import Manifest, Metric
from alphalab.workspace import Workspace

# written by a domain's harness (harnesses/base/noise.py): `spread` of the reference config over seeds
NOISE_FLOOR_FILE = "noise_floor.json"
VERIFY_SEED_OFFSET = 10_000


class StrategistInput(BaseModel):
    turn: int
    proposals_wanted: int = Field(ge=0)
    budget_left: int = Field(ge=0)
    usd_spent: float = 0.0


class StrategistOutput(BaseModel):
    proposed: list[str] = Field(default_factory=list)
    cancelled: list[str] = Field(default_factory=list)
    playbook_updated: bool = False
    seen_debriefs: list[str] = Field(default_factory=list)
    prompt_chars: int = 0
    report: str = ""


def read_noise_floor(ws: Workspace) -> float | None:
    path = ws.root / NOISE_FLOOR_FILE
    if not path.is_file():
        return None
    try:
        return float(json.loads(path.read_text())["spread"])
    except (ValueError, KeyError, TypeError):
        return None


@dataclass
class Phase3Env:
    config: CampaignConfig
    workspace: Workspace

    @cached_property
    def adapter(self) -> Adapter:
        return load_adapter(self.workspace.adapter)

    @property
    def manifest(self) -> Manifest:
        return self.adapter.manifest

    @property
    def metric(self) -> Metric:
        return self.manifest.primary

    @cached_property
    def board(self) -> Board:
        return Board(self.workspace.board_db, noise_floor=read_noise_floor(self.workspace))

    def progress_summary(self) -> str:
        """One line for the terminal: how far the campaign is and its best result."""
        best = self.board.best(self.metric)
        shown = f"best {self.metric.name} {best.value:.6g}" if best else "no result yet"
        return f"{self.board.analyzed_count()}/{self.config.budgets.experiments} analyzed, {shown}"

    def exp_dir(self, exp_id: str) -> Path:
        return self.workspace.experiment(exp_id)

    def seed_for(self, seq: int, verify: bool = False) -> int:
        return self.config.seed + seq + (VERIFY_SEED_OFFSET if verify else 0)

    def command(self, template: str, exp: Experiment, mode: str) -> str:
        return harness_command(template, self.workspace, self.exp_dir(exp.id), mode,
                               exp.seed if exp.seed is not None else self.config.seed, self.config.data_path)

    def full_timeout_s(self) -> float:
        return self.config.execution.experiment_timeout_s or self.manifest.experiment.time_limit_s

    def run_request(self, exp: Experiment, slot: str, mode: str = "full") -> RunRequest:
        spec = self.manifest.experiment
        template = spec.full_command if mode == "full" else spec.smoke_command
        return RunRequest(
            exp_id=exp.id, attempt=exp.attempts, mode=mode, seed=exp.seed if exp.seed is not None else 0, slot=slot,
            command=self.command(template, exp, mode), exp_dir=self.exp_dir(exp.id), workspace=self.workspace.root,
            timeout_s=self.full_timeout_s() if mode == "full" else spec.smoke_time_limit_s,
            launch=f"{exp.started_at:.3f}" if exp.started_at else "",
        )
