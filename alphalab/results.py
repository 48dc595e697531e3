"""The result of one evaluated experiment, as written by a trusted harness to `experiments/<id>/metrics.json`.

Experiment code never writes this file: the harness removes any copy before the run and writes its own after.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

RESULT_FILE = "metrics.json"


class RunResult(BaseModel):
    model_config = ConfigDict(extra="forbid")

    status: Literal["ok", "failed"]
    eval_mode: Literal["smoke", "full"]
    metrics: dict[str, float] = Field(default_factory=dict)
    # per-domain details: per-horizon profile, tokens/s, GPU model, timings...
    details: dict[str, Any] = Field(default_factory=dict)
    error: str | None = None
    error_signature: str | None = Field(None, description="short stable key for grouping failures")
    harness: str = ""
    seed: int | None = None
    wall_seconds: float | None = None

    def write(self, exp_dir: Path) -> Path:
        path = Path(exp_dir) / RESULT_FILE
        tmp = path.with_suffix(".tmp")
        tmp.write_text(self.model_dump_json(indent=2))
        tmp.replace(path)
        return path

    @classmethod
    def read(cls, exp_dir: Path) -> "RunResult | None":
        path = Path(exp_dir) / RESULT_FILE
        if not path.is_file():
            return None
        try:
            return cls.model_validate(json.loads(path.read_text()))
        except (ValueError, json.JSONDecodeError):
            return None
