"""shell_exec: a shell command in the workspace, through the sandbox (timeout kills the process group,
secrets are stripped from the environment, long output keeps head and tail)."""

from __future__ import annotations

from pathlib import Path

from alphalab.sandbox import python_path, run_command
from alphalab.tools.base import ToolContext, tool


@tool
def shell_exec(ctx: ToolContext, command: str, timeout_s: float | None = None) -> str:
    """Run a bash command in the workspace and return its exit code and combined stdout/stderr.
    Write and run scripts, install packages, inspect files.

    Args:
        command: the bash command line.
        timeout_s: seconds before the command and everything it started are killed; it may shorten, never
            extend, the default timeout.
    """
    limit = ctx.shell_timeout_s if timeout_s is None else min(max(timeout_s, 1.0), ctx.shell_timeout_s)
    workspace = Path(ctx.workspace).resolve()
    # a manifest's command runs `python -P -m harness.evaluate` (-P keeps the cwd off sys.path), as the trusted
    # runner does: the workspace root makes its harness/ importable
    res = run_command(
        command, cwd=workspace, timeout_s=limit, sandbox=ctx.sandbox, readable=ctx.readable, hidden=ctx.hidden,
        read_only=ctx.read_only, env={"PYTHONPATH": python_path(workspace)}, output_chars=ctx.output_chars,
    )
    status = f"timed out after {limit:g} s (killed)" if res.timed_out else f"exit code {res.returncode}"
    return f"{status}, {res.wall_seconds:.1f} s\n{res.output}"
