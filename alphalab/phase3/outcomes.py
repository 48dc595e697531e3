"""What a finished run or Worker task does to the board: the transitions the Dispatcher makes for each outcome (it
owns the board's moves; the roles only report)."""

from __future__ import annotations

from concurrent.futures import Future
from typing import Callable, Literal

from alphalab.board_rows import Experiment
from alphalab.campaign import Campaign
from alphalab.execution import RunOutcome
from alphalab.phase3 import noise_runs, verification
from alphalab.phase3.contracts import WorkerOutcome

NOTE_CHARS = 500
FIX_NOTE_CHARS = 300


def record_run(campaign: Campaign, exp: Experiment, o: RunOutcome, log: Callable[[str], None]) -> None:
    """A full run ended: finished with its metrics or failed with its signature; a re-run or a noise-floor run
    settles at once (no Worker analyzes or fixes it)."""
    board = campaign.board
    board.record_run(o.exp_id, exp.attempts, o.slot, o.ok, o.error_signature, o.started_at, seed=campaign.run_seed(exp))
    if o.ok:
        assert o.result is not None
        exp = board.transition(o.exp_id, "finished", metrics=o.result.metrics, eval_mode=o.result.eval_mode,
                               finished_at=o.finished_at, error_signature=None)
        log(f"{o.exp_id} finished: {o.result.metrics}")
    else:
        exp = board.transition(o.exp_id, "failed", error_signature=o.error_signature, note=o.error[-NOTE_CHARS:],
                               finished_at=o.finished_at)
        log(f"{o.exp_id} failed: {o.error_signature}")
    if exp.kind == "verify":
        verification.settle_run(campaign, exp, o.ok, log)
    elif exp.kind == "noise":
        noise_runs.settle_run(campaign, exp, o.ok, log)


def worker_outcome(exp_id: str, task: Literal["implement", "fix"], fut: Future) -> WorkerOutcome:
    """A Worker task's outcome; a task that raised is a failure of the Worker, not of the experiment's code."""
    try:
        return fut.result()
    except Exception as e:
        return WorkerOutcome(exp_id=exp_id, task=task, ok=False, error_signature="worker-error", detail=repr(e))


def record_implemented(campaign: Campaign, exp: Experiment, out: WorkerOutcome) -> None:
    """Implemented and smoke-tested: into the queue; otherwise failed, for a fix."""
    board = campaign.board
    if not out.ok:
        board.transition(exp.id, "failed", error_signature=out.error_signature, note=out.detail[-NOTE_CHARS:])
        return
    if exp.state == "to_implement":
        board.transition(exp.id, "implemented")
    board.transition(exp.id, "checked")
    board.transition(exp.id, "queued")


def record_fix(campaign: Campaign, exp: Experiment, out: WorkerOutcome) -> str:
    """A fix attempt: back to the queue when its smoke test passed, dead when attempts are used up or the Worker
    gave up, else still failed for another attempt. Returns the new state."""
    board = campaign.board
    attempts = exp.attempts + 1
    if out.spec is not None:
        board.update(exp.id, spec=out.spec)
    if out.ok:
        board.transition(exp.id, "checked", attempts=attempts, note=f"fix {attempts}: {out.detail[:FIX_NOTE_CHARS]}")
        board.transition(exp.id, "queued")
    elif out.gave_up or attempts >= campaign.config.phase3.max_fix_attempts:
        board.transition(exp.id, "dead", attempts=attempts, note=f"fix {attempts}: {out.detail[-FIX_NOTE_CHARS:]}")
    else:
        board.update(exp.id, attempts=attempts, error_signature=out.error_signature or exp.error_signature,
                     note=f"fix {attempts} failed: {out.detail[-FIX_NOTE_CHARS:]}")
    return board.get(exp.id).state
