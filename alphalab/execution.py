"""Running an experiment's evaluation: the one run path (`execute`) every caller uses, for the Worker's smoke test
and the full run alike, and the runners that put full runs on GPU slots behind one protocol.

`execute` runs the manifest's harness command with the workspace as working directory (never the experiment
folder, which would put experiment files first on the harness's `sys.path`), checks the sealed workspace harness
first, and accepts only a result the harness wrote for this very run outside the experiment folder.

A runner starts a job and reports its end through a callback, so the Dispatcher reacts at once (no polling ticks).
`LocalRunner` runs one subprocess per slot with `CUDA_VISIBLE_DEVICES` pinned to the slot; the work-pool runner
(which needs Prefect) lives in `tasks/work_pool.py` and speaks the same protocol.

Crash recovery: a local job writes its process-group id to `run.pid` and carries `ALPHALAB_JOB=<id>:<attempt>` in its
environment; after a crash of the campaign, `recover` kills a surviving group (checking that marker first, so a
recycled pid is never hit) and the Dispatcher re-queues the run unless the harness had already recorded its result.
Cancel kills the same group; the harness's reaper (alphalab/reaper.py) then kills and sweeps what left the group.
"""

from __future__ import annotations

import os
import re
import shlex
import signal
import sys
import threading
import time
import uuid
from pathlib import Path
from typing import Callable, Literal, Protocol

from pydantic import BaseModel

from alphalab import harness_seal
from alphalab.experiment_files import log_name, pid_name
from alphalab.harness_inputs import HarnessInputs, Mode
from alphalab.results import RunResult
from alphalab.sandbox import python_path, run_command
from alphalab.workspace import Workspace

JOB_MARKER = "ALPHALAB_JOB"
# how long a cancel keeps looking for a job's process group that is not recorded yet (a job starting up)
_CANCEL_WINDOW_S = 10.0
_ERROR_LINE = re.compile(r"\b([A-Z][A-Za-z]*(?:Error|Exception|Interrupt))\b")


def job_marker(exp_id: str, attempt: int, mode: str) -> str:
    """The `ALPHALAB_JOB` value of a run's processes."""
    return f"{exp_id}:smoke" if mode == "smoke" else f"{exp_id}:{attempt}"


class RunRequest(BaseModel):
    exp_id: str
    attempt: int
    mode: Literal["smoke", "full"]
    seed: int
    slot: str  # "" leaves the GPUs as the caller sees them (the smoke test)
    command: str  # already formatted; run with bash in the workspace
    exp_dir: Path
    workspace: Path
    timeout_s: float
    # distinguishes launches of one attempt (a run re-queued after a hard stop starts again under a new launch)
    launch: str = ""

    @property
    def idempotency_key(self) -> str:
        return f"{self.exp_id}-{self.attempt}-{self.launch}"

    @property
    def marker(self) -> str:
        return job_marker(self.exp_id, self.attempt, self.mode)

    @property
    def result_file(self) -> Path:
        return Workspace(self.workspace).result_file(self.exp_dir, self.mode)

    @property
    def log_file(self) -> Path:
        return self.exp_dir / log_name(self.mode)

    @property
    def pid_file(self) -> Path:
        return self.exp_dir / pid_name(self.mode)


class RunOutcome(BaseModel):
    exp_id: str
    attempt: int
    slot: str
    job_id: str
    returncode: int | None
    timed_out: bool = False
    started_at: float
    finished_at: float
    output_tail: str = ""
    result: RunResult | None = None

    @property
    def ok(self) -> bool:
        return self.returncode == 0 and self.result is not None and self.result.status == "ok"

    @property
    def error_signature(self) -> str | None:
        if self.ok:
            return None
        if self.timed_out:
            return "timeout"
        if self.result is not None and self.result.error_signature:
            return self.result.error_signature
        killed = killed_by(self.returncode)
        if killed:
            return f"harness_killed:{killed}"
        return signature_from_log(self.output_tail) or (
            "no-result" if self.returncode == 0 else f"exit-{self.returncode}")

    @property
    def error(self) -> str:
        if self.result is not None and self.result.error:
            return self.result.error
        return self.output_tail[-2000:]


