"""The noise floor: the spread of one seeded reference configuration over several seeds.

`measure_noise_floor` renders the adapter's experiment template with the reference params once per seed (into
`WS/noise_floor/seed_<n>/`), runs the manifest's full command on each, and writes `WS/noise_floor.json`. The board
reads its `spread` and flags leaderboard gains smaller than it. Works for any domain whose adapter has a template.
"""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from pathlib import Path

from pydantic import BaseModel, Field

from alphalab.results import RunResult
from alphalab.workspace import Workspace

NOISE_FLOOR_FILE = "noise_floor.json"
NOISE_DIR = "noise_floor"


class NoiseFloor(BaseModel):
    metric: str
    seeds: list[int]
    values: list[float] = Field(description="the primary metric of each seed's full evaluation, in seed order")
    mean: float
    std: float
    spread: float = Field(description="max - min over seeds: a gain smaller than this is inside the noise")
    params: dict[str, str | int | float | bool] = Field(default_factory=dict)

    @classmethod
    def from_results(cls, metric: str, seeds: Sequence[int], results: Sequence[RunResult],
                     params: dict | None = None) -> "NoiseFloor":
        bad = [f"seed {s}: {r.error or 'no ' + metric}" for s, r in zip(seeds, results)
               if r.status != "ok" or metric not in r.metrics]
        if bad:
            raise ValueError("noise floor: reference runs failed: " + "; ".join(bad))
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


def evaluate_params(workspace: Workspace, params: dict, exp_dir: Path, *, seed: int = 0, label: str = "reference",
                    data: Path | None = None, timeout_s: float | None = None) -> RunResult:
    """Render the adapter's template with `params` into `exp_dir` and run the manifest's full evaluation once.

    `data` defaults to the data_path of `WS/campaign.yaml`. A run that leaves no result is a failed RunResult.
    """
    from alphalab.adapters import load_adapter
    from alphalab.execution import RunRequest, execute, harness_command
    from harnesses.base.cli import load_campaign
    from alphalab.experiment_template import TemplateExperiment, render_template_dir

    adapter = load_adapter(workspace.adapter)
    spec = adapter.manifest.experiment
    if not spec.template_dir:
        raise ValueError(f"adapter {adapter.manifest.name!r} has no experiment template to evaluate {label} with")
    campaign = load_campaign(workspace)
    if data is None:
        if campaign is None:
            raise ValueError(f"no dataset: pass data= or put a campaign config at {workspace.config_copy}")
        data = campaign.data_path
    limit = timeout_s or (campaign.execution.experiment_timeout_s if campaign else None) or spec.time_limit_s
    render_template_dir(adapter.root / spec.template_dir, exp_dir, params,
                      TemplateExperiment(id=Path(exp_dir).name, name=label, seed=seed))
    cmd = harness_command(spec.full_command, workspace, exp_dir, "full", seed, data)
    # the one run path of every evaluation: the harness sandboxes the experiment itself
    request = RunRequest(exp_id=Path(exp_dir).name, attempt=0, mode="full", seed=seed, slot="", command=cmd,
                         exp_dir=exp_dir, workspace=workspace.root, timeout_s=limit)
    outcome = execute(request, job_id=f"{label}-seed-{seed}")
    return outcome.result or RunResult(
        status="failed", eval_mode="full", error=f"no result (exit {outcome.returncode}): {outcome.error}")


def measure_noise_floor(
    workspace: Workspace,
    params: dict | None = None,
    seeds: Sequence[int] = (0, 1, 2),
    *,
    data: Path | None = None,
    timeout_s: float | None = None,
) -> NoiseFloor:
    """Full evaluations of `params` (default: the search space's `reference`) under each seed, one after another.

    Raises ValueError when a run fails.
    """
    from alphalab.adapters import load_adapter

    manifest = load_adapter(workspace.adapter).manifest
    if params is None:
        params = dict(manifest.search_space.reference) if manifest.search_space else {}
    results = [evaluate_params(workspace, params, workspace.root / NOISE_DIR / f"seed_{seed}", seed=seed,
                               label="noise floor reference", data=data, timeout_s=timeout_s) for seed in seeds]
    floor = NoiseFloor.from_results(manifest.primary.name, list(seeds), results, params)
    floor.write(workspace)
    return floor
