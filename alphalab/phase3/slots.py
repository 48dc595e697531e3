"""The GPU slots and the runs in flight on them: which experiment holds which slot under which job, starting a
queued run on a free slot, freeing it when the runner reports the end, and stopping runs on a cancel or a hard
stop (a run stopped by a hard stop goes back to the queue when its end arrives)."""

from __future__ import annotations

import time
from typing import Callable

from alphalab.board_rows import Experiment
from alphalab.campaign import Campaign
from alphalab.execution import ExperimentRunner, OnDone, RunOutcome

# after a submission fails (e.g. the Prefect API is down) the slots wait this long before the next try
SUBMIT_BACKOFF_S = 5.0


class Slots:
    def __init__(self, campaign: Campaign, runner: ExperimentRunner, on_done: OnDone, log: Callable[[str], None]):
        self.campaign = campaign
        self.runner = runner
        self.on_done = on_done
        self.log = log
        self.jobs: dict[str, str] = {}  # exp id -> job id of its run in flight
        self._holder: dict[str, str] = {}  # slot -> exp id
        self._requeue: set[str] = set()
        self._killed: set[str] = set()
        self._retry_at = 0.0

    @property
    def names(self) -> list[str]:
        return self.runner.slots

    def free(self) -> list[str]:
        if time.monotonic() < self._retry_at:
            return []
        return [s for s in self.runner.slots if s not in self._holder]

    def hold(self, exp_id: str, job_id: str, slot: str) -> None:
        self.jobs[exp_id] = job_id
        self._holder[slot] = exp_id

    def start(self, exp: Experiment, slot: str) -> None:
        board = self.campaign.board
        exp = board.transition(exp.id, "running", expect="queued", slot=slot, started_at=time.time(), job_id=None)
        try:
            job_id = self.runner.submit(self.campaign.run_request(exp, slot), self.on_done)
        except Exception as e:
            self.log(f"could not start {exp.id} on slot {slot}: {e!r}; back to the queue")
            board.transition(exp.id, "queued")
            self._retry_at = time.monotonic() + SUBMIT_BACKOFF_S
            return
        self.hold(exp.id, job_id, slot)
        board.update(exp.id, job_id=job_id)
        self.log(f"{exp.id} started on slot {slot} (job {job_id})")

    def release(self, outcome: RunOutcome) -> bool:
        """Free the slot of a finished job; False when the outcome is stale (not the job we track)."""
        if self.jobs.get(outcome.exp_id) != outcome.job_id:
            return False
        del self.jobs[outcome.exp_id]
        if self._holder.get(outcome.slot) == outcome.exp_id:
            del self._holder[outcome.slot]
        self._killed.discard(outcome.exp_id)
        return True

    def stop_all_for_requeue(self) -> None:
        for exp_id, job_id in list(self.jobs.items()):
            self._requeue.add(exp_id)
            self.runner.cancel(job_id)

    def take_requeue(self, exp_id: str) -> bool:
        """True (once) when this run was stopped by a hard stop and goes back to the queue."""
        if exp_id not in self._requeue:
            return False
        self._requeue.discard(exp_id)
        return True

    def stop_cancelled(self) -> None:
        for exp_id, job_id in list(self.jobs.items()):
            if exp_id not in self._killed and self.campaign.board.get(exp_id).state == "cancelled":
                self._killed.add(exp_id)
                self.runner.cancel(job_id)
                self.log(f"{exp_id} cancelled while running: job {job_id} stopped")
