#!/usr/bin/env bash
# Check that `prefect deploy --all` (prefect.yaml) succeeds against a real Prefect server: start one on 127.0.0.1
# with its own PREFECT_HOME on a free port, create the work pools, deploy, check every deployment (and that the
# campaign's schedule is declared but inactive), then turn that schedule on and check that the server's scheduler
# creates its runs with the schedule's own parameters, and stop the server. Prints "deploy check: ok" on success.
set -euo pipefail
set -m  # the server gets its own process group, so one signal stops it and its children

cd "$(dirname "$0")/.."
VENV_BIN=${VENV_BIN:-.venv/bin}
PY="$VENV_BIN/python"
PREFECT="$VENV_BIN/prefect"

WORK=$(mktemp -d -t alphalab-deploy-check-XXXXXX)
PORT=$("$PY" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
export PREFECT_HOME="$WORK/prefect-home"
export PREFECT_API_URL="http://127.0.0.1:$PORT/api"
export PREFECT_UI_API_URL="$PREFECT_API_URL"  # a server off port 4200 needs it, or its UI calls 4200
export DO_NOT_TRACK=1 PREFECT_SERVER_ANALYTICS_ENABLED=false
# the scheduler looks every second, not every 60 s: the check waits for the runs it creates
export PREFECT_SERVER_SERVICES_SCHEDULER_LOOP_SECONDS=1
export PREFECT_SERVER_SERVICES_SCHEDULER_RECENT_DEPLOYMENTS_LOOP_SECONDS=1

"$PREFECT" server start --host 127.0.0.1 --port "$PORT" >"$WORK/server.log" 2>&1 &
SERVER=$!
stop_server() {
    local rc=$?
    if [ "$rc" -ne 0 ] && [ -f "$WORK/server.log" ]; then
        echo "deploy check: failed; the server's log ends:" >&2
        tail -n 40 "$WORK/server.log" >&2
    fi
    kill -TERM -- "-$SERVER" 2>/dev/null || true
    wait "$SERVER" 2>/dev/null || true
    rm -rf "$WORK"
}
trap stop_server EXIT

for _ in $(seq 1 240); do
    curl -sf "$PREFECT_API_URL/health" >/dev/null && break
    if ! kill -0 "$SERVER" 2>/dev/null; then
        echo "deploy check: the server exited early:" >&2
        cat "$WORK/server.log" >&2
        exit 1
    fi
    sleep 0.5
done
curl -sf "$PREFECT_API_URL/health" >/dev/null || { echo "deploy check: no /api/health after 120 s" >&2; exit 1; }

"$PREFECT" work-pool create alphalab-cpu --type process >/dev/null
"$PREFECT" work-pool create alphalab-gpu --type process >/dev/null
"$PREFECT" --no-prompt deploy --all

"$PY" - <<'PY'
import time

from prefect.client.orchestration import get_client
from prefect.client.schemas.filters import DeploymentFilter, DeploymentFilterId

expected = {
    "campaign/campaign": "alphalab-cpu",
    "phase0-adapter/phase0-adapter": "alphalab-cpu",
    "phase1-explore/phase1-explore": "alphalab-cpu",
    "phase2-evaluation/phase2-evaluation": "alphalab-cpu",
    "phase3-experiments/phase3-experiments": "alphalab-cpu",
    "run-experiment/run-experiment": "alphalab-gpu",
    "greedy-loop/greedy-loop": "alphalab-cpu",
    "single-shot/single-shot": "alphalab-cpu",
}
with get_client(sync_client=True) as client:
    found = {}
    for d in client.read_deployments():
        flow = client.read_flow(d.flow_id)
        found[f"{flow.name}/{d.name}"] = d
    missing = sorted(set(expected) - set(found))
    assert not missing, f"deployments missing: {missing}; found {sorted(found)}"
    for name, pool in expected.items():
        assert found[name].work_pool_name == pool, f"{name} is on {found[name].work_pool_name}, not {pool}"
    assert found["run-experiment/run-experiment"].work_queue_name == "gpu-0", "run-experiment's queue is gpu-0"
    nightly = found["campaign/campaign"]
    schedules = nightly.schedules
    assert schedules and not any(s.active for s in schedules), "the campaign schedule must exist and be inactive"
    cron = schedules[0]
    # the schedule's own parameters are valid parameters of the flow (the workspace template included)
    from flows.campaign import campaign
    params = {**nightly.parameters, **cron.parameters}
    campaign.validate_parameters(params)
    assert "{" in params.get("workspace", ""), f"the nightly schedule must give each run a fresh workspace: {params}"

    # turned on, the schedule gets runs from the scheduler (Prefect 3.8.8 with SQLAlchemy 2.1 made none). The update
    # carries the schedule's parameters: the API replaces them with {} when a PATCH leaves them out, as
    # `prefect deployment schedule resume` does (Prefect 3.9.1), which would send every night to one workspace
    client.update_deployment_schedule(nightly.id, cron.id, active=True, parameters=cron.parameters)
    deadline = time.monotonic() + 90
    runs = []
    while not runs and time.monotonic() < deadline:
        runs = client.read_flow_runs(deployment_filter=DeploymentFilter(id=DeploymentFilterId(any_=[nightly.id])))
        time.sleep(0.5)
    assert runs, "the scheduler created no run of the active campaign schedule in 90 s (see the server log)"
    assert all(r.auto_scheduled and r.state_name == "Scheduled" for r in runs), [(r.name, r.state_name) for r in runs]
    assert all(r.parameters == params for r in runs), [r.parameters for r in runs]
    first = min(r.expected_start_time for r in runs)
    print(f"deploy check: the scheduler created {len(runs)} runs of the campaign schedule, the first at {first}")
    print(f"deploy check: ok ({len(expected)} deployments; campaign cron {cron.schedule.cron!r}, inactive)")
PY
