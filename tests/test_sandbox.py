"""Sandbox behaviour: secrets, confinement, network, timeouts that kill the whole process group, the default mode,
and nothing a command starts (detached daemons included) outliving it."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

import pytest

from alphalab.config import SandboxConfig
from alphalab.errors import SandboxUnavailable
from alphalab.command_output import truncate_middle
from alphalab.sandbox import effective_mode, require_bwrap, run_command, sandbox_notice, strip_secrets

BWRAP = SandboxConfig(mode="bwrap")
needs_bwrap = pytest.mark.skipif(shutil.which("bwrap") is None, reason="bubblewrap not installed (.ci/run installs it)")
MODES = [pytest.param(None, id="none"), pytest.param(BWRAP, id="bwrap", marks=needs_bwrap)]


def _alive(marker: str) -> list[int]:
    """Pids of live (non-zombie) processes whose command line contains `marker`."""
    found = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            cmdline = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            state = (proc / "stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        if marker in cmdline and state != "Z" and int(proc.name) != os.getpid():
            found.append(int(proc.name))
    return found


def test_strip_secrets_drops_every_secret_looking_name():
    env = {"OPENAI_API_KEY": "a", "GH_TOKEN": "b", "db_password": "c", "MY_SECRET_X": "d", "PATH": "/bin", "HOME": "/h"}
    assert strip_secrets(env) == {"PATH": "/bin", "HOME": "/h"}


@pytest.mark.parametrize("sandbox", MODES)
def test_command_cannot_read_an_api_key_from_the_parent(tmp_path, monkeypatch, sandbox):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-parent-secret")
    monkeypatch.setenv("ALPHALAB_VISIBLE", "yes")
    res = run_command("env", cwd=tmp_path, timeout_s=20, sandbox=sandbox, env={"HF_TOKEN": "t", "SEED": "3"})
    assert res.returncode == 0
    assert "sk-parent-secret" not in res.output and "HF_TOKEN" not in res.output
    assert "SEED=3" in res.output
    # only the sandbox clears the rest of the environment
    assert ("ALPHALAB_VISIBLE=yes" in res.output) == (sandbox is None)


@needs_bwrap
def test_bwrap_cannot_write_outside_the_workspace(tmp_path):
    ws, outside = tmp_path / "ws", tmp_path / "outside"
    ws.mkdir()
    outside.mkdir()
    res = run_command(
        f"echo in > inside.txt; echo out > {outside}/x.txt; echo home > /work/escape-{uuid.uuid4().hex}.txt; "
        "echo tmp > /tmp/private.txt && cat /tmp/private.txt",
        cwd=ws, timeout_s=20, sandbox=BWRAP,
    )
    assert (ws / "inside.txt").read_text() == "in\n"
    assert not (outside / "x.txt").exists()
    assert "Read-only file system" in res.output
    assert not list(Path("/work").glob("escape-*.txt"))
    assert "tmp" in res.output  # the private /tmp is writable inside


@needs_bwrap
def test_bwrap_hides_private_paths_inside_a_writable_workspace(tmp_path):
    private = tmp_path / ".private"
    private.mkdir()
    (private / "labels.csv").write_text("the answers")
    res = run_command("ls -A .private; cat .private/labels.csv", cwd=tmp_path, timeout_s=20, sandbox=BWRAP,
                      hidden=[private])
    assert "the answers" not in res.output
    assert (private / "labels.csv").read_text() == "the answers"


@pytest.fixture
def listening_server():
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(1)
    accepted = []

    def accept():
        try:
            conn, _ = srv.accept()
            accepted.append(True)
            conn.close()
        except OSError:
            pass

    threading.Thread(target=accept, daemon=True).start()
    yield srv.getsockname()[1], accepted
    srv.close()


CONNECT = "import socket,sys; socket.create_connection(('127.0.0.1', int(sys.argv[1])), timeout=5); print('CONNECTED')"


@needs_bwrap
def test_bwrap_blocks_the_network(tmp_path, listening_server):
    port, accepted = listening_server
    res = run_command([sys.executable, "-c", CONNECT, str(port)], cwd=tmp_path, timeout_s=20, sandbox=BWRAP)
    assert res.returncode != 0 and "CONNECTED" not in res.output
    assert not accepted


@needs_bwrap
def test_bwrap_allows_the_network_when_configured(tmp_path, listening_server):
    port, _ = listening_server
    res = run_command([sys.executable, "-c", CONNECT, str(port)], cwd=tmp_path, timeout_s=20,
                      sandbox=SandboxConfig(mode="bwrap", allow_network=True))
    assert "CONNECTED" in res.output, res.output


@pytest.mark.parametrize("sandbox", MODES)
def test_timeout_kills_the_command_and_its_children(tmp_path, sandbox):
    marker = f"{100000 + uuid.uuid4().int % 800000}.25"  # a sleep length unique to this test run
    res = run_command(f"sleep {marker} & echo $! > child.pid; echo started; sleep {marker}", cwd=tmp_path,
                      timeout_s=1.5, sandbox=sandbox)
    assert res.timed_out and res.killed
    assert "started" in res.output and "timed out" in res.output
    assert _alive(marker) == []
    if sandbox is None:  # outside a pid namespace the recorded pid is the host pid
        pid = int((tmp_path / "child.pid").read_text())
        assert pid not in _alive("sleep")


def test_long_output_keeps_head_and_tail_with_a_note(tmp_path):
    res = run_command("echo FIRST; seq 1 200000; echo LAST", cwd=tmp_path, timeout_s=20, output_chars=2000)
    assert res.output.startswith("FIRST\n1\n")
    assert res.output.rstrip().endswith("LAST")
    assert "characters truncated" in res.output
    assert len(res.output) < 2200


def test_output_is_logged_as_it_streams(tmp_path):
    log = tmp_path / "logs" / "run.log"
    res = run_command("echo one; echo two >&2; exit 3", cwd=tmp_path, timeout_s=20, log_path=log)
    assert res.returncode == 3 and not res.timed_out
    assert log.read_text().split() == ["one", "two"]


def test_truncate_middle_is_identity_when_short():
    assert truncate_middle("abc", 10) == "abc"
    cut = truncate_middle("a" * 50 + "b" * 50, 20)
    assert cut.startswith("a" * 10) and cut.endswith("b" * 10) and "80 characters truncated" in cut


def test_missing_bwrap_says_how_to_install(monkeypatch, tmp_path):
    monkeypatch.setattr(shutil, "which", lambda name: None)
    with pytest.raises(SandboxUnavailable, match="apt-get install -y bubblewrap"):
        require_bwrap()
    with pytest.raises(SandboxUnavailable):
        run_command("true", cwd=tmp_path, timeout_s=5, sandbox=BWRAP)


@needs_bwrap
def test_bwrap_mounts_extra_paths_readable_or_writable(tmp_path):
    ws, data, out = tmp_path / "ws", tmp_path / "data", tmp_path / "out"
    for d in (ws, data, out):
        d.mkdir()
    (data / "train.csv").write_text("a,b\n")
    res = run_command(f"cat {data}/train.csv; echo x > {data}/new.csv; echo y > {out}/r.txt; ls {tmp_path}",
                      cwd=ws, timeout_s=20, sandbox=BWRAP, readable=[data], writable=[out])
    assert "a,b" in res.output and "Read-only file system" in res.output
    assert not (data / "new.csv").exists() and (out / "r.txt").read_text() == "y\n"


def test_default_mode_is_auto_and_falls_back_to_none_without_bwrap(monkeypatch):
    assert SandboxConfig().mode == "auto" and effective_mode(None) == "none"
    assert sandbox_notice(SandboxConfig(mode="none")) is not None
    monkeypatch.setattr(shutil, "which", lambda name: None)
    assert effective_mode(SandboxConfig()) == "none"
    notice = sandbox_notice(SandboxConfig())
    for allowed in ("held-out targets", "API keys", "/proc/$PPID/environ", "forge or rewrite results",
                    "write anywhere", "apt-get install -y bubblewrap"):
        assert allowed in notice
    with pytest.raises(SandboxUnavailable):  # the strict mode never falls back
        effective_mode(BWRAP)


@needs_bwrap
def test_default_config_resolves_to_bwrap_here():
    assert effective_mode(SandboxConfig()) == "bwrap"
    assert sandbox_notice(SandboxConfig()) is None


@needs_bwrap
def test_bwrap_hides_a_single_file_as_empty_and_unwritable(tmp_path):
    (tmp_path / "targets.csv").write_text("the answers")
    res = run_command("wc -c < targets.csv; cat targets.csv; echo forged > targets.csv", cwd=tmp_path, timeout_s=20,
                      sandbox=SandboxConfig(), hidden=[tmp_path / "targets.csv"])
    assert res.output.split()[0] == "0" and "the answers" not in res.output, res.output
    assert "Read-only file system" in res.output
    assert (tmp_path / "targets.csv").read_text() == "the answers"


@needs_bwrap
def test_bwrap_read_only_folder_inside_a_writable_one(tmp_path):
    frozen = tmp_path / "harness"
    frozen.mkdir()
    (frozen / "evaluate.py").write_text("trusted")
    res = run_command("echo hacked > harness/evaluate.py; touch harness/planted.py; echo mine > own.txt",
                      cwd=tmp_path, timeout_s=20, sandbox=BWRAP, writable=[tmp_path], read_only=[frozen])
    assert "Read-only file system" in res.output
    assert (frozen / "evaluate.py").read_text() == "trusted" and not (frozen / "planted.py").exists()
    assert (tmp_path / "own.txt").read_text() == "mine\n"  # the rest stays writable


def _daemon(tmp_path) -> tuple[str, str, Path]:
    """A bash line that starts a daemon out of the command's session and process group (setsid in a subshell that
    exits at once: a double fork), which writes a file 2 s later; its marker is a sleep length unique to the run."""
    marker = f"2.{uuid.uuid4().int % 10**6:06d}"
    leak = tmp_path / "leaked.txt"
    return f"( setsid bash -c 'sleep {marker}; echo late > {leak}' {marker} & ); echo started", marker, leak


def _assert_nothing_survives(marker: str, leak: Path) -> None:
    time.sleep(3)  # past the daemon's 2 s: a survivor would have written its file by now
    assert not leak.exists()
    assert _alive(marker) == []


@pytest.mark.parametrize("sandbox", [pytest.param(SandboxConfig(mode="none"), id="none"), pytest.param(None, id="no")])
def test_a_detached_daemon_dies_with_its_command(tmp_path, sandbox):
    line, marker, leak = _daemon(tmp_path)
    res = run_command(line, cwd=tmp_path, timeout_s=20, sandbox=sandbox)
    assert res.returncode == 0 and "started" in res.output and not res.timed_out
    _assert_nothing_survives(marker, leak)


def test_a_detached_daemon_dies_with_its_timed_out_command(tmp_path):
    line, marker, leak = _daemon(tmp_path)
    res = run_command(f"{line}; sleep 30", cwd=tmp_path, timeout_s=1, sandbox=SandboxConfig(mode="none"))
    assert res.timed_out and "started" in res.output
    _assert_nothing_survives(marker, leak)


@pytest.mark.parametrize(("cmd", "code"), [("exit 3", 3), ("kill -9 $$", 137), ("no-such-command-xyz", 127),
                                         (["no-such-program-xyz"], 127)])
def test_exit_codes_pass_through_the_reaper_as_bash_reports_them(tmp_path, cmd, code):
    res = run_command(cmd, cwd=tmp_path, timeout_s=20, sandbox=SandboxConfig(mode="none"))
    assert res.returncode == code
    assert ("could not start command" in res.output) == isinstance(cmd, list)


@needs_bwrap
def test_the_default_sandbox_hides_the_parents_api_key(tmp_path, monkeypatch):
    secret = f"sk-test-{uuid.uuid4().hex}"
    monkeypatch.setenv("OPENAI_API_KEY", secret)
    res = run_command("cat /proc/$PPID/environ; for f in /proc/*/environ; do cat $f; done; echo; echo scanned",
                      cwd=tmp_path, timeout_s=20, sandbox=SandboxConfig())
    assert "scanned" in res.output
    assert secret not in res.output


def test_a_killed_caller_takes_the_command_and_its_daemons_with_it(tmp_path):
    """A SIGKILLed campaign cannot clean up: the reaper notices its parent's death (PR_SET_PDEATHSIG) instead."""
    marker = f"{100000 + uuid.uuid4().int % 800000}.5"
    started = tmp_path / "started"
    code = ("import sys; from pathlib import Path; from alphalab.sandbox import run_command; "
            "run_command(sys.argv[1], cwd=Path(sys.argv[2]), timeout_s=600)")
    line = f"( setsid sleep {marker} & ); sleep {marker} & touch {started}; wait"
    caller = subprocess.Popen([sys.executable, "-c", code, line, str(tmp_path)])
    try:
        deadline = time.monotonic() + 30
        while not started.exists() and time.monotonic() < deadline:
            time.sleep(0.01)
        assert len(_alive(f"sleep {marker}")) >= 2
    finally:
        caller.kill()
        caller.wait()
    deadline = time.monotonic() + 10  # the kill is asynchronous: give it time, then insist
    while _alive(marker) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert _alive(marker) == []


