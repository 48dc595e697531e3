"""The work-pool backend for real: a `prefect server` on 127.0.0.1, a `process` work pool with one worker, the
`run-experiment` deployment from this checkout, and a Phase 3 whose runs go through it. Everything started here
is stopped here."""

from __future__ import annotations

import json

import pytest

from fixtures.phase3.helpers import make_workspace
from fixtures.phase3.server import deploy_run_experiment, prefect_server, process_worker

POOL = "alphalab-test-gpu"


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    with prefect_server(tmp_path_factory.mktemp("server")) as srv:
        with process_worker(srv, POOL):
            yield srv, deploy_run_experiment(srv, POOL)


def test_phase3_runs_through_a_work_pool(server, tmp_path):
    srv, deployment = server
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterKey, DeploymentFilter, \
        DeploymentFilterName
    from prefect.logging.handlers import APILogWorker
    from prefect.settings import PREFECT_API_URL, temporary_settings

    from flows.phase3_experiments import phase3_experiments

    config, ws = make_workspace(tmp_path, budgets={"experiments": 2},
                                execution={"backend": "work-pool", "gpu_slots": ["0", "1"], "work_pool": POOL,
                                           "deployment": deployment})
    with temporary_settings({PREFECT_API_URL: srv.url}):
        summary = phase3_experiments(str(ws.root))
        with get_client(sync_client=True) as client:
            runs = client.read_flow_runs(
                deployment_filter=DeploymentFilter(name=DeploymentFilterName(any_=["run-experiment"])))
            artifacts = client.read_artifacts(
                artifact_filter=ArtifactFilter(key=ArtifactFilterKey(any_=[f"{config.name}-leaderboard"])))
        APILogWorker.drain_all(timeout=5)  # before the server stops, not at interpreter exit

    from alphalab.campaign import Campaign

    board = Campaign(config, ws).board
    experiments = board.select(kind="experiment")
    assert summary.analyzed == 2 and len(experiments) == 2
    assert all(e.state in ("analyzed", "done") and "loss" in e.metrics for e in experiments)
    # each run was a flow run of the deployment, pinned to its slot's GPU, keyed for idempotency
    by_name = {r.name: r for r in runs}
    for e in board.select():
        run = by_name[f"{e.id}-a0"]
        assert run.state.is_completed()
        assert run.job_variables["env"]["CUDA_VISIBLE_DEVICES"] == e.slot
        assert e.job_id == str(run.id)
        assert run.idempotency_key.startswith(f"{e.id}-0-")
    # the leaderboard artifact, read back through the API, ranks both experiments
    assert artifacts
    latest = max(artifacts, key=lambda a: a.created)
    table = latest.data if isinstance(latest.data, list) else json.loads(latest.data)
    assert {row["id"] for row in table} == {e.id for e in experiments}
    assert table[0]["loss"] <= table[1]["loss"]


def test_runs_in_flight_when_the_campaign_died_are_adopted_not_run_twice(server, tmp_path):
    """The campaign dies right after submitting two runs, one with its flow-run id recorded on the board and one
    without (the crash came in between). The next Dispatcher finds both flow runs, by id and by idempotency key,
    and waits for them instead of starting second ones."""
    import time

    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterName
    from prefect.settings import PREFECT_API_URL, temporary_settings

    from alphalab.phase3.dispatcher import Dispatcher

    from alphalab.roles.phase3 import local_roles
    from alphalab.campaign import Campaign
    from alphalab.roles.base import RoleContext
    from tasks.work_pool import WorkPoolRunner

    srv, deployment = server
    slots = ["0", "1"]
    config, ws = make_workspace(tmp_path, budgets={"experiments": 2}, phase3={"verify_new_best": False},
                                execution={"backend": "work-pool", "gpu_slots": slots, "work_pool": POOL,
                                           "deployment": deployment})
    env = Campaign(config, ws)
    board = env.board
    roles = local_roles(RoleContext(config, ws, log=lambda line: None, phase="phase3"))
    ids, lines = [], []
    with temporary_settings({PREFECT_API_URL: srv.url}):
        died = WorkPoolRunner(slots, deployment, str(ws.root))
        for slot, recorded in zip(slots, (True, False)):
            exp = board.add(f"in flight on {slot}", {"params": {"x": 0.2 + int(slot) / 10, "kind": "a",
                                                                "mode": "ok"}})
            assert roles.implement(exp.id).ok
            for state in ("implemented", "checked", "queued"):
                board.transition(exp.id, state)
            exp = board.transition(exp.id, "running", slot=slot, started_at=time.time())
            job_id = died.submit(env.run_request(exp, slot), lambda outcome: None)
            if recorded:
                board.update(exp.id, job_id=job_id)
            ids.append(exp.id)
        summary = Dispatcher(env, WorkPoolRunner(slots, deployment, str(ws.root)), roles, log=lines.append).run()
        with get_client(sync_client=True) as client:
            runs = client.read_flow_runs(
                flow_run_filter=FlowRunFilter(name=FlowRunFilterName(any_=[f"{i}-a0" for i in ids])))

    assert sum("adopted job" in line for line in lines) == 2, lines
    assert sorted(r.name for r in runs) == sorted(f"{i}-a0" for i in ids)  # one flow run each, no second launch
    assert all(r.state.is_completed() for r in runs)
    assert sorted((ws.experiments / "completions.log").read_text().split()) == sorted(ids)
    assert summary.analyzed == 2
    assert {board.get(i).job_id for i in ids} == {str(r.id) for r in runs}
