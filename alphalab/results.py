"""The result of one evaluated experiment, as a trusted harness hands it to the runner.

It lives at `Workspace.result_file(exp_dir, mode)`, under the workspace's `.private/results/`: outside the experiment
folder and hidden from experiment code under the sandbox. The harness writes it only after every process of the
experiment is dead; the runner removes it before a run and accepts only a file written by that run's harness.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from alphalab.workspace import Workspace


class RunResult(BaseModel):
    model_config = ConfigDict(extra="forbid")

    status: Literal["ok", "failed"] = Field(description="ok only when every metric can be trusted")
    eval_mode: Literal["smoke", "full"] = Field(description="the mode the run was started in")
    metrics: dict[str, float] = Field(default_factory=dict,
                                      description="keyed by the manifest's metric names, the primary among them")
    details: dict[str, Any] = Field(default_factory=dict,
                                    description="the domain's own: a per-horizon profile, tokens/s, timings...")
    error: str | None = Field(None, description="what went wrong, for a failed run")
    error_signature: str | None = Field(None, description="a short stable key for grouping failures")
    harness: str = Field("", description="the harness's name")
    seed: int | None = Field(None, description="the run's --seed: a result without it is not this run's")
    wall_seconds: float | None = None

    def write(self, path: Path) -> Path:
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        tmp.write_text(self.model_dump_json(indent=2))
        tmp.replace(path)
        return path

    @classmethod
    def read_file(cls, path: Path) -> "RunResult | None":
        path = Path(path)
        if not path.is_file() or path.is_symlink():
            return None
        try:
            return cls.model_validate(json.loads(path.read_text()))
        except (ValueError, json.JSONDecodeError):
            return None


def read_result(workspace: Workspace, exp_dir: Path, mode: str) -> RunResult | None:
    """The harness's last result for `exp_dir` in `mode` (no freshness check: the runner does that)."""
    return RunResult.read_file(workspace.result_file(exp_dir, mode))
