"""Writing the result of an evaluation. Only the harness process calls these; experiment code never does.

`clear_result` runs before the experiment (a stale or forged metrics.json must not survive) and `record` clears again
before writing, so a file the experiment wrote during its run is replaced by the harness's own.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any, Literal

from alphalab.results import RESULT_FILE, RunResult


def clear_result(exp_dir: Path) -> None:
    exp_dir = Path(exp_dir)
    for name in (RESULT_FILE, Path(RESULT_FILE).with_suffix(".tmp").name):
        path = exp_dir / name
        # a directory or symlink planted under the result's name must go as well
        if path.is_symlink() or path.is_file():
            path.unlink()
        elif path.is_dir():
            shutil.rmtree(path)


def record(exp_dir: Path, result: RunResult) -> Path:
    clear_result(exp_dir)
    return result.write(Path(exp_dir))


def fail(
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
    record(exp_dir, result)
    return result
