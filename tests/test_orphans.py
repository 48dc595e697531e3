"""No process outlives `alphalab`, however it dies: a SIGKILLed Phase 3 leaves neither its ephemeral Prefect API
server (uvicorn) nor a harness run nor its watchdog behind."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from alphalab.execution import JOB_MARKER
from alphalab.watchdog import MARKER
from fixtures.phase3.helpers import make_workspace
from fixtures.phase3.server import REPO


def _processes() -> dict[int, tuple[int, str]]:
    """pid -> (parent pid, start time) of every live process; the start time tells a recycled pid apart."""
    out = {}
    for name in filter(str.isdigit, os.listdir("/proc")):
        try:
            fields = Path(f"/proc/{name}/stat").read_bytes().rsplit(b")", 1)[1].split()
        except OSError:
            continue
        if fields[0] != b"Z":
            out[int(name)] = (int(fields[1]), fields[19].decode())
    return out


def _descendants(root: int) -> dict[int, str]:
    procs = _processes()
    found, frontier = {}, [root]
    while frontier:
        parent = frontier.pop()
        for pid, (ppid, start) in procs.items():
            if ppid == parent and pid not in found:
                found[pid] = start
                frontier.append(pid)
    return found


def _environ(pid: int) -> list[bytes]:
    try:
        return Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
    except OSError:
        return []


def _cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return "?"


# a guarded process that starts a detached child deaf to SIGTERM and one without the marker, then waits to be killed
GUARDED = """
import os, subprocess, sys, time
from alphalab import watchdog
watchdog.guard()
deaf = subprocess.Popen(["bash", "-c", "trap '' TERM; sleep 300"], start_new_session=True)
other = subprocess.Popen(["sleep", "300"], env={k: v for k, v in os.environ.items() if k != watchdog.MARKER})
print(deaf.pid, other.pid, flush=True)
time.sleep(300)
"""


def test_the_watchdog_stops_what_a_killed_process_started_and_nothing_else(tmp_path):
    proc = subprocess.Popen([sys.executable, "-c", GUARDED], cwd=REPO, stdout=subprocess.PIPE, text=True)
    deaf, other = map(int, proc.stdout.readline().split())
    started = _processes()
    try:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        deadline = time.monotonic() + 10
        while deaf in _processes() and time.monotonic() < deadline:
            time.sleep(0.05)
        assert deaf not in _processes(), "a marked process survived"
        assert _processes().get(other, (0, ""))[1] == started[other][1], "an unmarked process was killed"
    finally:
        for pid in (deaf, other):
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass


def test_kill_9_mid_phase3_leaves_no_process_behind(tmp_path):
    config, ws = make_workspace(tmp_path, budgets={"experiments": 1})
    home = tmp_path / "prefect-home"
    home.mkdir()
    # an ephemeral API of its own (no PREFECT_API_URL), and a full run that sleeps until it is killed
    env = {k: v for k, v in os.environ.items() if k not in ("PREFECT_API_URL", MARKER)}
    env |= {"PREFECT_HOME": str(home), "ALPHALAB_FIXTURE_SLEEP": "300"}
    tree: dict[int, str] = {}  # what the run had started when it was killed
    marker: bytes | None = None

    def survivors() -> list[int]:
        live = _processes()
        return sorted({p for p, start in tree.items() if p in live and live[p][1] == start} |
                      {p for p in live if marker and marker in _environ(p)})

    log = open(tmp_path / "alphalab.log", "w")
    proc = subprocess.Popen([str(Path(sys.executable).parent / "alphalab"), "rerun-phase", "3", "--workspace",
                             str(ws.root)], cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 150
        while True:
            tree = _descendants(proc.pid)
            server = [p for p in tree if "uvicorn" in _cmdline(p)]
            running = [p for p in tree if any(e.startswith(f"{JOB_MARKER}=e".encode()) for e in _environ(p))
                       and "train.py" in _cmdline(p)]
            if server and running:
                break
            assert proc.poll() is None, (tmp_path / "alphalab.log").read_text()[-3000:]
            if time.monotonic() > deadline:
                pytest.fail("Phase 3 never had its API server and a full run up at once")
            time.sleep(0.2)
        # the run's marker: everything it started carries it, the server too, or the watchdog could not find it
        marker = next((e for e in _environ(server[0]) if e.startswith(f"{MARKER}=".encode())), None)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()

        deadline = time.monotonic() + 10
        while (left := survivors()) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not left, [f"{p}: {_cmdline(p)}" for p in left]
        assert marker, "the ephemeral API server does not carry the run's marker"
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        for pid in survivors():  # a failed test leaves no orphans to the next ones
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        log.close()
