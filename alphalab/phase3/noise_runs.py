"""The noise floor, measured by every campaign: at the start of Phase 3 (and again once the sealed harness or the
data change), `phase3.noise_seeds` full runs of the search space's reference configuration, each with a fresh seed,
plus one run of the domain's trivial baseline when the manifest names its params. They are board rows of kind
`noise`: they run on the slots before any experiment, never rank, and are counted apart from the experiment budget.
When the last one ends, `noise_floor.json` records the values, their spread and the baseline
(alphalab.noise_floor), and the board reads gains against it.
"""

from __future__ import annotations

import statistics
from typing import Callable

from alphalab.board_rows import TERMINAL, Experiment
from alphalab.campaign import Campaign
from alphalab.manifest import TrivialBaseline
from alphalab.noise_floor import NoiseFloor

BASELINE = "trivial_baseline"  # spec key of the baseline's row


def _rows(campaign: Campaign, key: str) -> list[Experiment]:
    return [e for e in campaign.board.select(kind="noise") if e.spec.get("key") == key]


def plan(campaign: Campaign, log: Callable[[str], None]) -> None:
    """Queue what the noise floor still needs; nothing when it is off, current, or already on the board."""
    cfg, manifest = campaign.config.phase3, campaign.manifest
    if cfg.noise_seeds == 0:
        log("noise floor: off (phase3.noise_seeds: 0); no gain can be confirmed")
        return
    key = campaign.noise_key()
    if campaign.noise_floor() is not None:
        return
    space = manifest.search_space
    if space is None or not manifest.experiment.template_dir:
        log("noise floor: not measured (the adapter has no experiment template and search space to build its "
            "reference configuration from); no gain can be confirmed")
        return
    rows = _rows(campaign, key)
    if rows and all(e.state in TERMINAL for e in rows):
        settle_floor(campaign, key, log)  # the runs ended but the floor was not written (a crash in between)
        return
    wanted = [(f"noise floor seed {i + 1}", {"params": space.reference_params(), "key": key})
              for i in range(cfg.noise_seeds)]
    baseline = manifest.trivial_baseline
    if baseline is not None and baseline.params is not None:
        wanted.append((f"trivial baseline: {baseline.label}", {"params": baseline.params, "key": key, BASELINE: True}))
    for name, spec in wanted[len(rows):]:
        exp = campaign.board.add(name=name, spec=spec, hypothesis="noise floor", kind="noise", state="checked")
        exp = campaign.board.update(exp.id, seed=campaign.seed_for(exp.seq, noise=True))
        campaign.render(exp, spec["params"])
        campaign.board.transition(exp.id, "queued")
    queued = [name for name, _ in wanted[len(rows):]]
    log(f"noise floor: queued {', '.join(queued)}, apart from the experiment budget")


def settle_run(campaign: Campaign, exp: Experiment, ok: bool, log: Callable[[str], None]) -> None:
    """A noise run ended: done (or dead), and the floor written once every run of its key is through."""
    campaign.board.close(exp.id, ok, "noise-floor run failed")
    key = exp.spec.get("key", "")
    if all(e.state in TERMINAL for e in _rows(campaign, key)):
        settle_floor(campaign, key, log)


def settle_floor(campaign: Campaign, key: str, log: Callable[[str], None]) -> None:
    metric = campaign.metric.name
    rows = [e for e in _rows(campaign, key) if e.state == "done" and metric in e.metrics]
    reference = [e for e in rows if not e.spec.get(BASELINE)]
    if len(reference) < 2:
        log(f"noise floor: only {len(reference)} reference run(s) recorded {metric}; no noise floor, no gain can "
            "be confirmed")
        return
    values = [e.metrics[metric] for e in reference]
    floor = NoiseFloor.of(metric, [e.seed or 0 for e in reference], values, params=reference[0].params, key=key)
    baseline = campaign.manifest.trivial_baseline
    if baseline is not None:
        floor.baseline_label, floor.baseline_value = baseline.label, _baseline_value(baseline, rows, floor)
    floor.write(campaign.workspace)
    campaign.board.noise_floor = floor.spread
    log(f"noise floor: {describe(floor)}")


def _baseline_value(baseline: TrivialBaseline, rows: list[Experiment], floor: NoiseFloor) -> float | None:
    if baseline.params is not None:  # its own run
        return next((e.metrics[floor.metric] for e in rows if e.spec.get(BASELINE)), None)
    if baseline.ratio is not None:
        a, b = baseline.ratio
        ratios = [e.metrics[a] / e.metrics[b] for e in rows if not e.spec.get(BASELINE)
                  and e.metrics.get(b) and a in e.metrics]
        return statistics.fmean(ratios) if ratios else None
    return floor.mean  # the reference configuration is the baseline


def describe(floor: NoiseFloor) -> str:
    text = (f"{floor.metric} {floor.mean:.6g} +- {floor.std:.3g} (spread {floor.spread:.3g}) over {len(floor.values)} "
            "seeds of the reference configuration")
    if floor.baseline_label is not None and floor.baseline_value is not None:
        text += f"; trivial baseline, {floor.baseline_label}: {floor.baseline_value:.6g}"
    return text
