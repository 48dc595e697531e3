"""The Phase 3 Dispatcher: a pure-Python control loop. It makes no LLM calls; it only moves experiments across the
board, assigns tasks by priority and keeps the GPU slots busy.

Event-driven: runs and role tasks report their end into one queue, and the loop handles each event at once (the
paper's Dispatcher ticked every 30 s). Between events it wakes at most every `poll_s` to read operator input.

Priorities: fix > analyze > implement; queued runs start on free slots, the noise floor's first (noise_runs.py), then
re-runs of a new best, then experiments. The Strategist
runs every `strategist_every` analyzed experiments or when the queue would run dry; the Reporter every
`reporter_every`; the Supervisor when the failure rate of the recent attempts passes its threshold (supervision.py).
Stops are in stops.py, verification of a new best in verification.py, resuming after a crash in recovery.py.
"""

from __future__ import annotations

import contextvars
import queue
import time
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Callable

from alphalab.board_rows import PENDING, IllegalTransition, UnknownExperiment
from alphalab.campaign import Campaign
from alphalab.execution import ExperimentRunner, RunOutcome
from alphalab.models.base import ProviderError
from alphalab.operator import apply_item
from alphalab.phase3 import noise_runs, outcomes, stops
from alphalab.phase3.contracts import (
    InboxItem, MilestoneOutcome, Phase3Roles, Phase3Summary, StopReason, StrategistOutput,
    SupervisorOutcome,
)
from alphalab.phase3.progress import load_progress, save_progress
from alphalab.phase3.recovery import recover_running
from alphalab.phase3.slots import Slots
from alphalab.phase3.supervision import supervisor_request
from alphalab.phase3.turns import StrategistTurns

WORKER_TASKS = ("fix", "analyze", "implement")
RUN_ORDER = ("noise", "verify", "experiment")


