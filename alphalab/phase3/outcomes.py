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
from alphalab.phase3.supervision import WORKER_ERROR, record_smoke_failure

NOTE_CHARS = 500
FIX_NOTE_CHARS = 300
ANALYZE_TRIES = 2


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
    """A Worker task's outcome; a task that raised is a failure of the Worker, not of the experiment's code (a
    ProviderError never gets here: it stops Phase 3 and leaves the experiment as it was)."""
    try:
        return fut.result()
    except Exception as e:
        return WorkerOutcome(exp_id=exp_id, task=task, ok=False, error_signature=WORKER_ERROR, detail=repr(e))


def record_implemented(campaign: Campaign, exp: Experiment, out: WorkerOutcome) -> None:
    """Implemented and smoke-tested: into the queue; otherwise failed, for a fix."""
    board = campaign.board
    if not out.ok:
        record_smoke_failure(campaign, exp.attempts, out)
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
    record_smoke_failure(campaign, attempts, out)
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


def dead_if_exhausted(campaign: Campaign, exp_id: str) -> bool:
    """A failure with no fix attempt left (or a re-run, which is never fixed) is dead; True when it is."""
    exp = campaign.board.get(exp_id)
    if exp.kind != "experiment" or exp.attempts >= campaign.config.phase3.max_fix_attempts:
        campaign.board.transition(exp_id, "dead", note=f"{exp.attempts} fix attempt(s) used")
        return True
    return False


def record_analysis(campaign: Campaign, exp_id: str, fut: Future, errors: dict[str, int],
                    log: Callable[[str], None]) -> None:
    """An analysis ended: the experiment is analyzed (a failed analysis is tried once more, then the experiment is
    analyzed with the failure in its note), and a new best is queued for its re-runs."""
    board = campaign.board
    if board.get(exp_id).state != "finished":
        return
    try:
        fut.result()
    except Exception as e:
        errors[exp_id] = errors.get(exp_id, 0) + 1
        log(f"analysis of {exp_id} failed: {e!r}")
        if errors[exp_id] < ANALYZE_TRIES:
            return
        board.transition(exp_id, "analyzed", note=f"analysis failed: {e!r}"[:NOTE_CHARS])
    else:
        board.transition(exp_id, "analyzed")
    verification.queue_if_best(campaign, board.get(exp_id), log)
