#!/usr/bin/env bash
# Reproduces docs/screenshots/: a 6-experiment campaign on the synthetic domain (baseline roles, offline) against a
# throwaway `prefect server` on 127.0.0.1, run by `alphalab run` in a pseudo-terminal (its live view is the first
# PNG), then headless Chromium on the UI's pages (flow runs, events, artifacts), each PNG shrunk to a palette image.
# Needs chromium (`apt-get install -y chromium`) and util-linux's `script`. Not part of the tests.
#
#   scripts/screenshots.sh [OUT_DIR]      # default docs/screenshots; prints artifact versions per key at the end
set -euo pipefail

REPO=$(cd "$(dirname "$0")/.." && pwd)
PY=$REPO/.venv/bin/python
OUT=$(mkdir -p "${1:-$REPO/docs/screenshots}" && cd "${1:-$REPO/docs/screenshots}" && pwd)
WORK=$(mktemp -d /tmp/alphalab-shots.XXXXXX)
PORT=$("$PY" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
CHROMIUM=$(command -v chromium || command -v chromium-browser || command -v google-chrome) \
  || { echo "no chromium: apt-get install -y chromium" >&2; exit 1; }

export PREFECT_HOME=$WORK/prefect-home
export PREFECT_API_URL=http://127.0.0.1:$PORT/api
export PREFECT_UI_API_URL=$PREFECT_API_URL  # the UI calls this API, not the default port 4200
export PREFECT_API_DATABASE_CONNECTION_URL=sqlite+aiosqlite:///$WORK/prefect.db
export DO_NOT_TRACK=1 PREFECT_SERVER_ANALYTICS_ENABLED=false
# each synthetic run takes seconds, as a real one takes minutes: the artifacts move between the board's changes
export ALPHALAB_FIXTURE_SLEEP=${ALPHALAB_FIXTURE_SLEEP:-3}
mkdir -p "$PREFECT_HOME"

# its own session, so stopping it stops the server's children too
setsid "$REPO/.venv/bin/prefect" server start --host 127.0.0.1 --port "$PORT" >"$WORK/server.log" 2>&1 &
SERVER=$!
trap 'kill -TERM -- -$SERVER 2>/dev/null || true; wait $SERVER 2>/dev/null || true' EXIT
for _ in $(seq 120); do
  curl -sf "$PREFECT_API_URL/health" >/dev/null && break
  sleep 1
done

cd "$REPO"
# in a pseudo-terminal of 100 columns, so `alphalab run` shows its live view; `script` records what it drew
script -qfec "stty cols 100 rows 40; '$PY' scripts/screenshots.py campaign '$WORK'" "$WORK/terminal.txt" >/dev/null
"$PY" scripts/screenshots.py terminal "$WORK/terminal.txt" "$OUT/terminal.png" "$CHROMIUM"

# the UI is a JS app: each page is shot once it shows what it must (Chromium over the DevTools protocol)
"$PY" scripts/screenshots.py shoot "http://127.0.0.1:$PORT" "$OUT" "$CHROMIUM"
"$PY" scripts/screenshots.py compress "$OUT"/*.png
"$PY" scripts/screenshots.py versions
