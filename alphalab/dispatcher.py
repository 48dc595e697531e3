"""The Phase 3 Dispatcher: a pure-Python control loop. It makes no LLM calls; it only moves experiments across the
board, assigns tasks by priority and keeps the GPU slots busy.

Event-driven: runs and role tasks report their end into one queue, and the loop handles each event at once (the
paper's Dispatcher ticked every 30 s). Between events it wakes at most every `poll_s` to read operator input.

Priorities: fix > analyze > implement; queued runs start on free slots (verification re-runs first). The Strategist
runs every `strategist_every` analyzed experiments or when the queue would run dry; the Reporter every
`reporter_every`; the Supervisor when the failure rate over the last `supervisor_window` runs passes the threshold.

Stops: the experiment budget (when every budgeted experiment is through), `patience` analyzed experiments without
improvement (pending work is cancelled, running work finishes), the USD budget or the wall clock (running jobs are
stopped and re-queued, so a resumed campaign with a larger budget carries on).

Resume: the board is the whole state. On start, a run the board says is `running` is adopted when the runner still
has it, taken as finished when the harness already recorded its result, and re-queued otherwise; every other state
simply leads to its next task again.
"""

from __future__ import annotations

import contextvars
import queue
import shutil
import time
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Callable, Literal

from pydantic import BaseModel, Field

from alphalab.board import PENDING, Experiment, IllegalTransition, UnknownExperiment
from alphalab.execution import ExperimentRunner, RunOutcome, fresh_result
from alphalab.experiment_files import RUN_OUTPUTS
from alphalab.phase3 import Phase3Env, StrategistInput, StrategistOutput
from alphalab.roles import reporter, supervisor, worker
from alphalab.roles.base import RoleContext
from alphalab.roles.reporter import MilestoneOutcome
from alphalab.roles.supervisor import Failure, SupervisorInput, SupervisorOutcome
from alphalab.roles.worker import WorkerOutcome

StopReason = Literal["experiment_budget", "converged", "usd_budget", "wall_clock", "no_proposals"]
HARD_STOPS = ("usd_budget", "wall_clock")
ANALYZE_TRIES = 2
# after a submission fails (e.g. the Prefect API is down) the slots wait this long before the next try
SUBMIT_BACKOFF_S = 5.0


@dataclass
class Phase3Roles:
    """The role calls the Dispatcher makes; the Prefect flow passes tasks with the same signatures."""

    implement: Callable[[str], WorkerOutcome]
    analyze: Callable[[str], WorkerOutcome]
    fix: Callable[[str], WorkerOutcome]
    strategist: Callable[[StrategistInput], StrategistOutput]
    supervisor: Callable[[SupervisorInput], SupervisorOutcome]
    reporter: Callable[[int], MilestoneOutcome]


def local_roles(ctx: RoleContext) -> Phase3Roles:
    # imported here: the Strategist's tools pull in every agent tool, which the control loop itself never needs
    from alphalab.roles import strategist

    return Phase3Roles(
        implement=lambda exp_id: worker.implement(ctx, exp_id),
        analyze=lambda exp_id: worker.analyze(ctx, exp_id),
        fix=lambda exp_id: worker.fix(ctx, exp_id),
        strategist=lambda inp: strategist.run(ctx, inp),
        supervisor=lambda inp: supervisor.run(ctx, inp),
        reporter=lambda n: reporter.write_milestone(ctx, n),
    )


class InboxItem(BaseModel):
    kind: Literal["note", "cancel"]
    text: str = ""
    exp_id: str | None = None


class Phase3Summary(BaseModel):
    stop_reason: StopReason
    analyzed: int
    best_id: str | None
    best_value: float | None
    counts: dict[str, int]
    strategist_turns: int
    milestones: int
    # (experiments analyzed when the turn started, characters of the Strategist's prompt)
    strategist_prompts: list[tuple[int, int]] = Field(default_factory=list)


