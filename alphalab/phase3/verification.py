"""Verifying a new best: it is re-run with a fresh seed as a row of kind `verify` (its `parent` is the experiment
it checks), from a copy of the experiment's files without what its run left behind. The re-run sets the parent's
`verified` flag: True when it still beats the best that came before the parent."""

from __future__ import annotations

import shutil
from typing import Callable

from alphalab.board_rows import Experiment
from alphalab.campaign import Campaign
from alphalab.experiment_files import RUN_OUTPUTS
from alphalab.ranking import beats


def queue_if_best(campaign: Campaign, exp: Experiment, log: Callable[[str], None]) -> None:
    board = campaign.board
    if not campaign.config.phase3.verify_new_best or exp.kind != "experiment":
        return
    best = board.best(campaign.metric)
    if best is None or best.id != exp.id:
        return
    v = board.add(name=f"verify {exp.id}", hypothesis=f"re-run of {exp.id} with a fresh seed",
                  spec=exp.spec, parent=exp.id, kind="verify", state="checked")
    board.update(v.id, seed=campaign.seed_for(v.seq, verify=True))
    src, dst = campaign.exp_dir(exp.id), campaign.exp_dir(v.id)
    dst.mkdir(parents=True, exist_ok=True)
    if src.is_dir():
        shutil.copytree(src, dst, dirs_exist_ok=True, ignore=shutil.ignore_patterns(*RUN_OUTPUTS))
    board.transition(v.id, "queued")
    log(f"{exp.id} is a new best: verification re-run {v.id} queued")


def settle(campaign: Campaign, v_id: str, log: Callable[[str], None]) -> None:
    """A verification run finished: it is done, and its parent verified or refuted."""
    board, metric = campaign.board, campaign.metric
    v = board.transition(v_id, "analyzed")
    board.transition(v_id, "done")
    parent = board.get(v.parent) if v.parent else None
    if parent is None or metric.name not in v.metrics:
        return
    earlier = [e.value for e in board.leaderboard(metric)
               if e.id != parent.id and (e.analyzed_seq or 0) < (parent.analyzed_seq or 0)]
    verified = beats(metric, v.metrics[metric.name], earlier[0] if earlier else None)
    board.update(parent.id, verified=verified)
    log(f"verification of {parent.id}: {v.metrics[metric.name]:.6g} -> verified={verified}")


def refute(campaign: Campaign, v: Experiment) -> None:
    """A verification run failed: it is dead, and its parent not verified."""
    campaign.board.transition(v.id, "dead", note="verification run failed")
    if v.parent:
        campaign.board.update(v.parent, verified=False)
