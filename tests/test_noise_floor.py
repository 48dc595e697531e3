"""An honest leaderboard: the noise floor is measured by the campaign itself, apart from the budget and first; the
labels follow alphalab.significance, whose error rates are pinned by simulated campaigns through the Dispatcher."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import pytest

from alphalab import significance
from alphalab.campaign import Campaign
from alphalab.leaderboard_text import leaderboard_markdown
from alphalab.noise_floor import NoiseFloor
from alphalab.phase3.dispatcher import Dispatcher
from fixtures.label_sim import CANDIDATE_X, REFERENCE_X, TRUE_VALUE, GaussianHarness, _roles, simulate
from fixtures.phase3.helpers import make_workspace

AA_TRIALS = 400
GAIN_TRIALS = 200


@pytest.fixture
def memory_dir():
    """300 campaigns' boards in memory (/dev/shm where there is one): on disk the simulation waits on the file
    system, not on the Dispatcher."""
    shm = Path("/dev/shm")
    with tempfile.TemporaryDirectory(dir=shm if shm.is_dir() and os.access(shm, os.W_OK) else None) as d:
        yield Path(d)


def test_labels_pin_their_error_rates_in_simulated_campaigns(memory_dir):
    """Through the real Dispatcher: at most 5% of A/A comparisons are confirmed, and a true gain of 3 sigma is
    confirmed at least 90% of the time (defaults: 3 noise seeds, 5 re-runs, alpha 0.025)."""
    aa = simulate(memory_dir / "aa", AA_TRIALS, 0.0, seed=1)
    gain = simulate(memory_dir / "gain", GAIN_TRIALS, 3.0, seed=2)
    assert sum(aa.values()) == AA_TRIALS and sum(gain.values()) == GAIN_TRIALS
    assert aa["confirmed"] <= 0.05 * AA_TRIALS, aa
    assert gain["confirmed"] >= 0.90 * GAIN_TRIALS, gain
    assert aa["refuted"] > 0 and aa["within noise"] > 0  # the other labels of equal configurations


def _campaign(tmp_path, **phase3) -> Campaign:
    config, ws = make_workspace(tmp_path, budgets={"experiments": 1},
                                phase3={"noise_seeds": 3, "verify_reruns": 2, **phase3})
    return Campaign(config, ws)


def _run(campaign: Campaign, gain_sigmas: float = 3.0, trial: int = 0) -> None:
    values = {REFERENCE_X: TRUE_VALUE, CANDIDATE_X: TRUE_VALUE - gain_sigmas}
    Dispatcher(campaign, GaussianHarness(campaign, values, 1.0, trial), _roles(campaign), log=lambda line: None,
               poll_s=0.01).run()


def test_the_noise_floor_runs_first_apart_from_the_budget_with_seeds_of_its_own(tmp_path):
    campaign = _campaign(tmp_path)
    _run(campaign)
    board = campaign.board
    noise, runs = board.select(kind="noise"), board.recent_runs(100)
    assert [e.state for e in noise] == ["done"] * 3 and board.experiments_used() == 1
    assert max(e.started_at for e in noise) <= board.select(kind="experiment")[0].started_at
    floor = NoiseFloor.read(campaign.workspace)
    assert floor.values == [e.metrics["loss"] for e in noise] and floor.key == campaign.noise_key()
    assert floor.spread == max(floor.values) - min(floor.values) and board.noise_floor == floor.spread
    # every run has its own seed: the experiment, its two re-runs and the three noise runs
    seeds = [r.seed for r in runs]
    assert len(runs) == 6 and None not in seeds and len(set(seeds)) == 6
    text = leaderboard_markdown(campaign)
    assert "noise floor: loss" in text and "over 3 seeds of the reference configuration" in text
    assert "| 1 | e004-candidate |" in text and "| 3 |" in text  # the row's n: its run and two re-runs


def test_a_resumed_campaign_keeps_its_noise_floor_until_harness_or_data_change(tmp_path):
    campaign = _campaign(tmp_path, patience=50)
    _run(campaign)
    before = NoiseFloor.read(campaign.workspace)
    _run(Campaign(campaign.config, campaign.workspace))  # resumed: nothing new to measure
    assert len(campaign.board.select(kind="noise")) == 3
    data = campaign.config.data_path
    os.utime(data, ns=(data.stat().st_atime_ns, data.stat().st_mtime_ns + 10**9))  # the data changed
    resumed = Campaign(campaign.config, campaign.workspace)
    _run(resumed)
    after = NoiseFloor.read(campaign.workspace)
    assert len(resumed.board.select(kind="noise")) == 6 and after.key != before.key
    assert after.key == resumed.noise_key()


def test_without_a_noise_floor_the_leaderboard_says_so_and_nothing_is_confirmed(tmp_path):
    campaign = _campaign(tmp_path, noise_seeds=0)
    _run(campaign, gain_sigmas=30.0)
    best = campaign.board.best(campaign.metric)
    assert best.verification == "within noise" and best.n == 3
    assert "noise floor: off (phase3.noise_seeds: 0): no gain can be confirmed" in leaderboard_markdown(campaign)
    assert campaign.board.select(kind="noise") == []


def test_the_rule_on_its_own():
    noise = significance.pooled([[1.0, 2.0, 3.0], [10.0, 12.0]])
    assert noise.df == 3 and noise.sd == pytest.approx(((2 + 2) / 3) ** 0.5)
    assert significance.pooled([[1.0], [2.0]]) is None
    unit = significance.Noise(sd=1.0, df=1000)
    assert significance.verdict([], [5.0], "min", unit).label == "provisional"
    assert significance.verdict([5.5, 5.6], [5.0, 5.1], "min", unit).label == "refuted"
    assert significance.verdict([4.9, 5.0], [5.0, 5.1], "min", unit).label == "within noise"
    confirmed = significance.verdict([1.0, 1.2], [5.0, 5.1], "min", unit)
    assert confirmed.label == "confirmed" and confirmed.gain == pytest.approx(3.95)
    assert significance.verdict([6.0], [5.0], "max", unit).label == "within noise"  # higher is better here
    assert significance.verdict([9.0], [5.0], "max", unit).label == "confirmed"
    assert significance.verdict([1.0], [5.0], "min", None).label == "within noise"  # no noise estimate
    assert significance.verdict([1.0], [], "min", unit).label == "within noise"  # nothing to beat


def test_the_trivial_baseline_runs_once_beside_the_noise_floor(tmp_path):
    campaign = _campaign(tmp_path)
    manifest = campaign.workspace.adapter / "manifest.yaml"
    manifest.write_text(manifest.read_text() + 'trivial_baseline: {label: "x at 0.3", params: {x: 0.3, kind: a, '
                                               'mode: ok}}\n')
    _run(campaign)
    noise = campaign.board.select(kind="noise")
    baseline = [e for e in noise if e.spec.get("trivial_baseline")]
    assert len(noise) == 4 and len(baseline) == 1 and baseline[0].params["x"] == 0.3
    floor = NoiseFloor.read(campaign.workspace)
    assert len(floor.values) == 3 and (floor.baseline_label, floor.baseline_value) == (
        "x at 0.3", baseline[0].metrics["loss"])
    assert "trivial baseline, x at 0.3:" in leaderboard_markdown(campaign)


def test_a_baseline_given_as_a_ratio_of_metrics_is_read_from_the_noise_runs(tmp_path):
    """Kernels: eager PyTorch's speedup over torch.compile is each run's compile_ms / eager_ms, no run of its own."""
    campaign = _campaign(tmp_path)
    manifest = campaign.workspace.adapter / "manifest.yaml"
    manifest.write_text(manifest.read_text() + 'trivial_baseline: {label: "itself", ratio: [loss, loss]}\n')
    _run(campaign)
    floor = NoiseFloor.read(campaign.workspace)
    assert len(campaign.board.select(kind="noise")) == 3 and (floor.baseline_label, floor.baseline_value) == (
        "itself", 1.0)
