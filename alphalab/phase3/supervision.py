"""When the Supervisor is called: once `supervisor_window` new attempts have ended and more than
`supervisor_threshold` of the last window failed; it gets those failures with the tails of their logs.

An attempt ends once, as a row of the board's runs table: with its full run, or with a failed smoke test of the
Worker's implement or fix (no full run follows that; a passing smoke test leads to the full run, which is then the
attempt's verdict). So a broken template, whose every implement fails its smoke test, reaches the Supervisor as a
run of failures although no full run ever fails."""

from __future__ import annotations

from alphalab.campaign import Campaign
from alphalab.experiment_files import error_log
from alphalab.phase3.contracts import Failure, Phase3Progress, SupervisorInput, WorkerOutcome

LOG_TAIL_CHARS = 2000
SMOKE_SLOT = "smoke"  # the slot of a smoke test's row: it ran on none of the Dispatcher's
WORKER_ERROR = "worker-error"  # the signature of a Worker task that raised


def smoke_failed(out: WorkerOutcome) -> bool:
    """An implement or fix whose smoke test failed. A Worker that gave up or raised ran none: that is no verdict on
    the experiment's code, and counting it would set the Supervisor on the template for a model's slip."""
    return not out.ok and not out.gave_up and out.error_signature != WORKER_ERROR


def record_smoke_failure(campaign: Campaign, attempt: int, out: WorkerOutcome) -> None:
    if smoke_failed(out):
        campaign.board.record_run(out.exp_id, attempt, SMOKE_SLOT, False, out.error_signature, None)


def supervisor_request(campaign: Campaign, progress: Phase3Progress) -> SupervisorInput | None:
    """The Supervisor's input when it is due (and `progress` marks the window as handled), else None."""
    board, cfg = campaign.board, campaign.config.phase3
    window = cfg.supervisor_window
    total = board.run_count()
    if total - progress.supervisor_at_run < window:
        return None
    runs = board.recent_runs(window)
    failed = [r for r in runs if not r.ok]
    rate = len(failed) / len(runs) if runs else 0.0
    if len(runs) < window or rate <= cfg.supervisor_threshold:
        return None
    progress.supervisor_at_run = total
    # for a smoke failure, error_log carries the smoke test's output: in the board's note and smoke.log's tail
    failures = [Failure(exp_id=r.exp_id, error_signature=r.error_signature,
                        log_tail=error_log(campaign.exp_dir(r.exp_id), board.get(r.exp_id))[-LOG_TAIL_CHARS:])
                for r in failed]
    return SupervisorInput(error_rate=rate, window=window, failures=failures)
