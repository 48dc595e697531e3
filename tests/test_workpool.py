"""The work-pool backend for real: a `prefect server` on 127.0.0.1, a `process` work pool with one worker per GPU
slot, each on its slot's work queue as the README starts them, the `run-experiment` deployment from this checkout,
and a Phase 3 whose runs go through it. Slot "0" is named by its GPU index (pinned through the run's job variables);
slot "b1" stands for GPU 1 of a second host, whose worker's own CUDA_VISIBLE_DEVICES picks it. Everything started
here is stopped here."""

from __future__ import annotations

import json
import re
import subprocess
from contextlib import ExitStack, contextmanager
from typing import Iterator

import pytest

from fixtures.phase3.helpers import make_workspace
from fixtures.phase3.server import BIN, REPO, Server, _stop, deploy_run_experiment, prefect_server

POOL = "alphalab-test-gpu"
GPU = {"0": "0", "b1": "1"}  # slot -> the GPU its run gets
SLOTS = list(GPU)


@contextmanager
def slot_worker(server: Server, slot: str) -> Iterator[None]:
    """The worker that owns a slot's GPU: it polls that slot's queue alone, one run at a time."""
    name = f"gpu-{slot}"
    env = dict(server.env)
    env.pop("CUDA_VISIBLE_DEVICES", None)
    if slot != GPU[slot]:  # a named slot: its GPU is the worker's
        env["CUDA_VISIBLE_DEVICES"] = GPU[slot]
    log = open(server.home / f"worker-{name}.log", "w")
    proc = subprocess.Popen([str(BIN / "prefect"), "worker", "start", "--pool", POOL, "--type", "process",
                             "--work-queue", name, "--limit", "1", "--name", name],
                            env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True, cwd=REPO)
    try:
        yield
    finally:
        _stop(proc)
        log.close()


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    with prefect_server(tmp_path_factory.mktemp("server")) as srv, ExitStack() as workers:
        subprocess.run([str(BIN / "prefect"), "work-pool", "create", POOL, "--type", "process"], env=srv.env,
                       check=True, capture_output=True, cwd=REPO)
        for slot in SLOTS:
            workers.enter_context(slot_worker(srv, slot))
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
                                execution={"backend": "work-pool", "gpu_slots": SLOTS, "work_pool": POOL,
                                           "deployment": deployment})
    with temporary_settings({PREFECT_API_URL: srv.url}):
        summary = phase3_experiments(str(ws.root))
        with get_client(sync_client=True) as client:
            runs = client.read_flow_runs(
                deployment_filter=DeploymentFilter(name=DeploymentFilterName(any_=["run-experiment"])))
            artifacts = client.read_artifacts(
                artifact_filter=ArtifactFilter(key=ArtifactFilterKey(any_=[f"{config.name}-leaderboard"])))
            links = {r.id: client.read_task_run(r.parent_task_run_id) for r in runs if r.parent_task_run_id}
        APILogWorker.drain_all(timeout=5)  # before the server stops, not at interpreter exit

    from alphalab.campaign import Campaign
    from alphalab.operator import FLOW_RUN_META

    board = Campaign(config, ws).board
    experiments = board.select(kind="experiment")
    assert summary.analyzed == 2 and len(experiments) == 2
    assert all(e.state in ("analyzed", "done") and "loss" in e.metrics for e in experiments)
    # each run was a flow run of the deployment, named and tagged after its campaign, keyed for idempotency, sent to
    # its slot's queue, served by the worker of that slot and no other, and on that slot's GPU
    by_name = {r.name: r for r in runs}
    assert {e.slot for e in board.select()} == set(SLOTS)  # both queues served: a stray run would show
    phase3_run = board.get_meta(FLOW_RUN_META)
    for e in board.select():
        run = by_name[f"{config.name} · {e.id}-a0"]
        assert run.state.is_completed()
        assert {f"campaign:{config.name}", f"experiment:{e.id}"} <= set(run.tags)
        assert run.work_queue_name == f"gpu-{e.slot}"
        assert run.labels["prefect.worker.name"] == f"gpu-{e.slot}"
        pinned = run.job_variables.get("env", {}).get("CUDA_VISIBLE_DEVICES")
        assert pinned == (e.slot if e.slot == GPU[e.slot] else None)
        run_log = (ws.experiments / e.id / "run.log").read_text()
        assert re.search(rf"\bslot {GPU[e.slot]} ===", run_log), run_log[-500:]
        assert e.job_id == str(run.id)
        assert run.idempotency_key.startswith(f"{e.id}-0-")
        # a subflow of the Phase 3 run, whose link took the run's final state
        link = links[run.id]
        assert str(link.flow_run_id) == phase3_run and link.state.is_completed()
    # the leaderboard artifact, read back through the API, ranks both experiments
    assert artifacts
    latest = max(artifacts, key=lambda a: a.created)
    table = latest.data if isinstance(latest.data, list) else json.loads(latest.data)
    # (a row names its experiment by id or by the id's short form, e007)
    assert sorted(next(e.id for e in experiments if e.id.startswith(row["id"])) for row in table) == \
        sorted(e.id for e in experiments)
    assert float(table[0]["loss"]) <= float(table[1]["loss"])


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
    slots = SLOTS
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
            exp = board.add(f"in flight on {slot}", {"params": {"x": 0.2 + int(GPU[slot]) / 10, "kind": "a",
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
            names = [f"{config.name} · {i}-a0" for i in ids]
            runs = client.read_flow_runs(flow_run_filter=FlowRunFilter(name=FlowRunFilterName(any_=names)))

    assert sum("adopted job" in line for line in lines) == 2, lines
    assert sorted(r.name for r in runs) == sorted(names)  # one flow run each, no second launch
    assert all(r.state.is_completed() for r in runs)
    assert sorted((ws.experiments / "completions.log").read_text().split()) == sorted(ids)
    assert summary.analyzed == 2
    assert {board.get(i).job_id for i in ids} == {str(r.id) for r in runs}
