"""Nothing a command started outlives it, however it dies (kill -9 included).

A SIGKILLed process runs no cleanup, and Prefect's ephemeral API server (a uvicorn subprocess, ~200 MB) is started
without any tie to its parent, so every `kill -9` of `alphalab run` used to leave one behind. `guard()` marks this
process's environment with a fresh `ALPHALAB_RUN=<id>`, which every process it starts from then on inherits (the
ephemeral server, harness runs, agent shells), and starts this file as a watchdog in its own session:

    python -I -S /path/to/alphalab/watchdog.py PARENT_PID MARKER FD

It blocks on a pipe whose only write end the parent holds, so the kernel wakes it the moment the parent is gone,
then stops every process still carrying the marker: SIGTERM first (the ephemeral server shuts down cleanly, a
reaper kills and sweeps what its command started), SIGKILL for whatever is left after a short grace. On a normal
exit the parent has stopped its children already and the watchdog finds nothing.

Processes sandboxed by bubblewrap run with a cleared environment and carry no marker; they die with their parent
through bwrap's --die-with-parent instead, as unsandboxed commands do through the reaper's PR_SET_PDEATHSIG.

Started by file path with `-I -S` and standard library only, as alphalab/reaper.py, so that it starts fast.
"""

import os
import select
import sys
import time

import _signal

MARKER = "ALPHALAB_RUN"
GRACE_S = 2.0
GIVE_UP_S = 30.0  # a process stuck in the kernel (uninterruptible sleep) must not keep the watchdog forever

_watchdog = None  # the watchdog's Popen: started once per process
_write_end: int | None = None  # held open, never written: its close when this process ends wakes the watchdog


def marked(marker: str) -> list[int]:
    """The live processes (other than this one) whose environment carries `marker`. A zombie has no environment
    left to read, so it never counts."""
    needle = f"{MARKER}={marker}".encode()
    me = os.getpid()
    found = []
    for name in os.listdir("/proc"):
        if not name.isdigit() or int(name) == me:
            continue
        try:
            with open(f"/proc/{name}/environ", "rb") as f:
                if needle in f.read().split(b"\0"):
                    found.append(int(name))
        except OSError:  # gone meanwhile, or another user's
            continue
    return found


def stop_marked(marker: str, grace_s: float = GRACE_S) -> None:
    """Stop every process carrying `marker` and return once none is left. The marker is unique to one guarded
    process, so nothing else is ever signalled; a process forked meanwhile is found on the next scan."""
    termed: set[int] = set()
    start = time.monotonic()
    deadline = start + grace_s
    while (pids := marked(marker)) and time.monotonic() < start + GIVE_UP_S:
        late = time.monotonic() > deadline
        for pid in pids:
            if late or pid not in termed:
                try:
                    os.kill(pid, _signal.SIGKILL if late else _signal.SIGTERM)
                except OSError:
                    pass
                termed.add(pid)
        time.sleep(0.05)


def _wait_for_parent(parent: int, fd: int) -> None:
    # EOF on the pipe is the parent's exit; the pid check covers a fork of the parent that kept the write end open
    while os.getppid() == parent:
        readable, _, _ = select.select([fd], [], [], 1.0)
        if readable and not os.read(fd, 1):
            return


def main(argv: list[str]) -> int:
    if len(argv) != 3:
        print("usage: watchdog.py PARENT_PID MARKER FD", file=sys.stderr)
        return 2
    parent, marker, fd = int(argv[0]), argv[1], int(argv[2])
    _wait_for_parent(parent, fd)
    stop_marked(marker)
    return 0


def guard() -> str:
    """Start this process's watchdog (once) and return the marker its children carry."""
    global _watchdog, _write_end
    if _watchdog is not None:
        return os.environ[MARKER]
    import secrets
    import subprocess

    marker = f"{os.getpid()}-{secrets.token_hex(8)}"
    read_fd, write_fd = os.pipe()  # not inheritable: only this process holds the write end, closed at its exit
    # without any marker: an outer guard (an alphalab started by an agent's shell) must not stop this watchdog
    # before it has swept
    env = {k: v for k, v in os.environ.items() if k != MARKER}
    try:
        _watchdog = subprocess.Popen(
            [sys.executable, "-I", "-S", os.path.abspath(__file__), str(os.getpid()), marker, str(read_fd)],
            pass_fds=(read_fd,), env=env, start_new_session=True,  # a Ctrl-C of the terminal must not stop it
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
    finally:
        os.close(read_fd)
    _write_end = write_fd
    os.environ[MARKER] = marker
    return marker


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
