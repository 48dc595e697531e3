"""Full evaluations of fixed parameters, outside the board: the noise floor's reference runs and the demo's
trivial baseline. Each renders the adapter's experiment template and runs the manifest's full command through the
one run path (`execute`), exactly as a Phase 3 run of the same experiment would be.

`measure_noise_floor` renders the reference params once per seed (into `WS/noise_floor/seed_<n>/`), runs each, and
writes `WS/noise_floor.json`. Works for any domain whose adapter has a template.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from alphalab.campaign import Campaign
from alphalab.execution import RunRequest, execute
from alphalab.experiment_template import TemplateExperiment, render_template_dir
from alphalab.harness_contract import cite
from alphalab.harness_inputs import Mode
from alphalab.noise_floor import NoiseFloor
from alphalab.results import RunResult

NOISE_DIR = "noise_floor"


def render_params(campaign: Campaign, params: dict, exp_dir: Path, *, seed: int = 0,
                  label: str = "reference") -> None:
    """Render the adapter's experiment template with `params` into `exp_dir`."""
    spec = campaign.manifest.experiment
    if not spec.template_dir:
        raise ValueError(f"adapter {campaign.manifest.name!r} has no experiment template to evaluate {label} with")
    render_template_dir(campaign.adapter.root / spec.template_dir, exp_dir, params,
                        TemplateExperiment(id=Path(exp_dir).name, name=label, seed=seed))


def run_once(campaign: Campaign, exp_dir: Path, mode: Mode, *, seed: int = 0, label: str = "reference") -> RunResult:
    """Run the manifest's `mode` command on `exp_dir` once, with the campaign's harness inputs, through the one run
    path (the harness sandboxes the experiment itself). A run that leaves no fresh result is a failed RunResult."""
    spec = campaign.manifest.experiment
    command = campaign.filled(spec.full_command if mode == "full" else spec.smoke_command, exp_dir, mode, seed)
    request = RunRequest(exp_id=Path(exp_dir).name, attempt=0, mode=mode, seed=seed, slot="", command=command,
                         exp_dir=exp_dir, workspace=campaign.workspace.root,
                         timeout_s=campaign.harness_inputs.time_limit_s(mode))
    outcome = execute(request, job_id=f"{label}-{mode}-seed-{seed}")
    return outcome.result or RunResult(
        status="failed", eval_mode=mode, seed=seed,
        error=f"the harness recorded no result (exit {outcome.returncode}) {cite(6)}: {outcome.error}",
        error_signature=outcome.error_signature or "no_result")


def evaluate_params(campaign: Campaign, params: dict, exp_dir: Path, *, seed: int = 0,
                    label: str = "reference") -> RunResult:
    """Render the adapter's template with `params` into `exp_dir` and run the manifest's full evaluation once."""
    render_params(campaign, params, exp_dir, seed=seed, label=label)
    return run_once(campaign, exp_dir, "full", seed=seed, label=label)


def measure_noise_floor(campaign: Campaign, params: dict | None = None,
                        seeds: Sequence[int] = (0, 1, 2)) -> NoiseFloor:
    """Full evaluations of `params` (default: the search space's `reference`) under each seed, one after another,
    outside a campaign's board (a campaign measures its own in Phase 3: alphalab.phase3.noise_runs).

    Raises ValueError when a run fails.
    """
    manifest, ws = campaign.manifest, campaign.workspace
    if params is None:
        params = dict(manifest.search_space.reference) if manifest.search_space else {}
    results = [evaluate_params(campaign, params, ws.root / NOISE_DIR / f"seed_{seed}", seed=seed,
                               label="noise floor reference") for seed in seeds]
    floor = NoiseFloor.from_results(manifest.primary.name, list(seeds), results, params)
    floor.write(ws)
    return floor
