"""The Phase 2 gate: a harness passes only by producing a result. The reference experiment (the search space's
`reference` rendered from the experiment template) runs through the manifest's smoke command, then its full
command, on the one run path Phase 3 uses (`execute`, which accepts only a result the harness recorded during that
very run, outside the experiment folder). The gate holds when the full result is ok and carries the primary metric
as a finite number (harness contract §8 and §9).

The check records the hashes of the harness code it ran against, so the phase can tell whether a later change (the
Tester fixing a harness bug) calls for running it again. What the Critic and the Tester are shown (`markdown`) holds
nothing that changes between two runs of the same harness, so a replayed phase keeps its cached reviews.
"""

from __future__ import annotations

import hashlib
import json
import math
import shutil
from pathlib import Path

from pydantic import BaseModel

from alphalab import harness_seal
from alphalab.campaign import Campaign
from alphalab.experiment_files import log_name
from alphalab.harness_contract import cite
from alphalab.harness_inputs import Mode
from alphalab.manifest import Value
from alphalab.reference_runs import render_params, run_once
from alphalab.results import RunResult
from alphalab.workspace import Workspace

MODES: tuple[Mode, ...] = ("smoke", "full")
FOLDER = "reference"  # under reviews/, with Phase 2's other verdicts


def reference_dir(ws: Workspace) -> Path:
    return ws.reviews / FOLDER


def harness_code(ws: Workspace) -> dict[str, str]:
    """The hashes of what the check ran against: the harness and the manifest, the harness's own tests aside."""
    tests = ws.harness_tests.relative_to(ws.root).as_posix() + "/"
    return {f: h for f, h in harness_seal.hashes(ws).items() if not f.startswith(tests)}


class ReferenceCheck(BaseModel):
    params: dict[str, Value]
    primary: str
    results: dict[str, RunResult] = {}  # by mode, in the order run; full is missing when smoke failed
    problems: list[str] = []
    harness: dict[str, str] = {}

    @property
    def passed(self) -> bool:
        return not self.problems

    @property
    def digest(self) -> str:
        return hashlib.sha256(json.dumps(self.harness, sort_keys=True).encode()).hexdigest()[:16]

    def current(self, ws: Workspace) -> bool:
        """Whether it ran against the harness as it is now."""
        return self.harness == harness_code(ws)

    def markdown(self) -> str:
        lines = [f"Reference parameters: `{self.params}`; folder reviews/{FOLDER}/ "
                 f"(logs {', '.join(log_name(m) for m in self.results)})."]
        for mode, result in self.results.items():
            metrics = ", ".join(f"{k}={v:.6g}" for k, v in result.metrics.items()) or "no metrics"
            lines.append(f"- {mode}: {result.status}, {metrics}"
                         + (f"; {result.error_signature}: {result.error[-1500:]}" if result.error else ""))
        lines += [f"- problem: {p}" for p in self.problems]
        lines.append(f"Verdict: {'the harness recorded the primary metric' if self.passed else 'FAILED'} "
                     f"({self.primary}).")
        return "\n".join(lines) + "\n"


def _problems(results: dict[str, RunResult], primary: str) -> list[str]:
    for mode in MODES:
        result = results.get(mode)
        if result is None:
            continue
        if result.status != "ok":
            return [f"the reference experiment's {mode} run failed ({result.error_signature}): "
                    f"{(result.error or '').strip()[-1500:]} (reviews/{FOLDER}/{log_name(mode)}) {cite(9)}"]
    full = results["full"]
    value = full.metrics.get(primary)
    if value is None:
        return [f"the reference experiment's full result has no `{primary}`, the manifest's primary metric (it "
                f"recorded: {', '.join(full.metrics) or 'no metrics'}): the leaderboard would stay empty {cite(8)}"]
    if not math.isfinite(value):
        return [f"the reference experiment's full result has {primary}={value}, not a finite number {cite(8)}"]
    return []


def check(campaign: Campaign) -> ReferenceCheck:
    """Render the reference into reviews/reference/ (afresh: nothing an earlier round left there counts), then run
    smoke and, when it passed, full."""
    manifest, ws = campaign.manifest, campaign.workspace
    params = manifest.search_space.reference_params() if manifest.search_space else {}
    out = ReferenceCheck(params=params, primary=manifest.primary.name, harness=harness_code(ws))
    if not manifest.experiment.template_dir:
        out.problems.append("manifest.yaml: `experiment.template_dir` is not set, so there is no reference "
                            f"experiment to run through the harness {cite(9)}")
        return out
    exp_dir = reference_dir(ws)
    shutil.rmtree(exp_dir, ignore_errors=True)
    render_params(campaign, params, exp_dir, seed=campaign.config.seed)
    for mode in MODES:
        result = run_once(campaign, exp_dir, mode, seed=campaign.config.seed, label="phase2-reference")
        out.results[mode] = result
        if result.status != "ok":
            break
    out.problems = _problems(out.results, out.primary)
    return out


def save(ws: Workspace, result: ReferenceCheck) -> None:
    """reviews/reference.md for people, reviews/reference.json for the checks."""
    ws.reviews.mkdir(parents=True, exist_ok=True)
    (ws.reviews / f"{FOLDER}.md").write_text(f"# The reference experiment\n\n{result.markdown()}")
    (ws.reviews / f"{FOLDER}.json").write_text(result.model_dump_json(indent=2))


def load(ws: Workspace) -> ReferenceCheck | None:
    path = ws.reviews / f"{FOLDER}.json"
    return ReferenceCheck.model_validate_json(path.read_text()) if path.is_file() else None