class Dispatcher:
    def __init__(
        self,
        campaign: Campaign,
        runner: ExperimentRunner,
        roles: Phase3Roles,
        *,
        max_workers: int | None = None,
        inbox: Callable[[], list[InboxItem]] | None = None,
        usd_spent: Callable[[], float] | None = None,
        on_change: Callable[[], None] | None = None,
        log: Callable[[str], None] = print,
        poll_s: float = 1.0,
    ):
        self.campaign = campaign
        self.board = campaign.board
        self.cfg = campaign.config.phase3
        self.roles = roles
        self.max_workers = max_workers or len(runner.slots) + 2
        self.inbox = inbox or (lambda: [])
        self.usd_spent = usd_spent or (lambda: 0.0)
        self.on_change = on_change or (lambda: None)
        self.log = log
        self.poll_s = poll_s
        self.progress = load_progress(self.board)
        self._events: queue.Queue = queue.Queue()
        self._pool = ThreadPoolExecutor(self.max_workers + 3, thread_name_prefix="phase3-role")
        self._tasks: dict[tuple[str, str], Future] = {}
        self.slots = Slots(campaign, runner, self._run_done, log)
        self._analyze_errors: dict[str, int] = {}
        self.turns = StrategistTurns(campaign, len(runner.slots))
        # this run's stop (the one on record in `progress` may be an earlier run's: a resumed campaign decides again)
        self._stop: StopReason | None = None
        self._dead_before = stops.dead_ids(self.board)  # a resumed campaign counts its deaths afresh (stops.all_dead)
        self.provider_error: ProviderError | None = None  # the first one a role task raised: the flow reports it
        self._changed = True

    def _save(self, **changes: object) -> None:
        for k, v in changes.items():
            setattr(self.progress, k, v)
        save_progress(self.board, self.progress)

    def budget_left(self) -> int:
        return max(0, self.campaign.config.budgets.experiments - self.board.experiments_used())

    # ---- role tasks ------------------------------------------------------------------------------------------
    def _submit(self, kind: str, key: str, fn: Callable, *args: object) -> None:
        # a copied context keeps the caller's (e.g. a Prefect flow run's) context in the pool thread
        fut = self._pool.submit(contextvars.copy_context().run, fn, *args)
        self._tasks[(kind, key)] = fut
        fut.add_done_callback(lambda f, k=(kind, key): self._events.put(("role", k, f)))

    def _active(self, kind: str, key: str = "") -> bool:
        return (kind, key) in self._tasks

    def _run_done(self, outcome: RunOutcome) -> None:
        """A runner's callback, from any thread: the loop handles the outcome."""
        self._events.put(("run", outcome))

    # ---- the loop --------------------------------------------------------------------------------------------
    def run(self) -> Phase3Summary:
        if self.progress.started_at is None:
            self._save(started_at=time.time())
        recovered = recover_running(self.campaign, self.slots.runner, self._run_done, self.log)
        for a in recovered.adopted:
            self.slots.hold(a.exp_id, a.job_id, a.slot)
        for outcome in recovered.finished:
            self._on_run(outcome)
        noise_runs.plan(self.campaign, self.log)
        try:
            while True:
                try:
                    self._read_inbox()
                    self.slots.stop_cancelled()
                    self._update_stop()
                    self._schedule()
                except IllegalTransition as e:  # a concurrent cancel won the race; the board decides
                    self.log(f"board changed underneath: {e}")
                if self._changed:
                    self._changed = False
                    self.on_change()
                if self._finished():
                    break
                self._wait()
            self._final_report()
        finally:
            self._pool.shutdown(wait=True)
        self.on_change()
        return self.summary()

    def _wait(self) -> None:
        try:
            event = self._events.get(timeout=self.poll_s)
        except queue.Empty:
            return
        while True:
            try:
                self._handle(event)
            except IllegalTransition as e:
                self.log(f"board changed underneath: {e}")
            self._changed = True
            try:
                event = self._events.get_nowait()
            except queue.Empty:
                return

    def _handle(self, event: tuple) -> None:
        if event[0] == "run":
            if self.slots.release(event[1]):
                self._fill_slots()  # the freed slot first: recording the finished run can wait a few milliseconds
                self._on_run(event[1])
        else:
            _, key, fut = event
            del self._tasks[key]
            if (error := stops.provider_error(fut)) is not None:
                self._provider_stop(" ".join(filter(None, key)), error)
            else:
                getattr(self, f"_on_{key[0]}")(key[1], fut)
                self._check_supervisor()  # an implement's or a fix's failed smoke test counts in its window

    def _finished(self) -> bool:
        if self._tasks or self.slots.jobs:
            return False
        if self._stop in stops.HARD_STOPS:
            return True
        outstanding = self.board.select(*PENDING, "running", "finished", "failed")
        if self._stop in stops.SOFT_STOPS:
            return not outstanding
        if outstanding or self._strategist_due():
            return False
        self._stop = "experiment_budget" if self.budget_left() == 0 else "no_proposals"
        return True

    def _update_stop(self) -> None:
        if self._stop is None and (reason := stops.stop_reason(self.campaign, self.progress, self.usd_spent(),
                                                               self._dead_before)):
            self._halt(reason)

    def _halt(self, reason: StopReason) -> None:
        if self._stop not in stops.HARD_STOPS and reason in stops.HARD_STOPS:
            self.slots.stop_all_for_requeue()
        self._stop = reason
        self.log(f"stopping: {reason}")
        self._save(stop_reason=reason)

    def _provider_stop(self, task: str, error: ProviderError) -> None:
        """The board is left as before the task (an experiment in flight is not failed, no fix attempt is spent): a
        resumed campaign, once the key or quota is fixed, does that work again."""
        self.log(f"{task} stopped by its provider: {error}")
        if self.provider_error is None:
            self.provider_error = error
            self._halt("provider_error")

    # ---- scheduling ------------------------------------------------------------------------------------------
    def _schedule(self) -> None:
        if self._stop in stops.HARD_STOPS:
            return
        if self._stop is not None:
            stops.wind_down(self.board, self._stop)
        for e in self.board.select("checked"):
            self.board.transition(e.id, "queued")
        self._fill_slots()
        self._assign_workers()
        if self._stop is None and self._strategist_due():
            self._start_strategist()
        if self.board.analyzed_count() // self.cfg.reporter_every > self.progress.milestones \
                and not self._active("reporter"):
            self._submit("reporter", "", self.roles.reporter, self.progress.milestones + 1)

    def _fill_slots(self) -> None:
        free = self.slots.free()
        if not free or self._stop in stops.HARD_STOPS:
            return
        # the noise floor first (it is what gains are read against), then re-runs, then experiments
        queued = sorted(self.board.select("queued"), key=lambda e: (RUN_ORDER.index(e.kind), e.seq))
        if self._stop is not None:
            queued = [e for e in queued if e.kind != "experiment"]
        for slot, exp in zip(free, queued, strict=False):  # more of either simply waits
            self.slots.start(exp, slot)

    def _assign_workers(self) -> None:
        room = self.max_workers - sum(1 for kind, _ in self._tasks if kind in WORKER_TASKS)
        todo: list[tuple[str, str, Callable]] = []
        if self._stop is None:
            todo += [("fix", e.id, self.roles.fix) for e in self.board.select("failed")]
        todo += [("analyze", e.id, self.roles.analyze) for e in self.board.select("finished")]
        if self._stop is None:
            todo += [("implement", e.id, self.roles.implement)
                     for e in self.board.select("to_implement", "implemented")]
        for kind, exp_id, fn in todo:
            if room <= 0:
                return
            if any(self._active(k, exp_id) for k in WORKER_TASKS):
                continue
            if kind == "fix" and outcomes.dead_if_exhausted(self.campaign, exp_id):
                continue
            self._submit(kind, exp_id, fn, exp_id)
            room -= 1

    def _pending_runs(self) -> int:
        return len(self.board.select(*PENDING, kind="experiment"))

    def _strategist_due(self) -> bool:
        if self._active("strategist") or self._stop is not None or self.budget_left() == 0:
            return False
        return self.turns.due(self.progress, self._pending_runs())

    def _start_strategist(self) -> None:
        inp = self.turns.start(self.progress, self._pending_runs(), self.budget_left(), self.usd_spent())
        self._save()
        self._submit("strategist", "", self.roles.strategist, inp)

    # ---- events ----------------------------------------------------------------------------------------------
    def _on_run(self, o: RunOutcome) -> None:
        exp = self.board.get(o.exp_id)
        if exp.state != "running":  # cancelled while it ran
            return
        if self.slots.take_requeue(o.exp_id):
            self.board.transition(o.exp_id, "queued", note=f"stopped by {self._stop}; re-queued")
            return
        outcomes.record_run(self.campaign, exp, o, self.log)
        self._check_supervisor()

    def _on_implement(self, exp_id: str, fut: Future) -> None:
        exp = self.board.get(exp_id)
        if exp.state not in ("to_implement", "implemented"):
            return
        outcomes.record_implemented(self.campaign, exp, outcomes.worker_outcome(exp_id, "implement", fut))

    def _on_fix(self, exp_id: str, fut: Future) -> None:
        exp = self.board.get(exp_id)
        if exp.state != "failed":
            return
        state = outcomes.record_fix(self.campaign, exp, outcomes.worker_outcome(exp_id, "fix", fut))
        self.log(f"fix {exp.attempts + 1} of {exp_id}: {state}")

    def _on_analyze(self, exp_id: str, fut: Future) -> None:
        outcomes.record_analysis(self.campaign, exp_id, fut, self._analyze_errors, self.log)

    def _on_strategist(self, _: str, fut: Future) -> None:
        try:
            out: StrategistOutput = fut.result()
        except Exception as e:
            self.log(f"strategist turn failed: {e!r}")
            self.turns.failed()
            return
        self.turns.settle(out)
        self.log(f"strategist: {len(out.proposed)} proposed, {len(out.cancelled)} cancelled")

    def _on_supervisor(self, _: str, fut: Future) -> None:
        try:
            out: SupervisorOutcome = fut.result()
            self.log(f"supervisor: {out.reason}")
        except Exception as e:
            self.log(f"supervisor failed: {e!r}")

    def _on_reporter(self, _: str, fut: Future) -> None:
        try:
            out: MilestoneOutcome = fut.result()
        except Exception as e:
            self.log(f"reporter failed: {e!r}")
            return
        self._save(milestones=out.number, milestone_analyzed=self.board.analyzed_count())

    def _check_supervisor(self) -> None:
        if self._active("supervisor") or self._stop in stops.HARD_STOPS:
            return
        request = supervisor_request(self.campaign, self.progress)
        if request is None:
            return
        self._save()
        self.log(f"supervisor triggered: {request.error_rate:.0%} of the last {request.window} attempts failed")
        self._submit("supervisor", "", self.roles.supervisor, request)

    def _final_report(self) -> None:
        analyzed = self.board.analyzed_count()
        if analyzed in (0, self.progress.milestone_analyzed) or self.provider_error is not None:
            return
        n = self.progress.milestones + 1
        try:
            self.roles.reporter(n)
        except ProviderError as e:
            self._provider_stop("final report", e)
            return
        except Exception as e:
            self.log(f"final report failed: {e!r}")
            return
        self._save(milestones=n, milestone_analyzed=analyzed)

    # ---- operator input --------------------------------------------------------------------------------------
    def _read_inbox(self) -> None:
        for item in self.inbox():
            self._changed = True
            try:
                self.log(f"operator: {apply_item(self.board, item)}")
            except (IllegalTransition, UnknownExperiment) as e:
                self.log(f"operator cancel refused: {e}")

    def summary(self) -> Phase3Summary:
        best = self.board.best(self.campaign.metric)
        return Phase3Summary(
            stop_reason=self._stop or "experiment_budget", analyzed=self.board.analyzed_count(),
            stop_cause=stops.stop_cause(self.campaign, self._stop, self._dead_before),
            best_id=best.id if best else None, best_value=best.value if best else None, counts=self.board.counts(),
            strategist_turns=self.progress.strategist_turns, milestones=self.progress.milestones,
            strategist_prompts=self.turns.prompts,
        )
