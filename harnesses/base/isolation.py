"""Running experiment code in its own process, seeing only what it may see.

The experiment process gets: its own folder (the only writable path), the `inputs` the harness prepared for it, and
whatever the sandbox leaves readable (a read-only root under bwrap). The workspace's `.private/` (held-out targets)
and any `hidden` path (e.g. the raw dataset, whose test split holds the targets) are masked under bwrap. Without a
sandbox the separation is by process only: the metric is still computed by the harness and nothing the experiment
starts outlives it (the reaper), but a hostile experiment could read files it should not; the default
`sandbox.mode: auto` uses bwrap wherever it works and says so at campaign start where it does not.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from alphalab.experiment_files import RUN_LOG
from alphalab.sandbox import CommandResult, SandboxConfig, run_command
from alphalab.workspace import Workspace


def run_experiment_process(
    argv: list[str],
    *,
    exp_dir: Path,
    workspace: Workspace,
    timeout_s: float,
    sandbox: SandboxConfig | None,
    inputs: Sequence[Path] = (),
    env: dict | None = None,
    hidden: Sequence[Path] = (),
) -> CommandResult:
    """Run `argv` with cwd=exp_dir; its output is appended to `exp_dir/run.log`, where the experiment runner has
    already written its header line for this attempt (so one log holds every attempt, in order)."""
    exp_dir = Path(exp_dir).resolve()
    return run_command(
        argv,
        cwd=exp_dir,
        timeout_s=timeout_s,
        sandbox=sandbox,
        writable=(exp_dir,),
        readable=tuple(Path(p).resolve() for p in inputs),
        hidden=(workspace.private, *(Path(p).resolve() for p in hidden)),
        env=env,
        log_path=exp_dir / RUN_LOG,
    )
