"""Run a command and kill everything it started, detached processes included, before exiting with its status.

    python -I -S /path/to/alphalab/reaper.py -- ARGV...

Without a sandbox's PID namespace, a command can outlive its caller: `setsid` and a double fork take a process out
of the command's process group, so a group kill misses it, and it could go on to rewrite a result after the harness
has read it. As a child subreaper this process inherits every such orphan (the kernel reparents orphans to the
nearest subreaper ancestor instead of init), so once the command exits nothing it started can hide.

Started by file path with `-I -S` so that it starts fast and nothing on sys.path (the experiment's folder, a
planted `site` or `ctypes`) is imported in its place; it uses only the standard library for the same reason.
`_signal` instead of `signal`: the latter imports enum, which doubles the start-up time.
"""

import ctypes
import os
import sys

import _signal

PR_SET_CHILD_SUBREAPER = 36
PR_SET_PDEATHSIG = 1
SIGKILL, SIGTERM, SIGINT = _signal.SIGKILL, _signal.SIGTERM, _signal.SIGINT

_child: int | None = None  # the command's pid while it is not yet reaped


def _children() -> list[int]:
    """This process's direct children. Only these are killed: a child's pid cannot be reused before it is reaped, so
    the kill never hits an unrelated process (a grandchild's pid could be, once its own parent reaped it)."""
    me = os.getpid()
    try:
        with open(f"/proc/{me}/task/{me}/children") as f:  # one thread, so this task's children are all of them
            return [int(p) for p in f.read().split()]
    except FileNotFoundError:  # a kernel without CONFIG_PROC_CHILDREN: scan every process's parent
        found = []
        for name in filter(str.isdigit, os.listdir("/proc")):
            try:
                with open(f"/proc/{name}/stat", "rb") as f:  # "pid (comm) state ppid ...", comm may hold ")"
                    if int(f.read().rsplit(b")", 1)[1].split()[1]) == me:
                        found.append(int(name))
            except (OSError, ValueError, IndexError):  # gone meanwhile
                continue
        return found


def _sweep() -> None:
    """Kill and reap children until none is left. Reaping a killed child reparents its own children to this
    process, so each round reaches one level deeper; the kernel's "no child" answer ends the loop."""
    while True:
        kids = _children()
        for pid in kids:
            try:
                os.kill(pid, SIGKILL)
            except ProcessLookupError:
                pass
        for pid in kids:
            try:
                os.waitpid(pid, 0)
            except ChildProcessError:
                pass
        try:
            if os.waitpid(-1, os.WNOHANG) == (0, 0) and not kids:
                os.sched_yield()  # a child the listing missed (it races with forks); list again
        except ChildProcessError:
            return


def _on_signal(signum, _frame) -> None:
    if _child is not None:
        try:  # the whole group at once, before its members can react; safe, the pid is not reaped yet
            os.killpg(_child, SIGKILL)
        except ProcessLookupError:
            pass
    _sweep()
    os._exit(128 + signum)


def main(argv: list[str]) -> int:
    global _child
    if argv[:1] == ["--"]:
        argv = argv[1:]
    if not argv:
        print("usage: reaper.py -- COMMAND [ARG...]", file=sys.stderr)
        return 2
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) != 0:
        # without it detached processes would escape: refuse rather than run uncontained
        print(f"reaper: cannot become a child subreaper: {os.strerror(ctypes.get_errno())}", file=sys.stderr)
        return 125
    for signum in (SIGTERM, SIGINT):
        _signal.signal(signum, _on_signal)
    # the caller dying (even by SIGKILL) must not leave the command running: like bwrap's --die-with-parent. The
    # signal comes when the thread that started this process ends; run_command's thread waits here until we exit.
    parent = os.getppid()
    libc.prctl(PR_SET_PDEATHSIG, SIGTERM, 0, 0, 0)
    if os.getppid() != parent:
        return 128 + SIGTERM
    try:
        # its own session, as the caller's start_new_session gave commands before: the command leads its process
        # group ($$ is the group id a crashed campaign's leftover is later killed by)
        _child = os.posix_spawnp(argv[0], argv, os.environ, setsid=True,
                                 # Python ignores these and an ignored signal stays ignored across exec
                                 setsigdef=(_signal.SIGPIPE, _signal.SIGXFSZ))
    except OSError as e:
        print(f"could not start command: {e}", file=sys.stderr)
        return 126 if isinstance(e, PermissionError) else 127
    _, status = os.waitpid(_child, 0)
    _child = None
    _sweep()
    code = os.waitstatus_to_exitcode(status)
    return 128 - code if code < 0 else code  # killed by a signal: 128+N, as bash reports it


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
