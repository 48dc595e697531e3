"""Schedules for real: a `prefect server` on 127.0.0.1 whose scheduler creates the runs of a deployment with an
interval schedule, and a process worker that starts them. Prefect 3.8.8 with SQLAlchemy 2.1 created none (its
scheduler failed with `Can't evaluate bulk DML statement` on every loop), so this is what the pins are for."""

from __future__ import annotations

import re
import subprocess
import sys
import time
from pathlib import Path

import pytest
from prefect import flow

POOL = "alphalab-test-schedules"
DEPLOYMENT = "tick/every-few-seconds"


@flow(name="tick")
def tick() -> str:
    """What the schedule runs: nothing to compute, so the run's cost is the worker's pickup and process start."""
    return "tick"


@pytest.mark.slow
def test_a_scheduled_deployment_gets_runs_from_the_scheduler_that_a_worker_starts(tmp_path, monkeypatch, capsys):
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import DeploymentFilter, DeploymentFilterName
    from prefect.settings import PREFECT_API_URL, temporary_settings

    from fixtures.phase3.server import REPO, prefect_server, process_worker

    # the scheduler's loops run every second instead of every 60 s (5 s for new deployments), and plan two runs
    # ahead instead of a hundred, so the worker starts no more processes than the test waits for
    for name, value in (("LOOP_SECONDS", "1"), ("RECENT_DEPLOYMENTS_LOOP_SECONDS", "1"), ("MIN_RUNS", "1"),
                        ("MAX_RUNS", "2")):
        monkeypatch.setenv(f"PREFECT_SERVER_SERVICES_SCHEDULER_{name}", value)
    with prefect_server(tmp_path) as srv, process_worker(srv, POOL):
        code = ("from prefect import flow\n"
                f"flow.from_source(source={str(REPO)!r}, entrypoint='tests/test_schedules.py:tick')"
                f".deploy(name='every-few-seconds', work_pool_name={POOL!r}, interval=5, print_next_steps=False)\n")
        subprocess.run([sys.executable, "-c", code], env=srv.env, check=True, capture_output=True, cwd=REPO)
        with temporary_settings({PREFECT_API_URL: srv.url}), get_client(sync_client=True) as client:
            deployment = client.read_deployment_by_name(DEPLOYMENT)
            assert deployment.schedules and all(s.active for s in deployment.schedules)
            by_deployment = DeploymentFilter(name=DeploymentFilterName(any_=[deployment.name]))
            started = []
            deadline = time.monotonic() + 150  # a guard against a hang, not a measure: the loop ends on the state
            while not started and time.monotonic() < deadline:
                runs = client.read_flow_runs(deployment_filter=by_deployment)
                started = [r for r in runs if r.state is not None and (r.state.is_running() or r.state.is_completed())]
                time.sleep(0.5)
            if not started:
                log = (srv.home / "server.log").read_text(errors="replace")
                pytest.fail(f"no scheduled run started; runs {[(r.name, r.state_name) for r in runs]}; "
                            f"server log tail:\n{log[-3000:]}")
    run = started[0]
    # the scheduler made it (nothing here creates a run), and a worker picked it up from the pool
    assert run.auto_scheduled and "auto-scheduled" in run.tags
    assert run.work_pool_name == POOL and run.start_time is not None
    with capsys.disabled():  # measured, not asserted
        print(f"\n[schedule] deployment created -> its first scheduled run started: "
              f"{(run.start_time - deployment.created).total_seconds():.1f} s (due at "
              f"+{(run.expected_start_time - deployment.created).total_seconds():.1f} s)")


# ---- a scheduled campaign's workspace -------------------------------------------------------------------------

def test_a_workspace_template_is_filled_from_the_scheduled_start_and_checked_before_the_run():
    from datetime import datetime, timedelta, timezone

    from prefect.exceptions import ParameterTypeError

    from flows.campaign import campaign
    from flows.campaign_workspace import fill_workspace

    night = datetime(2026, 1, 31, 2, 0, tzinfo=timezone.utc)
    assert fill_workspace("runs/nightly/{name}-{date}", "ts-demo", night) == "runs/nightly/ts-demo-2026-01-31"
    # the fields are UTC whatever the zone of the start; the next night is another folder, a retry the same one
    local = night.astimezone(timezone(timedelta(hours=-5)))
    assert fill_workspace("{name}/{start}", "c", local) == "c/20260131-020000"
    assert fill_workspace("{date}", "c", night + timedelta(days=1)) != fill_workspace("{date}", "c", night)
    assert fill_workspace("runs/fixed", "c", night) == "runs/fixed"
    # a typo fails as a parameter error, naming what it may hold, before anything runs
    for bad, why in (("runs/{nmae}-{date}", "unknown field(s) ['nmae']; use {name}, {date}, {start}"),
                     ("runs/{name", "expected '}'")):
        with pytest.raises(ParameterTypeError, match=re.escape(why)):
            campaign.validate_parameters({"config": "c.yaml", "workspace": bad})


def test_each_scheduled_run_gets_its_own_workspace_and_a_held_workspace_is_refused(prefect_harness, tmp_path,
                                                                                   monkeypatch):
    """`stop_after=-1` runs no phase: the campaign flow opens its workspace and returns."""
    import flows.campaign as module
    import flows.campaign_workspace as lock
    from fixtures.pipeline_helpers import use_fixture_library, write_config

    use_fixture_library(monkeypatch)
    config = str(write_config(tmp_path))
    summary = module.campaign(config, workspace=str(tmp_path / "nightly" / "{name}-{start}"), stop_after=-1)
    made = Path(summary.workspace)
    assert made.parent == tmp_path / "nightly" and re.fullmatch(r"tiny-test-\d{8}-\d{6}", made.name)
    assert (made / "campaign.yaml").is_file()

    # while one run holds a workspace, another run on it fails at once, writing nothing there
    monkeypatch.setattr(lock, "WORKSPACE_WAIT_S", 1.0)
    held = tmp_path / "held"
    with lock.workspace_held(held):
        with pytest.raises(lock.WorkspaceInUse, match=f"workspace {held} is in use by another campaign run"):
            module.campaign(config, workspace=str(held), stop_after=-1)
        assert not held.exists()
    # and once it is let go, the next run has it
    assert module.campaign(config, workspace=str(held), stop_after=-1).workspace == str(held)
