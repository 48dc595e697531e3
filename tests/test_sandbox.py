"""Sandbox behaviour: secrets, confinement, network, timeouts that kill the whole process group."""

from __future__ import annotations

import os
import shutil
import socket
import sys
import threading
import uuid
from pathlib import Path

import pytest

from alphalab.config import SandboxConfig
from alphalab.errors import SandboxUnavailable
from alphalab.sandbox import require_bwrap, run_command, strip_secrets, truncate_middle

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
