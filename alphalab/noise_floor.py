"""The noise floor of a campaign (`WS/noise_floor.json`): the spread of one seeded reference configuration over
several seeds. A campaign writes it in Phase 3 (alphalab.phase3.noise_runs), `alphalab.reference_runs` outside one; the board reads its `spread` and flags
leaderboard gains smaller than it."""

from __future__ import annotations

import statistics
from collections.abc import Sequence
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
    # what it was measured on (Campaign.noise_key): a change of harness or data measures it again
    key: str = ""
    baseline_label: str | None = None
    baseline_value: float | None = None

    @classmethod
    def from_results(cls, metric: str, seeds: Sequence[int], results: Sequence[RunResult],
                     params: dict | None = None) -> "NoiseFloor":
        bad = [f"seed {s}: {r.error or 'no ' + metric}" for s, r in zip(seeds, results)
               if r.status != "ok" or metric not in r.metrics]
        if bad:
            raise ValueError("noise floor: reference runs failed: " + "; ".join(bad))
        return cls.of(metric, seeds, [r.metrics[metric] for r in results], params=params or {})

    @classmethod
    def of(cls, metric: str, seeds: Sequence[int], values: Sequence[float], **fields) -> "NoiseFloor":
        """The floor of these values (one per seed); `fields` are the other fields (params, key, baseline)."""
        values = list(values)
        return cls(metric=metric, seeds=list(seeds), values=values, mean=statistics.fmean(values),
                   std=statistics.stdev(values) if len(values) > 1 else 0.0, spread=max(values) - min(values),
                   **fields)

    def write(self, workspace: Workspace) -> Path:
        path = workspace.root / NOISE_FLOOR_FILE
        path.write_text(self.model_dump_json(indent=2))
        return path

    @classmethod
    def read(cls, workspace: Workspace) -> "NoiseFloor | None":
        path = workspace.root / NOISE_FLOOR_FILE
        return cls.model_validate_json(path.read_text()) if path.is_file() else None