class Dispatcher:
    def __init__(
        self,
        env: Phase3Env,
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
        self.env = env
        self.board = env.board
        self.cfg = env.config.phase3
        self.runner = runner
        self.roles = roles
        self.max_workers = max_workers or len(runner.slots) + 2
        self.inbox = inbox or (lambda: [])
        self.usd_spent = usd_spent or (lambda: 0.0)
        self.on_change = on_change or (lambda: None)
        self.log = log
        self.poll_s = poll_s
        self._events: queue.Queue = queue.Queue()
        self._pool = ThreadPoolExecutor(self.max_workers + 3, thread_name_prefix="phase3-role")
        self._tasks: dict[tuple[str, str], Future] = {}
        self._jobs: dict[str, str] = {}  # exp id -> job id of its run in flight
        self._slots: dict[str, str] = {}  # slot -> exp id
        self._requeue: set[str] = set()  # runs stopped by a hard stop, to go back to the queue
        self._killed: set[str] = set()
        self._analyze_errors: dict[str, int] = {}
        self._idle_mark: int | None = None  # analyzed count when the Strategist last proposed nothing
        self._stop: StopReason | None = None
        self._changed = True
        self._retry_submit_at = 0.0
        self._strategist_started_at = 0  # analyzed count when the running Strategist turn started
        self.prompts: list[tuple[int, int]] = []

    # ---- counters kept on the board, so a resumed campaign continues them -----------------------------------------
    def _meta_int(self, key: str) -> int:
        return int(self.board.get_meta(key, "0") or 0)

    def _analyzed_count(self) -> int:
        return self.board.analyzed_count()

    def budget_left(self) -> int:
        return max(0, self.env.config.budgets.experiments - self.board.experiments_used())

    def _milestone_written(self, number: int, analyzed: int) -> None:
        self.board.set_meta("milestones", str(number))
        self.board.set_meta("milestone_analyzed", str(analyzed))

    # ---- submitting work -------------------------------------------------------------------------------------
    def _submit(self, kind: str, key: str, fn: Callable, *args: object) -> None:
        # a copied context keeps the caller's (e.g. a Prefect flow run's) context in the pool thread
        fut = self._pool.submit(contextvars.copy_context().run, fn, *args)
        self._tasks[(kind, key)] = fut
        fut.add_done_callback(lambda f, k=(kind, key): self._events.put(("role", k, f)))

    def _active(self, kind: str, key: str = "") -> bool:
        return (kind, key) in self._tasks

    def _workers_busy(self) -> int:
        return sum(1 for kind, _ in self._tasks if kind in ("implement", "analyze", "fix"))

    def _start_run(self, exp: Experiment, slot: str) -> None:
        exp = self.board.transition(exp.id, "running", expect="queued", slot=slot, started_at=time.time(),
                                    job_id=None)
        request = self.env.run_request(exp, slot)
        try:
            job_id = self.runner.submit(request, self._run_done)
        except Exception as e:
            self.log(f"could not start {exp.id} on slot {slot}: {e!r}; back to the queue")
            self.board.transition(exp.id, "queued")
            self._retry_submit_at = time.monotonic() + SUBMIT_BACKOFF_S
            return
        self._jobs[exp.id] = job_id
        self._slots[slot] = exp.id
        self.board.update(exp.id, job_id=job_id)
        self.log(f"{exp.id} started on slot {slot} (job {job_id})")

    def _run_done(self, outcome: RunOutcome) -> None:
        """A runner's callback, from any thread: the loop handles the outcome."""
        self._events.put(("run", outcome))

    # ---- the loop --------------------------------------------------------------------------------------------
    def run(self) -> Phase3Summary:
        if self.board.get_meta("phase3_started_at") is None:
            self.board.set_meta("phase3_started_at", str(time.time()))
        self._recover()
        try:
            while True:
                try:
                    self._read_inbox()
                    self._stop_cancelled_runs()
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
            if self._release(event[1]):
                self._fill_slots()  # the freed slot first: recording the finished run can wait a few milliseconds
                self._on_run(event[1])
        else:
            _, key, fut = event
            del self._tasks[key]
            getattr(self, f"_on_{key[0]}")(key[1], fut)

    def _finished(self) -> bool:
        if self._tasks or self._jobs:
            return False
        if self._stop in HARD_STOPS:
            return True
        outstanding = self.board.select(*PENDING, "running", "finished", "failed")
        if self._stop == "converged":
            return not outstanding
        if outstanding or self._strategist_due():
            return False
        self._stop = "experiment_budget" if self.budget_left() == 0 else "no_proposals"
        return True

    # ---- stop conditions -------------------------------------------------------------------------------------
    def _converged(self) -> bool:
        analyzed = self.board.analyzed()
        best, since = None, 0
        for e in analyzed:
            value = e.metrics.get(self.env.metric.name) if e.eval_mode == "full" else None
            if value is not None and self.env.manifest.better(value, best):
                best, since = value, 0
            else:
                since += 1
        return since >= self.cfg.patience

    def _update_stop(self) -> None:
        if self._stop is not None:
            return
        budgets = self.env.config.budgets
        started = float(self.board.get_meta("phase3_started_at") or time.time())
        if self.usd_spent() >= budgets.usd:
            self._stop = "usd_budget"
        elif time.time() - started >= budgets.wall_clock_hours * 3600:
            self._stop = "wall_clock"
        elif self._converged():
            self._stop = "converged"
        if self._stop is None:
            return
        self.log(f"stopping: {self._stop}")
        self.board.set_meta("phase3_stop_reason", self._stop)
        if self._stop in HARD_STOPS:
            for exp_id, job_id in list(self._jobs.items()):
                self._requeue.add(exp_id)
                self.runner.cancel(job_id)

    def _wind_down(self) -> None:
        """After a soft stop nothing new starts: pending experiments are cancelled and failures left unfixed."""
        for e in self.board.select(*PENDING, "failed", kind="experiment"):
            if e.state == "failed":
                self.board.transition(e.id, "dead", note=f"stopped before a fix: {self._stop}")
            else:
                self.board.cancel(e.id, f"campaign stopped: {self._stop}")

    # ---- scheduling ------------------------------------------------------------------------------------------
    def _schedule(self) -> None:
        if self._stop in HARD_STOPS:
            return
        if self._stop is not None:
            self._wind_down()
        for e in self.board.select("checked"):
            self.board.transition(e.id, "queued")
        self._fill_slots()
        self._assign_workers()
        if self._stop is None and self._strategist_due():
            self._start_strategist()
        if self._analyzed_count() // self.cfg.reporter_every > self._meta_int("milestones") \
                and not self._active("reporter"):
            n = self._meta_int("milestones") + 1
            self._submit("reporter", "", self.roles.reporter, n)

    def _fill_slots(self) -> None:
        free = [s for s in self.runner.slots if s not in self._slots]
        if not free or self._stop in HARD_STOPS or time.monotonic() < self._retry_submit_at:
            return
        queued = sorted(self.board.select("queued"), key=lambda e: (e.kind != "verify", e.seq))
        if self._stop is not None:
            queued = [e for e in queued if e.kind == "verify"]
        for slot, exp in zip(free, queued, strict=False):  # more of either simply waits
            self._start_run(exp, slot)

    def _assign_workers(self) -> None:
        room = self.max_workers - self._workers_busy()
        if room <= 0:
            return
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
            if any(self._active(k, exp_id) for k in ("fix", "analyze", "implement")):
                continue
            if kind == "fix" and self._dead_if_exhausted(exp_id):
                continue
            self._submit(kind, exp_id, fn, exp_id)
            room -= 1

    def _dead_if_exhausted(self, exp_id: str) -> bool:
        exp = self.board.get(exp_id)
        if exp.kind == "verify" or exp.attempts >= self.cfg.max_fix_attempts:
            self.board.transition(exp_id, "dead", note=f"{exp.attempts} fix attempt(s) used")
            return True
        return False

    def _pending_runs(self) -> int:
        return len(self.board.select(*PENDING, kind="experiment"))

    def _strategist_due(self) -> bool:
        if self._active("strategist") or self._stop is not None or self.budget_left() == 0:
            return False
        analyzed = self._analyzed_count()
        if analyzed - self._meta_int("strategist_analyzed_at") >= self.cfg.strategist_every \
                and self._meta_int("strategist_turns") > 0:
            return True
        # "would run dry": fewer pending than two waves of slots, since implementing (smoke test) takes a while and a
        # slot must not wait for it
        running_dry = self._pending_runs() < 2 * len(self.runner.slots)
        return running_dry and self._idle_mark != analyzed

    def _start_strategist(self) -> None:
        analyzed = self._analyzed_count()
        turn = self._meta_int("strategist_turns") + 1
        self.board.set_meta("strategist_turns", str(turn))
        self.board.set_meta("strategist_analyzed_at", str(analyzed))
        left = self.budget_left()
        wanted = min(left, max(self.cfg.proposals_per_turn, len(self.runner.slots) - self._pending_runs()))
        inp = StrategistInput(turn=turn, proposals_wanted=wanted, budget_left=left, usd_spent=self.usd_spent())
        self._strategist_started_at = analyzed
        self._submit("strategist", "", self.roles.strategist, inp)

    # ---- events ----------------------------------------------------------------------------------------------
    def _release(self, outcome: RunOutcome) -> bool:
        """Free the slot of a finished job; False when the outcome is stale (not the job we track)."""
        if self._jobs.get(outcome.exp_id) != outcome.job_id:
            return False
        del self._jobs[outcome.exp_id]
        if self._slots.get(outcome.slot) == outcome.exp_id:
            del self._slots[outcome.slot]
        self._killed.discard(outcome.exp_id)
        return True

    def _on_run(self, o: RunOutcome) -> None:
        exp = self.board.get(o.exp_id)
        if exp.state != "running":  # cancelled while it ran
            return
        if o.exp_id in self._requeue:
            self._requeue.discard(o.exp_id)
            self.board.transition(o.exp_id, "queued", note=f"stopped by {self._stop}; re-queued")
            return
        self.board.record_run(o.exp_id, exp.attempts, o.slot, o.ok, o.error_signature, o.started_at)
        if o.ok:
            assert o.result is not None
            self.board.transition(o.exp_id, "finished", metrics=o.result.metrics, eval_mode=o.result.eval_mode,
                                  finished_at=o.finished_at, error_signature=None)
            self.log(f"{o.exp_id} finished: {o.result.metrics}")
            if exp.kind == "verify":
                self._settle_verification(o.exp_id)
        else:
            self.board.transition(o.exp_id, "failed", error_signature=o.error_signature, note=o.error[-500:],
                                  finished_at=o.finished_at)
            self.log(f"{o.exp_id} failed: {o.error_signature}")
            if exp.kind == "verify":
                self.board.transition(o.exp_id, "dead", note="verification run failed")
                if exp.parent:
                    self.board.update(exp.parent, verified=False)
        self._check_supervisor()

    def _on_implement(self, exp_id: str, fut: Future) -> None:
        exp = self.board.get(exp_id)
        if exp.state not in ("to_implement", "implemented"):
            return
        try:
            out: WorkerOutcome = fut.result()
        except Exception as e:
            self.board.transition(exp_id, "failed", error_signature="worker-error", note=repr(e)[-500:])
            return
        if not out.ok:
            self.board.transition(exp_id, "failed", error_signature=out.error_signature, note=out.detail[-500:])
            return
        if exp.state == "to_implement":
            self.board.transition(exp_id, "implemented")
        self.board.transition(exp_id, "checked")
        self.board.transition(exp_id, "queued")

    def _on_fix(self, exp_id: str, fut: Future) -> None:
        exp = self.board.get(exp_id)
        if exp.state != "failed":
            return
        attempts = exp.attempts + 1
        try:
            out: WorkerOutcome = fut.result()
        except Exception as e:
            out = WorkerOutcome(exp_id=exp_id, task="fix", ok=False, error_signature="worker-error", detail=repr(e))
        if out.spec is not None:
            self.board.update(exp_id, spec=out.spec)
        if out.ok:
            self.board.transition(exp_id, "checked", attempts=attempts, note=f"fix {attempts}: {out.detail[:300]}")
            self.board.transition(exp_id, "queued")
        elif out.gave_up or attempts >= self.cfg.max_fix_attempts:
            self.board.transition(exp_id, "dead", attempts=attempts, note=f"fix {attempts}: {out.detail[-300:]}")
        else:
            self.board.update(exp_id, attempts=attempts, error_signature=out.error_signature or exp.error_signature,
                              note=f"fix {attempts} failed: {out.detail[-300:]}")
        self.log(f"fix {attempts} of {exp_id}: {self.board.get(exp_id).state}")

    def _on_analyze(self, exp_id: str, fut: Future) -> None:
        exp = self.board.get(exp_id)
        if exp.state != "finished":
            return
        try:
            fut.result()
        except Exception as e:
            self._analyze_errors[exp_id] = self._analyze_errors.get(exp_id, 0) + 1
            self.log(f"analysis of {exp_id} failed: {e!r}")
            if self._analyze_errors[exp_id] < ANALYZE_TRIES:
                return
            self.board.transition(exp_id, "analyzed", note=f"analysis failed: {e!r}"[:500])
        else:
            self.board.transition(exp_id, "analyzed")
        self._verify_if_best(self.board.get(exp_id))

    def _on_strategist(self, _: str, fut: Future) -> None:
        analyzed = self._strategist_started_at
        try:
            out: StrategistOutput = fut.result()
        except Exception as e:
            self.log(f"strategist turn failed: {e!r}")
            self._idle_mark = analyzed
            return
        for exp_id in out.seen_debriefs:
            try:
                self.board.transition(exp_id, "done", expect="analyzed")
            except (IllegalTransition, UnknownExperiment):
                pass
        self._idle_mark = None if out.proposed else analyzed
        self.prompts.append((analyzed, out.prompt_chars))
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
        self._milestone_written(out.number, self._analyzed_count())

    # ---- verification, supervision, reports ------------------------------------------------------------------
    def _verify_if_best(self, exp: Experiment) -> None:
        metric = self.env.metric
        if not self.cfg.verify_new_best or exp.kind != "experiment" or exp.eval_mode != "full" \
                or metric.name not in exp.metrics:
            return
        best = self.board.best(metric)
        if best is None or best.id != exp.id:
            return
        v = self.board.add(name=f"verify {exp.id}", hypothesis=f"re-run of {exp.id} with a fresh seed",
                           spec=exp.spec, parent=exp.id, kind="verify", state="checked")
        self.board.update(v.id, seed=self.env.seed_for(v.seq, verify=True))
        src, dst = self.env.exp_dir(exp.id), self.env.exp_dir(v.id)
        dst.mkdir(parents=True, exist_ok=True)
        if src.is_dir():
            shutil.copytree(src, dst, dirs_exist_ok=True, ignore=shutil.ignore_patterns(*RUN_OUTPUTS))
        self.board.transition(v.id, "queued")
        self.log(f"{exp.id} is a new best: verification re-run {v.id} queued")

    def _settle_verification(self, v_id: str) -> None:
        v = self.board.transition(v_id, "analyzed")
        self.board.transition(v_id, "done")
        metric = self.env.metric
        parent = self.board.get(v.parent) if v.parent else None
        if parent is None or metric.name not in v.metrics:
            return
        earlier = [e.value for e in self.board.leaderboard(metric)
                   if e.id != parent.id and (e.analyzed_seq or 0) < (parent.analyzed_seq or 0)]
        previous_best = earlier[0] if earlier else None
        verified = self.env.manifest.better(v.metrics[metric.name], previous_best)
        self.board.update(parent.id, verified=verified)
        self.log(f"verification of {parent.id}: {v.metrics[metric.name]:.6g} -> verified={verified}")

    def _check_supervisor(self) -> None:
        window = self.cfg.supervisor_window
        total = self.board.run_count()
        if self._active("supervisor") or total - self._meta_int("supervisor_at_run") < window:
            return
        runs = self.board.recent_runs(window)
        failed = [r for r in runs if not r.ok]
        rate = len(failed) / len(runs) if runs else 0.0
        if len(runs) < window or rate <= self.cfg.supervisor_threshold:
            return
        self.board.set_meta("supervisor_at_run", str(total))
        failures = [Failure(exp_id=r.exp_id, error_signature=r.error_signature,
                            log_tail=worker.error_log(self.env, self.board.get(r.exp_id))[-2000:]) for r in failed]
        self.log(f"supervisor triggered: {rate:.0%} of the last {window} runs failed")
        self._submit("supervisor", "", self.roles.supervisor,
                     SupervisorInput(error_rate=rate, window=window, failures=failures))

    def _final_report(self) -> None:
        analyzed = self._analyzed_count()
        if analyzed == 0 or analyzed == self._meta_int("milestone_analyzed"):
            return
        n = self._meta_int("milestones") + 1
        try:
            self.roles.reporter(n)
        except Exception as e:
            self.log(f"final report failed: {e!r}")
            return
        self._milestone_written(n, analyzed)

    # ---- operator input, cancellation, recovery --------------------------------------------------------------
    def _read_inbox(self) -> None:
        for item in self.inbox():
            self._changed = True
            if item.kind == "note":
                self.board.add_note(item.text, source="operator")
                self.log(f"operator note: {item.text}")
            elif item.exp_id:
                try:
                    self.board.cancel(item.exp_id, item.text or "operator")
                    self.log(f"operator cancelled {item.exp_id}")
                except (IllegalTransition, UnknownExperiment) as e:
                    self.log(f"operator cancel refused: {e}")

    def _stop_cancelled_runs(self) -> None:
        if not self._jobs:
            return
        for exp_id, job_id in list(self._jobs.items()):
            if exp_id not in self._killed and self.board.get(exp_id).state == "cancelled":
                self._killed.add(exp_id)
                self.runner.cancel(job_id)
                self.log(f"{exp_id} cancelled while running: job {job_id} stopped")

    def _recover(self) -> None:
        for exp in self.board.select("running"):
            slot = exp.slot if exp.slot in self.runner.slots and exp.slot not in self._slots else None
            request = self.env.run_request(exp, slot or self.runner.slots[0])
            # also without a job id: the crash may have come between the submission and recording its id
            job_id = self.runner.recover(request, exp.job_id, self._run_done)
            if job_id is not None and slot is not None:
                self._jobs[exp.id] = job_id
                self._slots[slot] = exp.id
                self.board.update(exp.id, job_id=job_id)
                self.log(f"{exp.id}: adopted job {job_id} still running on slot {slot}")
                continue
            if job_id is not None:  # its slot is no longer one of ours (the configuration changed): start over
                self.runner.cancel(job_id)
            result = fresh_result(request, since=exp.started_at or 0.0)
            if result is None:
                self.board.transition(exp.id, "queued", note="run lost in a crash; re-queued")
                self.log(f"{exp.id}: run lost in a crash; re-queued")
                continue
            # the harness recorded the result before the crash: keep it
            self._on_run(RunOutcome(
                exp_id=exp.id, attempt=exp.attempts, slot=request.slot, job_id="recovered",
                returncode=0 if result.status == "ok" else 1, started_at=exp.started_at or 0.0,
                finished_at=time.time(), result=result,
            ))
            self.log(f"{exp.id}: result recorded before the crash kept")

    def summary(self) -> Phase3Summary:
        best = self.board.best(self.env.metric)
        return Phase3Summary(
            stop_reason=self._stop or "experiment_budget", analyzed=self._analyzed_count(),
            best_id=best.id if best else None, best_value=best.value if best else None, counts=self.board.counts(),
            strategist_turns=self._meta_int("strategist_turns"), milestones=self._meta_int("milestones"),
            strategist_prompts=self.prompts,
        )
