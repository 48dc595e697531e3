"""Every file the trusted side keeps in an experiment folder, named once.

An experiment folder (`experiments/<id>/`) holds the experiment's own code (the manifest's `required_files`) plus
what running it leaves behind. None of these files is trusted: experiment code can write all of them. The result a
harness computes is not among them; it lives outside the folder (`Workspace.result_file`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from alphalab.board_rows import Experiment

Mode = Literal["smoke", "full"]

RUN_LOG = "run.log"  # the full run's output, every attempt appended after a header line
SMOKE_LOG = "smoke.log"
RUN_PID = "run.pid"  # the process group of a run in flight, so a crashed campaign's leftover can be killed
SMOKE_PID = "smoke.pid"
DEBRIEF = "debrief.md"
IO_DIR = "_io"  # a harness's exchange folder with the experiment process, removed after each run
CHECKPOINT_DIR = "checkpoint"  # speedrun: the model train.py saves; the harness scores it and clears it before a run
BUILD_CACHES = (".torch_extensions", ".triton")  # kernels: where the solution's extensions and Triton kernels build
# what a run leaves behind: never copied into a derived experiment
RUN_OUTPUTS = (RUN_LOG, SMOKE_LOG, RUN_PID, SMOKE_PID, DEBRIEF, IO_DIR, CHECKPOINT_DIR, "__pycache__")


def log_name(mode: Mode) -> str:
    return RUN_LOG if mode == "full" else SMOKE_LOG


def pid_name(mode: Mode) -> str:
    return RUN_PID if mode == "full" else SMOKE_PID


ERROR_LOG_CHARS = 4000


def _tail(path: Path, chars: int) -> str:
    return path.read_text(errors="replace")[-chars:] if path.is_file() else ""


def error_log(exp_dir: Path, exp: Experiment) -> str:
    """What a failed experiment left to diagnose it by: its error signature, the board's note, the logs' tails."""
    parts = [f"error signature: {exp.error_signature or 'unknown'}", exp.note]
    for name in (RUN_LOG, SMOKE_LOG):
        tail = _tail(exp_dir / name, ERROR_LOG_CHARS)
        if tail:
            parts.append(f"--- tail of {name} ---\n{tail}")
    return "\n".join(p for p in parts if p)
