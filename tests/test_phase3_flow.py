"""The Phase 3 flow on Prefect (baseline roles, local backend): role task runs, the artifacts of DESIGN.md §5, and
an operator note delivered through flow-run input while the flow runs."""

from __future__ import annotations

import threading
import time

import pytest

from alphalab.phase3.contracts import InboxItem
from alphalab.campaign import Campaign
from fixtures.phase3.helpers import make_workspace

pytestmark = pytest.mark.usefixtures("prefect_harness")


def test_phase3_flow_artifacts_and_operator_note(tmp_path, monkeypatch):
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterKey

    from cli.operator import deliver
    from flows.phase3_experiments import phase3_experiments

    monkeypatch.setenv("ALPHALAB_FIXTURE_SLEEP", "1.0")
    config, ws = make_workspace(tmp_path, budgets={"experiments": 4}, phase3={"reporter_every": 3})
    board = Campaign(config, ws).board
    out = {}
    thread = threading.Thread(target=lambda: out.setdefault("summary", phase3_experiments(str(ws.root))))
    thread.start()
    deadline = time.monotonic() + 120
    while not (board.get_meta("phase3_flow_run_id") and board.select("running")):
        assert time.monotonic() < deadline and thread.is_alive()
        time.sleep(0.1)
    reply = deliver(str(ws.root), InboxItem(kind="note", text="focus on kind a"))
    thread.join(180)
    assert not thread.is_alive()
    assert reply.startswith("sent to the running Phase 3")
    assert [n.text for n in board.notes()] == ["focus on kind a"]

    summary = out["summary"]
    assert summary.stop_reason == "experiment_budget" and summary.analyzed == 4
    name = config.name
    keys = [f"{name}-{k}" for k in ("leaderboard", "playbook", "board", "budget", "milestone-001")]
    with get_client(sync_client=True) as client:
        found = client.read_artifacts(artifact_filter=ArtifactFilter(key=ArtifactFilterKey(any_=keys)))
    latest = {}
    for a in sorted(found, key=lambda a: a.created):
        latest[a.key] = a
    assert set(latest) == set(keys)
    assert latest[f"{name}-budget"].data == pytest.approx(100.0)
    kanban = latest[f"{name}-board"].data
    for column in ("to_implement", "implemented", "checked", "queued", "running", "finished", "analyzed", "done",
                   "cancelled"):
        assert column in kanban
    assert "Best so far" in latest[f"{name}-milestone-001"].data
