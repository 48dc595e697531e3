"""The Worker's smoke test, run by trusted code (never judged from an agent's words): the required files are there,
and the harness recorded a passing smoke result through the same run path as the full run."""

from __future__ import annotations

from typing import Literal

from alphalab.board_rows import Experiment
from alphalab.campaign import Campaign
from alphalab.execution import execute
from alphalab.experiment_files import ERROR_LOG_CHARS
from alphalab.phase3.contracts import WorkerOutcome


def smoke_test(campaign: Campaign, exp: Experiment, task: Literal["implement", "fix"]) -> WorkerOutcome:
    d = campaign.exp_dir(exp.id)
    missing = [f for f in campaign.manifest.experiment.required_files if not (d / f).is_file()]
    if missing:
        return WorkerOutcome(exp_id=exp.id, task=task, ok=False, error_signature="missing-files",
                             detail=f"required files missing: {missing}")
    outcome = execute(campaign.run_request(exp, slot="", mode="smoke"), job_id=f"smoke-{exp.id}-{exp.attempts}")
    if outcome.ok:
        return WorkerOutcome(exp_id=exp.id, task=task, ok=True, detail="smoke test passed")
    return WorkerOutcome(exp_id=exp.id, task=task, ok=False, error_signature=outcome.error_signature,
                         detail=outcome.error[-ERROR_LOG_CHARS:])
