"""Verifying a new best: it is re-run `phase3.verify_reruns` times with fresh seeds, each a row of kind `verify`
(its `parent` is the experiment it checks) built from a copy of the experiment's files without what its run left
behind. When the last re-run is through, the parent gets its label by alphalab.significance (its re-runs against
the incumbent, with the noise pooled over the campaign's runs) and its value becomes the mean over all its runs.

The incumbent is the previous confirmed best, else the noise floor's runs of the reference configuration.
"""

from __future__ import annotations

import shutil
import statistics
from typing import Callable

from alphalab import significance
from alphalab.board_rows import TERMINAL, Experiment
from alphalab.campaign import Campaign
from alphalab.experiment_files import RUN_OUTPUTS
from alphalab.ranking import measured, ordered


def queue_if_best(campaign: Campaign, exp: Experiment, log: Callable[[str], None]) -> None:
    board, cfg = campaign.board, campaign.config.phase3
    if not cfg.verify_new_best or exp.kind != "experiment":
        return
    best = board.best(campaign.metric)
    if best is None or best.id != exp.id:
        return
    src = campaign.exp_dir(exp.id)
    for i in range(cfg.verify_reruns):
        v = board.add(name=f"verify {exp.id} #{i + 1}", hypothesis=f"re-run of {exp.id} with a fresh seed",
                      spec=exp.spec, parent=exp.id, kind="verify", state="checked")
        board.update(v.id, seed=campaign.seed_for(v.seq, verify=True))
        dst = campaign.exp_dir(v.id)
        dst.mkdir(parents=True, exist_ok=True)
        if src.is_dir():
            shutil.copytree(src, dst, dirs_exist_ok=True, ignore=shutil.ignore_patterns(*RUN_OUTPUTS))
        board.transition(v.id, "queued")
    log(f"{exp.id} is a new best: {cfg.verify_reruns} fresh-seed re-run(s) queued")


def settle_run(campaign: Campaign, v: Experiment, ok: bool, log: Callable[[str], None]) -> None:
    """A re-run ended: done (or dead when it failed); the parent is labelled once all its re-runs are through."""
    campaign.board.close(v.id, ok, "verification run failed")
    if v.parent and all(r.state in TERMINAL for r in reruns_of(campaign, v.parent)):
        label(campaign, v.parent, log)


def reruns_of(campaign: Campaign, parent: str) -> list[Experiment]:
    return [r for r in campaign.board.select(kind="verify") if r.parent == parent]


def _values(campaign: Campaign, rows: list[Experiment]) -> list[float]:
    return [r.metrics[campaign.metric.name] for r in rows if measured(r, campaign.metric)]


def incumbent(campaign: Campaign, exclude: str) -> list[float]:
    """The runs a candidate must beat: the re-runs of the best confirmed experiment, else the noise floor's."""
    confirmed = [e for e in campaign.board.select(kind="experiment") if e.label == "confirmed" and e.id != exclude]
    for best in ordered(confirmed, campaign.metric):
        values = _values(campaign, reruns_of(campaign, best.id))
        if values:
            return values
    floor = campaign.noise_floor()
    return list(floor.values) if floor is not None else []


def noise_groups(campaign: Campaign) -> list[list[float]]:
    """Runs of one configuration each: the noise floor's, and every re-run experiment's (its first run included,
    which, picked as a best, only widens the estimate)."""
    metric = campaign.metric
    floor = campaign.noise_floor()
    groups = [list(floor.values)] if floor is not None else []
    reruns: dict[str, list[Experiment]] = {}
    for v in campaign.board.select(kind="verify"):
        reruns.setdefault(v.parent or "", []).append(v)
    for e in campaign.board.select(kind="experiment"):
        values = _values(campaign, reruns.get(e.id, []))
        if values and metric.name in e.metrics:
            groups.append([e.metrics[metric.name], *values])
    return groups


def label(campaign: Campaign, parent_id: str, log: Callable[[str], None]) -> None:
    board, metric = campaign.board, campaign.metric
    parent = board.get(parent_id)
    if metric.name not in parent.metrics:
        return
    reruns = _values(campaign, reruns_of(campaign, parent_id))
    if not reruns:
        board.update(parent_id, label="refuted", verified=False)
        log(f"{parent_id}: refuted (no re-run recorded {metric.name})")
        return
    verdict = significance.verdict(reruns, incumbent(campaign, parent_id), metric.direction,
                                   significance.pooled(noise_groups(campaign)), campaign.config.phase3.confirm_alpha)
    runs = [parent.metrics[metric.name], *reruns]
    board.update(parent_id, label=verdict.label, verified=verdict.label == "confirmed",
                 score=statistics.fmean(runs), score_n=len(runs), score_spread=max(runs) - min(runs))
    needed = f", needed {verdict.threshold:.3g}" if verdict.threshold is not None else ""
    log(f"{parent_id}: {verdict.label} (re-runs {', '.join(f'{x:.6g}' for x in reruns)}; gain over the incumbent "
        f"{verdict.gain:.3g}{needed})")
