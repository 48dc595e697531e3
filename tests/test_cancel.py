"""Cancelling a running experiment stops its whole process tree, detached processes included: on a real work pool
(through the Prefect API, as the UI cancels) and on the local runner."""

from __future__ import annotations

import os
import shlex
import signal
import sys
import threading
import time
from pathlib import Path

import pytest

from alphalab.execution import JOB_MARKER, LocalRunner, RunRequest
from alphalab.workspace import Workspace
from fixtures.phase3.helpers import make_workspace
from fixtures.phase3.server import deploy_run_experiment, prefect_server, process_worker

POOL = "alphalab-test-cancel"


def processes_of(marker: str, under: Path) -> list[int]:
    """Live processes carrying this job's marker and working under `under` (another test may run a job with the
    same experiment id meanwhile)."""
    needle = f"{JOB_MARKER}={marker}".encode()
    found = []
    for name in filter(str.isdigit, os.listdir("/proc")):
        try:
            environ = Path(f"/proc/{name}/environ").read_bytes().split(b"\0")
            cwd = Path(os.readlink(f"/proc/{name}/cwd"))
        except OSError:  # gone, or not ours
            continue
        if needle in environ and cwd.is_relative_to(under):
            found.append(int(name))
    return found


def _cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""


def wait_for(predicate, timeout_s: float, what: str):
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.1)
    pytest.fail(f"not within {timeout_s:g} s: {what}")


@pytest.fixture(scope="module")
def pool(tmp_path_factory):
    with prefect_server(tmp_path_factory.mktemp("server")) as srv:
        with process_worker(srv, POOL):
            yield srv, deploy_run_experiment(srv, POOL)


def test_cancelling_a_work_pool_run_stops_its_experiment_within_seconds(pool, tmp_path):
    from prefect.client.orchestration import get_client
    from prefect.deployments import run_deployment
    from prefect.settings import PREFECT_API_URL, temporary_settings
    from prefect.states import Cancelling

    from alphalab.campaign import Campaign
    from alphalab.roles.base import RoleContext
    from alphalab.roles.phase3 import local_roles

    srv, deployment = pool
    config, ws = make_workspace(tmp_path, execution={"backend": "work-pool", "gpu_slots": ["0"], "work_pool": POOL,
                                                     "deployment": deployment})
    board = Campaign(config, ws).board
    exp = board.add("sleeps until cancelled", {"params": {"x": 0.3, "kind": "a", "mode": "ok"}})
    assert local_roles(RoleContext(config, ws, log=lambda line: None, phase="phase3")).implement(exp.id).ok
    for state in ("implemented", "checked", "queued"):
        board.transition(exp.id, state)
    board.transition(exp.id, "running", slot="0", started_at=time.time())

    with temporary_settings({PREFECT_API_URL: srv.url}):
        run = run_deployment(name=deployment, parameters={"workspace": str(ws.root), "exp_id": exp.id,
                                                          "attempt": 0, "mode": "full"},
                             # the synthetic experiment sleeps through its full run until it is cancelled
                             job_variables={"env": {"CUDA_VISIBLE_DEVICES": "0", "ALPHALAB_FIXTURE_SLEEP": "300"}},
                             timeout=0, as_subflow=False)
        marker = f"{exp.id}:0"
        try:
            # the harness runs, and the experiment it started (train.py) sleeps
            wait_for(lambda: any("train.py" in _cmdline(p) for p in processes_of(marker, tmp_path)), 120,
                     "the experiment never started")
            running = {p: _cmdline(p) for p in processes_of(marker, tmp_path)}
            with get_client(sync_client=True) as client:  # as the UI's Cancel button does
                client.set_flow_run_state(run.id, Cancelling())
            wait_for(lambda: not processes_of(marker, tmp_path), 10, f"the cancelled run's {running} still run")
        finally:  # a failed test leaves no sleeper to the next ones
            for pid in processes_of(marker, tmp_path):
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass


# a harness that starts a detached grandchild (its own session: a process-group kill misses it), then sleeps
DETACHING = """
import subprocess, sys, time
child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(300)"], start_new_session=True)
open(sys.argv[1] + ".tmp", "w").write(str(child.pid))
__import__("os").replace(sys.argv[1] + ".tmp", sys.argv[1])
time.sleep(300)
"""


def _local_request(ws: Workspace, command: str) -> RunRequest:
    exp = ws.experiment("e1")
    exp.mkdir(parents=True, exist_ok=True)
    return RunRequest(exp_id="e1", attempt=0, mode="full", seed=7, slot="", command=command, exp_dir=exp,
                      workspace=ws.root, timeout_s=300)


def _alive_with_marker(pid: int, marker: str) -> bool:
    try:  # a killed process not yet reaped has no environment left
        return f"{JOB_MARKER}={marker}".encode() in Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
    except OSError:
        return False


def test_local_cancel_stops_a_detached_grandchild(tmp_path):
    ws = Workspace(tmp_path / "ws")
    ws.root.mkdir()
    pid_file = tmp_path / "grandchild.pid"
    request = _local_request(ws, shlex.join([sys.executable, "-c", DETACHING, str(pid_file)]))
    done = threading.Event()
    runner = LocalRunner(["0"])
    job = runner.submit(request, lambda outcome: done.set())
    wait_for(pid_file.exists, 30, "the harness never started its grandchild")
    grandchild = int(pid_file.read_text())
    assert _alive_with_marker(grandchild, request.marker)
    runner.cancel(job)
    wait_for(lambda: not _alive_with_marker(grandchild, request.marker), 10, "the detached grandchild survived")
    wait_for(done.is_set, 10, "the cancelled job never reported its end")


def test_a_cancel_right_after_submit_still_stops_the_job(tmp_path):
    """The job has not recorded its process group yet when the cancel comes: the cancel must not be lost."""
    ws = Workspace(tmp_path / "ws")
    ws.root.mkdir()
    done = threading.Event()
    runner = LocalRunner(["0"])
    job = runner.submit(_local_request(ws, shlex.join([sys.executable, "-c", "import time; time.sleep(300)"])),
                        lambda outcome: done.set())
    runner.cancel(job)
    wait_for(done.is_set, 10, "the job cancelled at its start ran on")


def test_the_flow_hooks_stop_a_run_from_its_parameters_alone(tmp_path):
    """What the run-experiment flow's cancel and crash hooks call: the recorded group, found from the parameters."""
    from alphalab.execution import stop_job

    ws = Workspace(tmp_path / "ws")
    ws.root.mkdir()
    done = threading.Event()
    request = _local_request(ws, shlex.join([sys.executable, "-c", "import time; time.sleep(300)"]))
    LocalRunner(["0"]).submit(request, lambda outcome: done.set())
    # True once the job has recorded its group and the kill landed
    wait_for(lambda: stop_job(str(ws.root), request.exp_id, request.attempt, request.mode), 30,
             "the job was never found to stop")
    wait_for(done.is_set, 10, "the stopped job never reported its end")
    assert not processes_of(request.marker, tmp_path)
