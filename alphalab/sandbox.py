"""Run a command for an agent or an experiment: its own process group, a timeout that kills the whole group,
secrets stripped from the environment, output streamed to a log and truncated head+tail, and bubblewrap isolation
(read-only root, writable workspace, private /tmp, hidden paths, no network, cleared environment) wherever it works.

Sandbox modes: `bwrap` (strict: fails when bubblewrap cannot run), `auto` (the default: bwrap wherever it works,
else none) and `none` (no isolation; `sandbox_notice` says what that allows). Every process a command starts dies
with it in either case: the sandbox's PID namespace under bwrap, the child subreaper `alphalab/reaper.py` without.
"""

from __future__ import annotations

import atexit
import functools
import glob
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict

from alphalab.command_output import OutputCapture
from alphalab.errors import SandboxUnavailable

__all__ = [
    "CommandResult",
    "SandboxConfig",
    "SandboxUnavailable",
    "effective_mode",
    "require_bwrap",
    "resolve_mode",
    "run_command",
    "sandbox_notice",
    "strip_secrets",
]

_SECRET_NAME = re.compile(r"KEY|TOKEN|SECRET|PASSWORD", re.IGNORECASE)
_KILL_GRACE_S = 2.0
_INSTALL = ("`apt-get install -y bubblewrap` (Debian/Ubuntu), `dnf install bubblewrap` (Fedora/RHEL) or "
            "`pacman -S bubblewrap` (Arch)")
_BWRAP_INSTALL_HINT = f"sandbox mode 'bwrap' needs bubblewrap: install it with {_INSTALL}, or set `sandbox.mode: none`"
# by file path with -I -S: fast, and nothing on sys.path or in the environment can stand in for it
_REAPER = [sys.executable, "-I", "-S", str(Path(__file__).resolve().with_name("reaper.py")), "--"]


