"""When the Supervisor is called: once `supervisor_window` new runs are recorded and more than
`supervisor_threshold` of the last window failed; it gets those failures with the tails of their logs."""

from __future__ import annotations

from alphalab.campaign import Campaign
from alphalab.experiment_files import error_log
from alphalab.phase3.contracts import Failure, Phase3Progress, SupervisorInput

LOG_TAIL_CHARS = 2000


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
    failures = [Failure(exp_id=r.exp_id, error_signature=r.error_signature,
                        log_tail=error_log(campaign.exp_dir(r.exp_id), board.get(r.exp_id))[-LOG_TAIL_CHARS:])
                for r in failed]
    return SupervisorInput(error_rate=rate, window=window, failures=failures)
