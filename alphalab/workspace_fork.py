"""A baseline's workspace forked from a campaign's after Phase 2, so the campaign and its baselines are scored by the
same harness on the same adapter and learnings (the paper runs Phase 2 once and copies it to every run of a domain).

The fork gets the Phases 0-2 outputs and the campaign config (the same models, budgets and data); none of the Phase 3
state (board, experiments, playbook, reports, spend, trajectories) and not the harness's private cache, which the
harness prepares again from the data.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import yaml

from alphalab.campaign import Campaign
from alphalab.errors import AlphalabError
from alphalab.workspace import Workspace


def phase_outputs(ws: Workspace) -> tuple[Path, ...]:
    return (ws.adapter, ws.plan, ws.scripts, ws.plots, ws.notes, ws.data_report, ws.learnings, ws.harness, ws.reviews)


def fork_workspace(source: Path | str, dest: Path | str) -> Workspace:
    campaign = Campaign.load(source)
    config, src = campaign.config, campaign.workspace
    target = Workspace(Path(dest))
    if target.root.exists() and any(target.root.iterdir()):
        raise AlphalabError(f"{target.root} exists and is not empty: fork into a new folder")
    target.create(config.config_hash())
    for path, copy in zip(phase_outputs(src), phase_outputs(target)):
        if path.is_dir():
            shutil.copytree(path, copy, dirs_exist_ok=True, ignore=shutil.ignore_patterns("__pycache__"))
        elif path.is_file():
            shutil.copyfile(path, copy)
    data = yaml.safe_load(src.config_copy.read_text())
    data["workspace"] = str(target.root)
    target.config_copy.write_text(yaml.safe_dump(data, sort_keys=False))
    target.commit(f"forked from {src.root} after Phase 2")
    return target