def test_modules_in_the_working_folder_cannot_stand_in_for_the_reapers(tmp_path):
    for name in ("ctypes", "_signal", "os", "site"):
        (tmp_path / f"{name}.py").write_text("print('shadowed'); raise SystemExit(0)\n")
    res = run_command("echo ran", cwd=tmp_path, timeout_s=20, sandbox=SandboxConfig(mode="none"))
    assert res.returncode == 0 and res.output.split() == ["ran"]


@pytest.mark.parametrize("sandbox", MODES)
def test_an_agents_python_pip_and_pytest_are_the_interpreter_running_alphalab(tmp_path, monkeypatch, sandbox):
    """Started as `.venv/bin/alphalab` with the venv not on PATH, a command's `python` would be the system one,
    without the packages and the project: the command gets the running interpreter's directory first on PATH."""
    monkeypatch.setenv("PATH", "/usr/bin:/bin")
    res = run_command("command -v python pip pytest; python -c 'import sys, harnesses, pandas; print(sys.prefix)'",
                      cwd=tmp_path, timeout_s=60, sandbox=sandbox)
    lines = res.output.split()
    assert res.returncode == 0, res.output
    own = str(Path(sys.executable).parent)
    assert [str(Path(p).parent) for p in lines[:3]] == [own] * 3 and lines[3] == sys.prefix
