"""Writing the result of an evaluation. Only the harness process calls these; experiment code never does.

The result goes to `Workspace.result_file(exp_dir, mode)`, outside the experiment folder (see alphalab/results.py).
`clear_result` runs before the experiment, and `record` replaces whatever is there, so a file planted under the
result's name (a symlink, a folder) never survives a run.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any, Literal

from alphalab.results import RunResult
from alphalab.workspace import Workspace


def clear_result(workspace: Workspace, exp_dir: Path, mode: str) -> None:
    path = workspace.result_file(exp_dir, mode)
    for p in (path, path.with_suffix(".tmp")):
        if p.is_symlink() or p.is_file():
            p.unlink()
        elif p.is_dir():
            shutil.rmtree(p)


def record(workspace: Workspace, exp_dir: Path, result: RunResult) -> Path:
    clear_result(workspace, exp_dir, result.eval_mode)
    return result.write(workspace.result_file(exp_dir, result.eval_mode))


def fail(
    workspace: Workspace,
    exp_dir: Path,
    mode: Literal["smoke", "full"],
    error: str,
    signature: str,
    *,
    harness: str = "",
    seed: int | None = None,
    wall_seconds: float | None = None,
    details: dict[str, Any] | None = None,
) -> RunResult:
    result = RunResult(
        status="failed", eval_mode=mode, error=error, error_signature=signature, harness=harness, seed=seed,
        wall_seconds=wall_seconds, details=details or {},
    )
    record(workspace, exp_dir, result)
    return result