class SandboxConfig(BaseModel):
    """A campaign's `sandbox:` section. Defined here, not in config.py, so a harness can take it without importing
    the campaign config parser."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True)

    # auto: bubblewrap wherever it works, else none with a warning; bwrap: fail where it cannot run
    mode: Literal["auto", "none", "bwrap"] = "auto"
    allow_network: bool = False


class CommandResult(BaseModel):
    returncode: int
    output: str  # stdout and stderr interleaved as produced; head+tail when truncated
    timed_out: bool = False
    wall_seconds: float = 0.0
    killed: bool = False  # the process group had to be signalled (timeout)


def strip_secrets(env: dict[str, str]) -> dict[str, str]:
    """Drop every variable whose name contains KEY, TOKEN, SECRET or PASSWORD."""
    return {k: v for k, v in env.items() if not _SECRET_NAME.search(k)}


@functools.cache
def _bwrap_check(path: str) -> str | None:
    probe = subprocess.run(
        [path, "--ro-bind", "/", "/", "--dev", "/dev", "--proc", "/proc", "--unshare-net", "--unshare-pid", "true"],
        capture_output=True, text=True, timeout=30,
    )
    return None if probe.returncode == 0 else probe.stderr.strip() or f"exit code {probe.returncode}"


def require_bwrap() -> str:
    """Return the bwrap executable, or raise SandboxUnavailable saying how to install or enable it."""
    path = shutil.which("bwrap")
    if path is None:
        raise SandboxUnavailable(_BWRAP_INSTALL_HINT)
    problem = _bwrap_check(path)
    if problem is not None:
        raise SandboxUnavailable(
            f"bubblewrap is installed but cannot create a sandbox here ({problem}); "
            "unprivileged user namespaces may be disabled (sysctl kernel.unprivileged_userns_clone=1), "
            "or set `sandbox.mode: none`"
        )
    return path


def resolve_mode(cfg: SandboxConfig | None) -> tuple[Literal["none", "bwrap"], str]:
    """The mode in force for `cfg` and why. Raises SandboxUnavailable for a strict `bwrap` that cannot run."""
    mode = getattr(cfg, "mode", "none")  # a SandboxConfig or a stand-in (ToolContext.sandbox); None is no sandbox
    if mode == "bwrap":
        return "bwrap", f"sandbox.mode: bwrap, bubblewrap: {require_bwrap()}"
    if mode == "auto":
        try:
            return "bwrap", f"sandbox.mode: auto, bubblewrap works here: {require_bwrap()}"
        except SandboxUnavailable as e:
            problem = "bubblewrap is not installed" if shutil.which("bwrap") is None else str(e)
            return "none", f"sandbox.mode: auto, and {problem}"
    return "none", "no sandbox configured" if cfg is None else "sandbox.mode: none"


def effective_mode(cfg: SandboxConfig | None) -> Literal["none", "bwrap"]:
    """`auto` is bwrap wherever bubblewrap works, else none; `bwrap` raises SandboxUnavailable where it cannot run;
    no config is none."""
    return resolve_mode(cfg)[0]


def sandbox_notice(cfg: SandboxConfig | None) -> str | None:
    """A warning saying what running without a sandbox allows, or None when bwrap is in force."""
    mode, why = resolve_mode(cfg)
    if mode == "bwrap":
        return None
    return (
        f"WARNING: no sandbox ({why}). Experiment code and agent commands run as you, unconfined: they can read the "
        "held-out targets and data (.private/, test splits), read API keys (e.g. from /proc/$PPID/environ, even "
        "though their own environment is stripped), forge or rewrite results, and write anywhere you can. "
        f"Install bubblewrap ({_INSTALL}) and use `sandbox.mode: auto` (the default) or `bwrap`."
    )


@functools.cache
def _empty_file() -> str:
    """One empty read-only file per process, bound over each hidden single file (bwrap's --tmpfs needs a folder)."""
    folder = tempfile.mkdtemp(prefix="alphalab-empty-")
    atexit.register(shutil.rmtree, folder, True)
    path = Path(folder) / "empty"
    path.touch(mode=0o444)
    return str(path)


def _runtime_paths() -> list[Path]:
    """This interpreter and the alphalab source tree, when they live under /tmp (a virtualenv or a checkout there,
    as in a CI clone): the private /tmp would hide them and no Python could start in the sandbox."""
    tmp = Path("/tmp").resolve()
    roots = {Path(sys.prefix), Path(sys.base_prefix), Path(__file__).resolve().parents[1],
             *(Path(p) for p in sys.path if p)}
    return sorted({r.resolve() for r in roots if r.exists() and r.resolve().is_relative_to(tmp)})


def _bwrap_argv(
    bwrap: str, argv: list[str], *, cwd: Path, allow_network: bool, writable: Sequence[Path],
    readable: Sequence[Path], hidden: Sequence[Path], env: dict[str, str], read_only: Sequence[Path] = (),
) -> list[str]:
    # Order matters: later mounts cover earlier ones (a private /tmp first, then paths that may live under /tmp,
    # then the writable ones, then read-only re-binds of folders inside those, then hidden paths over everything:
    # an empty tmpfs over a folder, an empty file over a file).
    out = [bwrap, "--ro-bind", "/", "/", "--dev", "/dev", "--proc", "/proc", "--tmpfs", "/tmp"]
    for dev in sorted(glob.glob("/dev/nvidia*")) + sorted(glob.glob("/dev/dri")):
        out += ["--dev-bind", dev, dev]
    for p in [*_runtime_paths(), *readable]:
        if Path(p).exists():
            out += ["--ro-bind", str(Path(p).resolve()), str(Path(p).resolve())]
    for p in [cwd, *writable]:
        out += ["--bind", str(Path(p).resolve()), str(Path(p).resolve())]
    for p in read_only:
        if Path(p).exists():
            out += ["--ro-bind", str(Path(p).resolve()), str(Path(p).resolve())]
    for p in hidden:
        p = Path(p).resolve()
        if p.is_dir():
            out += ["--tmpfs", str(p)]
        elif p.exists():
            out += ["--ro-bind", _empty_file(), str(p)]
    if not allow_network:
        out.append("--unshare-net")
    # a pid namespace makes the kernel kill every process in the sandbox when its init dies
    out += ["--unshare-pid", "--die-with-parent", "--new-session", "--clearenv"]
    for k, v in env.items():
        out += ["--setenv", k, v]
    out += ["--chdir", str(cwd.resolve()), "--", *argv]
    return out


def python_path(first: Path) -> str:
    """PYTHONPATH with `first` ahead of what alphalab itself was started with (kept: it may be what makes the
    project importable)."""
    return os.pathsep.join(filter(None, [str(first), os.environ.get("PYTHONPATH")]))


def _path() -> str:
    # the running interpreter's directory first: an agent's python, pip and pytest are the ones with the project
    own = str(Path(sys.executable).parent)
    return os.pathsep.join([own, *(p for p in os.environ.get("PATH", "/usr/bin:/bin").split(os.pathsep) if p != own)])


def _sandbox_env(extra: dict[str, str]) -> dict[str, str]:
    base = {
        "PATH": _path(),
        "HOME": "/tmp",
        "LANG": os.environ.get("LANG", "C.UTF-8"),
    }
    return strip_secrets(base | extra)


def _kill_group(proc: subprocess.Popen, pgid: int) -> None:
    try:
        os.killpg(pgid, signal.SIGTERM)
    except ProcessLookupError:
        return
    try:
        proc.wait(_KILL_GRACE_S)
    except subprocess.TimeoutExpired:
        pass
    try:
        os.killpg(pgid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    proc.wait()


def run_command(
    cmd: str | list[str],
    *,
    cwd: Path,
    timeout_s: float,
    sandbox: SandboxConfig | None = None,
    writable: Sequence[Path] = (),
    readable: Sequence[Path] = (),
    hidden: Sequence[Path] = (),
    read_only: Sequence[Path] = (),
    env: dict | None = None,
    output_chars: int | None = None,
    log_path: Path | None = None,
) -> CommandResult:
    """Run `cmd` (a shell string for bash, or an argv list) in `cwd`; never raises for the command's own failure.

    Every process the command starts, detached ones included, is killed when it exits, so nothing outlives a call.
    `readable`, `writable`, `read_only` (re-bound read-only, e.g. a folder inside a writable one) and `hidden` shape
    the bwrap mounts; without bwrap only the environment is restricted. Raises SandboxUnavailable when the
    sandbox's mode is a strict `bwrap` that cannot run here.
    """
    cwd = Path(cwd)
    argv = ["bash", "-c", cmd] if isinstance(cmd, str) else [str(a) for a in cmd]
    extra = {str(k): str(v) for k, v in (env or {}).items()}
    if effective_mode(sandbox) == "bwrap":
        argv = _bwrap_argv(
            require_bwrap(), argv, cwd=cwd, allow_network=sandbox.allow_network, writable=writable,
            readable=readable, hidden=hidden, env=_sandbox_env(extra), read_only=read_only,
        )
        proc_env = _sandbox_env({})
    else:
        # a process group misses what the command detaches (setsid, double fork): the reaper catches those too
        argv = [*_REAPER, *argv]
        proc_env = strip_secrets(dict(os.environ) | {"PATH": _path()} | extra)
    if log_path is not None:
        Path(log_path).parent.mkdir(parents=True, exist_ok=True)

    start = time.monotonic()
    read_fd, write_fd = os.pipe()
    try:
        proc = subprocess.Popen(
            argv, cwd=cwd, env=proc_env, stdin=subprocess.DEVNULL, stdout=write_fd, stderr=write_fd,
            start_new_session=True,
        )
    except OSError as e:
        os.close(read_fd)
        os.close(write_fd)
        return CommandResult(returncode=127, output=f"could not start command: {e}", wall_seconds=0.0)
    os.close(write_fd)
    capture = OutputCapture(read_fd, output_chars, Path(log_path) if log_path is not None else None)
    timed_out = False
    try:
        proc.wait(timeout_s)
    except subprocess.TimeoutExpired:
        timed_out = True
        _kill_group(proc, proc.pid)
    except BaseException:
        _kill_group(proc, proc.pid)
        raise
    else:
        try:  # leftovers of a finished command would hold the pipe open
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    output = capture.result(timeout=5.0)
    if timed_out:
        output += f"\n[command timed out after {timeout_s:g} s; its process group was killed]"
    return CommandResult(
        returncode=proc.returncode, output=output, timed_out=timed_out,
        wall_seconds=round(time.monotonic() - start, 3), killed=timed_out,
    )
