"""Crash recovery for real: `alphalab rerun-phase 3` is killed with SIGKILL mid-run and started again on the same
workspace. Every experiment ends exactly once on the board, no finished result is lost, and no full run is run
twice to completion (the trusted harness logs each completion independently of the board)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from alphalab.campaign import Campaign
from fixtures.phase3.helpers import make_workspace
from fixtures.phase3.server import REPO, prefect_server

TERMINAL = {"done", "analyzed", "dead", "cancelled"}


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    with prefect_server(tmp_path_factory.mktemp("server")) as srv:
        yield srv


def _start(srv, ws) -> subprocess.Popen:
    env = {**srv.env, "ALPHALAB_FIXTURE_SLEEP": "1.5"}
    return subprocess.Popen([str(Path(sys.executable).parent / "alphalab"), "rerun-phase", "3", "--workspace",
                             str(ws.root)], cwd=REPO, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def test_sigkill_mid_phase3_then_resume(server, tmp_path):
    config, ws = make_workspace(tmp_path, budgets={"experiments": 8})
    board = Campaign(config, ws).board
    proc = _start(server, ws)
    deadline = time.monotonic() + 150
    while time.monotonic() < deadline:
        if len(board.analyzed()) >= 2 and board.select("running"):
            break
        assert proc.poll() is None, "the campaign ended before it could be killed"
        time.sleep(0.2)
    else:
        pytest.fail("Phase 3 never reached two analyzed experiments with a run in flight")
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    before = {e.id: e for e in board.select()}
    in_flight = [e.id for e in before.values() if e.state == "running"]
    finished = {i: e.metrics for i, e in before.items() if e.state in ("finished", "analyzed", "done")}
    assert in_flight and finished

    proc = _start(server, ws)
    assert proc.wait(timeout=180) == 0

    after = {e.id: e for e in board.select()}
    experiments = [e for e in after.values() if e.kind == "experiment"]
    assert len(experiments) == config.budgets.experiments
    assert all(e.state in TERMINAL for e in after.values())
    for exp_id, metrics in finished.items():  # nothing finished before the crash was lost or redone
        assert after[exp_id].metrics == metrics
    completions = (ws.experiments / "completions.log").read_text().split()
    assert len(completions) == len(set(completions)), "a full run completed twice"
    for e in after.values():
        if e.state in ("analyzed", "done"):
            assert completions.count(e.id) == 1
    for exp_id in in_flight:  # re-queued or kept, and completed once
        assert after[exp_id].state in ("analyzed", "done") and completions.count(exp_id) == 1
