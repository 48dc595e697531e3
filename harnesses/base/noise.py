"""The noise floor: the spread of one seeded reference configuration over several seeds.

A domain's harness measures it once per campaign and writes `WS/noise_floor.json`; the leaderboard flags gains
smaller than `spread`.
"""

from __future__ import annotations

import statistics
from pathlib import Path

from pydantic import BaseModel, Field

from alphalab.results import RunResult
from alphalab.workspace import Workspace

NOISE_FLOOR_FILE = "noise_floor.json"


class NoiseFloor(BaseModel):
    metric: str
    seeds: list[int]
    values: list[float] = Field(description="the primary metric of each seed's full evaluation, in seed order")
    mean: float
    std: float
    spread: float = Field(description="max - min over seeds: a gain smaller than this is inside the noise")
    params: dict[str, str | int | float | bool] = Field(default_factory=dict)

    @classmethod
    def from_results(cls, metric: str, seeds: list[int], results: list[RunResult],
                     params: dict | None = None) -> "NoiseFloor":
        bad = [(s, r.error) for s, r in zip(seeds, results) if r.status != "ok" or metric not in r.metrics]
        if bad:
            raise ValueError(f"noise floor: runs failed for seeds {bad}")
        values = [r.metrics[metric] for r in results]
        return cls(metric=metric, seeds=list(seeds), values=values, mean=statistics.fmean(values),
                   std=statistics.stdev(values) if len(values) > 1 else 0.0,
                   spread=max(values) - min(values), params=params or {})

    def write(self, workspace: Workspace) -> Path:
        path = workspace.root / NOISE_FLOOR_FILE
        path.write_text(self.model_dump_json(indent=2))
        return path

    @classmethod
    def read(cls, workspace: Workspace) -> "NoiseFloor | None":
        path = workspace.root / NOISE_FLOOR_FILE
        return cls.model_validate_json(path.read_text()) if path.is_file() else None