OnDone = Callable[[RunOutcome], None]


class ExperimentRunner(Protocol):
    slots: list[str]

    def submit(self, request: RunRequest, on_done: OnDone) -> str:
        """Start the job and return its id at once; `on_done` is called (from any thread) when it ends."""

    def cancel(self, job_id: str) -> None:
        """Stop a job; its `on_done` still fires."""

    def recover(self, request: RunRequest, job_id: str | None, on_done: OnDone) -> str | None:
        """After a crash: the id of the job when the runner adopted it (on_done fires later; `job_id` is None when
        the crash came before it was recorded); None when the job is gone (and anything left of it was stopped)."""


def killed_by(returncode: int | None) -> str | None:
    """The signal that ended a process, from its exit status (negative from Popen, 128+N through a shell)."""
    if returncode is None or 0 <= returncode <= 128:
        return None
    number = -returncode if returncode < 0 else returncode - 128
    try:
        return signal.Signals(number).name
    except ValueError:
        return None


def signature_from_log(text: str) -> str | None:
    """A short stable key for grouping failures: the last exception name in the output."""
    names = _ERROR_LINE.findall(text or "")
    return names[-1] if names else None


def fresh_result(request: RunRequest, since: float) -> RunResult | None:
    """The harness's result for this very run: right mode and seed, written after the run started."""
    path = request.result_file
    try:
        if path.lstat().st_mtime < since - 1.0:
            return None
    except FileNotFoundError:
        return None
    result = RunResult.read_file(path)
    # every harness records the seed it ran with (harnesses.base does): a result without it is not this run's
    if result is None or result.eval_mode != request.mode or result.seed != request.seed:
        return None
    return result


def format_command(template: str, **values: object) -> str:
    """Fill a manifest command; every value is shell-quoted."""
    return template.format(**{k: shlex.quote(str(v)) for k, v in values.items()})


def harness_command(template: str, inputs: HarnessInputs, workspace: Workspace, exp_dir: Path, mode: Mode,
                    seed: int) -> str:
    """A manifest command with every placeholder it may use (alphalab.manifest.PLACEHOLDERS) filled: the run's own
    and the campaign's (`inputs`)."""
    return format_command(template, python=sys.executable, workspace=workspace.root, harness=workspace.harness,
                          exp_dir=exp_dir, mode=mode, seed=seed, **inputs.placeholders(mode))


def _group_alive_with_marker(pgid: int, marker: str) -> bool:
    try:
        environ = Path(f"/proc/{pgid}/environ").read_bytes()
    except OSError:
        return False
    return f"{JOB_MARKER}={marker}".encode() in environ.split(b"\0")


def kill_marked_group(pid_file: Path, marker: str) -> bool:
    """Kill the process group recorded in `pid_file` if it still runs this job. True when something was killed."""
    try:
        pgid = int(pid_file.read_text().strip())
    except (OSError, ValueError):
        return False
    if not _group_alive_with_marker(pgid, marker):
        return False
    try:
        os.killpg(pgid, signal.SIGKILL)
    except ProcessLookupError:
        return False
    deadline = time.monotonic() + 2.0  # the kill is asynchronous; callers go on to reuse the experiment's folder
    while _group_alive_with_marker(pgid, marker) and time.monotonic() < deadline:
        time.sleep(0.01)
    return True


def stop_job(workspace: str | Path, exp_id: str, attempt: int, mode: str) -> bool:
    """Kill what is left of a run on this machine, from its parameters alone (the flow's cancel and crash hooks
    have no RunRequest). True when something was killed."""
    return kill_marked_group(Workspace(Path(workspace)).experiment(exp_id) / pid_name(mode),
                             job_marker(exp_id, attempt, mode))


def recording_pid(command: str, pid_file: Path) -> str:
    """`command` for bash, writing its process-group id to `pid_file` first (run in a new session, the shell leads
    its group, and `exec` keeps that pid), so a crashed campaign's leftover can be found and killed."""
    return f"echo $$ > {shlex.quote(str(pid_file))}; exec {command}"


