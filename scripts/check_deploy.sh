#!/usr/bin/env bash
# Check that `prefect deploy --all` (prefect.yaml) succeeds against a real Prefect server: start one on 127.0.0.1
# with its own PREFECT_HOME on a free port, create the work pools, deploy, check every deployment (and that the
# campaign's schedule is declared but inactive), then stop the server. Prints "deploy check: ok" on success.
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

"$PREFECT" server start --host 127.0.0.1 --port "$PORT" >"$WORK/server.log" 2>&1 &
SERVER=$!
stop_server() {
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
from prefect.client.orchestration import get_client

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
    schedules = found["campaign/campaign"].schedules
    assert schedules and not any(s.active for s in schedules), "the campaign schedule must exist and be inactive"
    print(f"deploy check: ok ({len(expected)} deployments; campaign cron {schedules[0].schedule.cron!r}, inactive)")
PY