def _run_env(request: RunRequest, ws: Workspace) -> dict[str, str]:
    env = {JOB_MARKER: request.marker}
    if request.slot:
        env["CUDA_VISIBLE_DEVICES"] = request.slot
    # a workspace harness (`-m harness.evaluate`) is importable through a folder holding only its link
    root = harness_seal.import_root(ws)
    if root is not None:
        env["PYTHONPATH"] = python_path(root)
    return env


def execute(request: RunRequest, job_id: str) -> RunOutcome:
    """Run one evaluation to its end on this machine: pinned GPU, own timeout, output to the mode's log."""
    started = time.time()
    ws = Workspace(request.workspace)

    def outcome(returncode: int | None, output: str, result: RunResult | None = None,
                timed_out: bool = False) -> RunOutcome:
        return RunOutcome(exp_id=request.exp_id, attempt=request.attempt, slot=request.slot, job_id=job_id,
                          returncode=returncode, timed_out=timed_out, started_at=started, finished_at=time.time(),
                          output_tail=output[-4000:], result=result)

    try:
        # one task at a time per experiment: a process still running under this marker is a crashed campaign's
        # leftover, which would hold a GPU and could write over this run's files
        kill_marked_group(request.pid_file, request.marker)
        request.result_file.unlink(missing_ok=True)
        with open(request.log_file, "a", encoding="utf-8") as f:
            f.write(f"=== {request.mode} run, attempt {request.attempt}, seed {request.seed}, "
                    f"slot {request.slot or 'any'} ===\n")
        tampered = harness_seal.changes(ws)
        if tampered:
            message = f"the sealed harness/ changed since Phase 2 accepted it: {', '.join(tampered)}"
            return outcome(None, message, RunResult(status="failed", eval_mode=request.mode, seed=request.seed,
                                                    error=message, error_signature="harness_tampered"))
        res = run_command(
            recording_pid(request.command, request.pid_file), cwd=ws.root, timeout_s=request.timeout_s,
            output_chars=4000, log_path=request.log_file, env=_run_env(request, ws),
        )
    except Exception as e:  # an outcome must come back whatever happens, or the slot would leak
        return outcome(None, f"runner error: {e!r}")
    # a harness that did not end on its own (timed out, killed) vouches for nothing it left behind
    trusted = not res.timed_out and res.returncode in (0, 1)
    return outcome(res.returncode, res.output, fresh_result(request, started) if trusted else None, res.timed_out)


class LocalRunner:
    """One subprocess per slot on this machine. Each job runs in a thread that blocks on the process."""

    def __init__(self, slots: list[str]):
        self.slots = list(slots)
        self._jobs: dict[str, RunRequest] = {}
        self._lock = threading.Lock()

    def submit(self, request: RunRequest, on_done: OnDone) -> str:
        job_id = f"local-{request.exp_id}-{request.attempt}-{uuid.uuid4().hex[:6]}"
        with self._lock:
            self._jobs[job_id] = request
        threading.Thread(target=self._run, args=(job_id, request, on_done), daemon=True,
                         name=f"run-{request.exp_id}").start()
        return job_id

    def _run(self, job_id: str, request: RunRequest, on_done: OnDone) -> None:
        try:
            outcome = execute(request, job_id)
        finally:
            with self._lock:
                self._jobs.pop(job_id, None)
        on_done(outcome)

    def cancel(self, job_id: str) -> None:
        with self._lock:
            request = self._jobs.get(job_id)
        if request is None:
            return
        # A job just submitted may not have recorded its process group yet (or still be checking the seal): keep
        # trying until the kill lands or the job ends. The group kill reaches the harness's whole group at once,
        # and the reaper above it then sweeps what left the group (setsid, double fork).
        deadline = time.monotonic() + _CANCEL_WINDOW_S
        while not kill_marked_group(request.pid_file, request.marker) and time.monotonic() < deadline:
            with self._lock:
                if job_id not in self._jobs:
                    return
            time.sleep(0.02)

    def recover(self, request: RunRequest, job_id: str | None, on_done: OnDone) -> str | None:
        # the job's output pipe and waiting thread died with the campaign: stop what is left, the run starts over
        kill_marked_group(request.pid_file, request.marker)
        return None
