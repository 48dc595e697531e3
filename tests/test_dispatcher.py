"""The Dispatcher with fake runners and roles: priorities, event-driven slots, stops, supervision, verification,
cancellation and crash recovery. No subprocess, no Prefect: the control loop alone."""

from __future__ import annotations

import threading
import time

import pytest

from alphalab.models.base import ProviderError
from alphalab.phase3.contracts import InboxItem, Phase3Roles
from alphalab.phase3.dispatcher import Dispatcher
from alphalab.execution import RunOutcome
from alphalab.campaign import Campaign
from alphalab.results import RunResult
from alphalab.phase3.contracts import MilestoneOutcome
from alphalab.phase3.contracts import StrategistOutput
from alphalab.phase3.contracts import SupervisorOutcome
from alphalab.phase3.contracts import WorkerOutcome
from fixtures.phase3.helpers import make_workspace


class FakeRunner:
    """Each run takes `duration` seconds; `fail(exp)` decides its outcome."""

    def __init__(self, slots, duration=0.05, fail=lambda exp_id: False):
        self.slots = list(slots)
        self.duration = duration
        self.fail = fail
        self.spans: list[tuple[str, str, float, float]] = []  # slot, exp id, start, end
        self.cancelled: list[str] = []
        self._timers: dict[str, threading.Timer] = {}
        self._n = 0

    def submit(self, request, on_done):
        self._n += 1
        job = f"job{self._n}"
        start = time.monotonic()

        def done(cancelled=False):
            end = time.monotonic()
            self.spans.append((request.slot, request.exp_id, start, end))
            bad = cancelled or self.fail(request.exp_id)
            result = RunResult(status="failed" if bad else "ok", eval_mode="full", seed=request.seed,
                               metrics={} if bad else {"loss": float(request.seed % 100) / 100},
                               error_signature="FakeError" if bad else None)
            on_done(RunOutcome(exp_id=request.exp_id, attempt=request.attempt, slot=request.slot, job_id=job,
                               returncode=1 if bad else 0, started_at=time.time(), finished_at=time.time(),
                               result=result, output_tail="FakeError: boom" if bad else ""))

        timer = threading.Timer(self.duration, done)
        self._timers[job] = timer
        timer.start()
        return job

    def cancel(self, job_id):
        self.cancelled.append(job_id)
        timer = self._timers[job_id]
        timer.cancel()
        threading.Thread(target=timer.function, kwargs={"cancelled": True}).start()

    def recover(self, request, job_id, on_done):
        return None


class FakeRoles:
    """Records every call; the Strategist proposes the given losses in order (as seeds: loss = seed/100)."""

    def __init__(self, env: Campaign, losses=(), per_turn=2, fix_ok=True):
        self.env = env
        self.losses = list(losses)
        self.per_turn = per_turn
        self.fix_ok = fix_ok
        self.calls: list[tuple[str, object]] = []
        self.lock = threading.Lock()

    def _log(self, kind, arg):
        with self.lock:
            self.calls.append((kind, arg))

    def worker(self, task):
        def call(exp_id):
            self._log(task, exp_id)
            time.sleep(0.01)
            ok = self.fix_ok if task == "fix" else True
            return WorkerOutcome(exp_id=exp_id, task=task, ok=ok, gave_up=not ok)
        return call

    def strategist(self, inp):
        self._log("strategist", inp)
        proposed = []
        for _ in range(min(inp.proposals_wanted, self.per_turn)):
            if not self.losses:
                break
            loss = self.losses.pop(0)
            e = self.env.board.add(f"loss {loss}", {"params": {"x": loss}})
            self.env.board.update(e.id, seed=int(round(loss * 100)))
            proposed.append(e.id)
        return StrategistOutput(proposed=proposed)

    def supervisor(self, inp):
        self._log("supervisor", inp)
        return SupervisorOutcome(patched=True, reason="fake")

    def reporter(self, n):
        self._log("reporter", n)
        return MilestoneOutcome(number=n, overview=self.env.workspace.root, plot=self.env.workspace.root, markdown="")

    def roles(self) -> Phase3Roles:
        return Phase3Roles(implement=self.worker("implement"), analyze=self.worker("analyze"),
                           fix=self.worker("fix"), strategist=self.strategist, supervisor=self.supervisor,
                           reporter=self.reporter)

    def kinds(self):
        return [k for k, _ in self.calls]


@pytest.fixture
def env(tmp_path):
    def make(**overrides):
        config, ws = make_workspace(tmp_path, **overrides)
        return Campaign(config, ws)
    return make


def _dispatcher(env, runner, roles, **kw):
    return Dispatcher(env, runner, roles.roles(), log=lambda line: None, **kw)


def test_priority_fix_then_analyze_then_implement(env):
    e = env(budgets={"experiments": 3})
    b = e.board
    failed = b.add("failed one", {}).id
    b.transition(failed, "failed", error_signature="X")
    finished = b.add("finished one", {}).id
    for s in ("implemented", "checked", "queued", "running"):
        b.transition(finished, s)
    b.transition(finished, "finished", metrics={"loss": 0.5}, eval_mode="full")
    todo = b.add("new one", {}).id
    roles = FakeRoles(e, fix_ok=False)  # the fix gives up: the experiment is dead and runs no more
    summary = _dispatcher(e, FakeRunner(["0"]), roles, max_workers=1).run()
    assert [(k, a) for k, a in roles.calls[:3]] == [("fix", failed), ("analyze", finished), ("implement", todo)]
    assert summary.stop_reason == "experiment_budget"
    assert b.get(failed).state == "dead" and b.get(todo).state == "analyzed"


def test_slots_refill_on_completion_not_on_a_tick(env):
    e = env(budgets={"experiments": 8})
    roles = FakeRoles(e, losses=[0.9, 0.8, 0.7, 0.6, 0.5, 0.45, 0.4, 0.35], per_turn=8)
    runner = FakeRunner(["0", "1"], duration=0.2)
    summary = _dispatcher(e, runner, roles, poll_s=30.0).run()
    assert summary.analyzed == 8
    for slot in ("0", "1"):
        spans = sorted(s for s in runner.spans if s[0] == slot)
        gaps = [b[2] - a[3] for a, b in zip(spans, spans[1:])]
        # the loop would sleep 30 s between ticks; a completion wakes it at once
        assert gaps and max(gaps) < 5.0
    # a new best is re-run with a fresh seed; its value is then the mean over its runs (which rows were new bests
    # depends on the order the two slots finish in, and on the fake re-runs' values)
    reruns = e.board.select(kind="verify")
    assert reruns and all(v.parent for v in reruns)
    parent = e.board.get(reruns[-1].parent)
    values = [v.metrics["loss"] for v in reruns if v.parent == parent.id]
    assert all(v.seed != parent.seed for v in reruns if v.parent == parent.id)
    entry = next(r for r in e.board.leaderboard(e.metric) if r.id == parent.id)
    assert entry.n == 1 + len(values) == 2
    assert entry.value == pytest.approx((parent.metrics["loss"] + sum(values)) / entry.n)


def test_new_best_not_rerun_when_verification_is_off(env):
    e = env(budgets={"experiments": 4}, phase3={"verify_new_best": False})
    roles = FakeRoles(e, losses=[0.9, 0.8, 0.7, 0.6], per_turn=4)
    runner = FakeRunner(["0", "1"])
    summary = _dispatcher(e, runner, roles).run()
    assert summary.analyzed == 4 and len(runner.spans) == 4
    assert [x for x in e.board.select() if x.kind == "verify"] == []
    assert e.board.best(e.metric).verification == "provisional"


def test_convergence_stop_cancels_pending_work(env):
    e = env(budgets={"experiments": 30}, phase3={"patience": 3, "strategist_every": 1})
    roles = FakeRoles(e, losses=[0.2] + [0.5 + i / 100 for i in range(29)], per_turn=2)
    summary = _dispatcher(e, FakeRunner(["0"]), roles).run()
    assert summary.stop_reason == "converged"
    analyzed = e.board.analyzed()
    assert len(analyzed) >= 4 and len(analyzed) < 30
    assert e.board.select("to_implement", "implemented", "checked", "queued", "running", "failed") == []


def test_strategist_every_n_analyzed_and_budget_tiers(env):
    e = env(budgets={"experiments": 9}, phase3={"strategist_every": 3, "proposals_per_turn": 3})
    roles = FakeRoles(e, losses=[0.9 - i / 100 for i in range(9)], per_turn=3)
    summary = _dispatcher(e, FakeRunner(["0"]), roles).run()
    inputs = [a for k, a in roles.calls if k == "strategist"]
    assert summary.stop_reason == "experiment_budget" and summary.analyzed == 9
    assert [i.budget_left for i in inputs][:3] == [9, 6, 3]
    assert all(i.proposals_wanted <= i.budget_left for i in inputs)


def test_supervisor_triggers_on_error_rate(env):
    e = env(budgets={"experiments": 6},
            phase3={"supervisor_window": 4, "supervisor_threshold": 0.3, "max_fix_attempts": 0})
    roles = FakeRoles(e, losses=[0.9, 0.8, 0.7, 0.6, 0.5, 0.4], per_turn=6)
    runner = FakeRunner(["0"], fail=lambda exp_id: exp_id[:4] in ("e001", "e002", "e003"))
    _dispatcher(e, runner, roles).run()
    sup = [a for k, a in roles.calls if k == "supervisor"]
    assert len(sup) == 1 and sup[0].error_rate > 0.3
    assert {f.error_signature for f in sup[0].failures} == {"FakeError"}
    assert {x.state for x in e.board.select() if x.id[:4] in ("e001", "e002", "e003")} == {"dead"}


def test_failed_run_is_fixed_then_dead_when_fix_gives_up(env):
    e = env(budgets={"experiments": 2}, phase3={"max_fix_attempts": 2})
    roles = FakeRoles(e, losses=[0.9, 0.8], per_turn=2, fix_ok=False)
    runner = FakeRunner(["0"], fail=lambda exp_id: exp_id.startswith("e001"))
    _dispatcher(e, runner, roles).run()
    first = e.board.select()[0]
    assert first.state == "dead" and first.attempts == 1 and roles.kinds().count("fix") == 1


def test_usd_budget_stops_and_requeues_running_work(env):
    e = env(budgets={"experiments": 4, "usd": 1.0})
    roles = FakeRoles(e, losses=[0.9, 0.8, 0.7, 0.6], per_turn=4)
    spent = {"usd": 0.0}
    runner = FakeRunner(["0"], duration=0.5)

    def on_change():
        if e.board.select("running"):
            spent["usd"] = 5.0

    summary = _dispatcher(e, runner, roles, usd_spent=lambda: spent["usd"], on_change=on_change,
                          poll_s=0.05).run()
    assert summary.stop_reason == "usd_budget"
    assert runner.cancelled and not e.board.select("running")
    assert len(e.board.select("queued")) >= 1


def test_operator_note_and_cancel_of_a_running_experiment(env):
    e = env(budgets={"experiments": 2})
    roles = FakeRoles(e, losses=[0.9, 0.8], per_turn=2)
    runner = FakeRunner(["0"], duration=1.0)
    sent = []

    def inbox():
        running = e.board.select("running")
        if running and not sent:
            sent.append(running[0].id)
            return [InboxItem(kind="note", text="try kind a"), InboxItem(kind="cancel", exp_id=running[0].id)]
        return []

    _dispatcher(e, runner, roles, inbox=inbox, poll_s=0.05).run()
    assert e.board.get(sent[0]).state == "cancelled" and runner.cancelled
    assert [n.text for n in e.board.notes()] == ["try kind a"]


def test_recovery_keeps_recorded_results_and_requeues_lost_runs(env):
    e = env(budgets={"experiments": 2})
    b = e.board
    ids = []
    for name in ("done before crash", "lost in crash"):
        x = b.add(name, {"params": {}})
        b.update(x.id, seed=42)
        for s in ("implemented", "checked", "queued"):
            b.transition(x.id, s)
        b.transition(x.id, "running", slot="0", started_at=time.time() - 5, job_id="gone")
        e.exp_dir(x.id).mkdir(parents=True, exist_ok=True)
        ids.append(x.id)
    RunResult(status="ok", eval_mode="full", seed=42, metrics={"loss": 0.123}).write(
        e.workspace.result_file(e.exp_dir(ids[0]), "full"))
    roles = FakeRoles(e)
    runner = FakeRunner(["0"])
    _dispatcher(e, runner, roles).run()
    assert b.get(ids[0]).metrics == {"loss": 0.123}
    assert [s[1] for s in runner.spans].count(ids[0]) == 0  # not run again
    assert [s[1] for s in runner.spans].count(ids[1]) == 1  # re-queued and run once


class AdoptingRunner(FakeRunner):
    """Still holds the jobs of a crashed campaign: it adopts each one, found by its id or, where the crash came
    before the id was recorded, by its idempotency key; the job then ends as usual."""

    def __init__(self, slots):
        super().__init__(slots)
        self.asked: list[tuple[str, str | None]] = []

    def recover(self, request, job_id, on_done):
        self.asked.append((request.exp_id, job_id))
        job = job_id or f"found-by-key-{request.idempotency_key}"

        def done():
            result = RunResult(status="ok", eval_mode="full", seed=request.seed, metrics={"loss": 0.2})
            on_done(RunOutcome(exp_id=request.exp_id, attempt=request.attempt, slot=request.slot, job_id=job,
                               returncode=0, started_at=time.time(), finished_at=time.time(), result=result))

        threading.Timer(0.05, done).start()
        return job


def test_recovery_adopts_jobs_still_running_even_without_a_recorded_id(env):
    e = env(budgets={"experiments": 2}, execution={"backend": "local", "gpu_slots": ["0", "1"]})
    b = e.board
    ids = []
    for slot, job_id in (("0", "job-recorded"), ("1", None)):
        x = b.add(f"running on {slot}", {"params": {}})
        for s in ("implemented", "checked", "queued"):
            b.transition(x.id, s)
        b.transition(x.id, "running", slot=slot, started_at=time.time() - 5, job_id=job_id)
        ids.append(x.id)
    runner = AdoptingRunner(["0", "1"])
    _dispatcher(e, runner, FakeRoles(e)).run()
    assert sorted(runner.asked) == [(ids[0], "job-recorded"), (ids[1], None)]
    assert [span for span in runner.spans if span[1] in ids] == []  # nothing started a second time
    assert [b.get(i).metrics for i in ids] == [{"loss": 0.2}, {"loss": 0.2}]
    assert b.get(ids[1]).job_id.startswith("found-by-key-")


# ---- provider errors: a hard stop that leaves the board as it was ------------------------------------------------
REVOKED = "openai: authentication failed for model m at https://api.openai.com/v1 (HTTP 401): check OPENAI_API_KEY"


class RevokedKeyRoles(FakeRoles):
    """Every call of the named role tasks raises the ProviderError of a revoked key."""

    def __init__(self, env, *failing, **kw):
        super().__init__(env, **kw)
        self.failing = failing

    def worker(self, task):
        call = super().worker(task)

        def revoked(exp_id):
            self._log(task, exp_id)
            raise ProviderError(REVOKED)
        return revoked if task in self.failing else call

    def strategist(self, inp):
        if "strategist" in self.failing:
            self._log("strategist", inp)
            raise ProviderError(REVOKED)
        return super().strategist(inp)


def test_provider_error_of_the_strategist_is_a_hard_stop(env):
    e = env(budgets={"experiments": 4})
    roles = RevokedKeyRoles(e, "strategist", losses=[0.9, 0.8])
    dispatcher = _dispatcher(e, FakeRunner(["0"]), roles)
    summary = dispatcher.run()
    assert summary.stop_reason == "provider_error" and summary.analyzed == 0
    assert str(dispatcher.provider_error) == REVOKED
    assert roles.kinds() == ["strategist"]  # not called again, no report written on a broken provider
    assert e.board.select() == []


def test_provider_error_of_a_worker_leaves_its_experiment_where_it_was(env):
    e = env(budgets={"experiments": 6}, phase3={"max_fix_attempts": 3})
    b = e.board
    todo = b.add("to implement", {}).id
    failed = b.add("failed once", {}).id
    b.transition(failed, "failed", error_signature="X")
    b.update(failed, attempts=1)
    finished = b.add("finished", {}).id
    running = b.add("running", {"params": {}}).id
    for s in ("implemented", "checked", "queued", "running"):
        b.transition(finished, s)
        if s != "running":
            b.transition(running, s)
    b.transition(finished, "finished", metrics={"loss": 0.5}, eval_mode="full")
    roles = RevokedKeyRoles(e, "implement", "fix", "analyze")
    runner = FakeRunner(["0"], duration=5.0)
    dispatcher = _dispatcher(e, runner, roles, max_workers=3, poll_s=0.05)
    summary = dispatcher.run()
    assert summary.stop_reason == "provider_error" and str(dispatcher.provider_error) == REVOKED
    # each once: nothing is retried after the stop
    assert sorted(k for k in roles.kinds() if k != "strategist") == ["analyze", "fix", "implement"]
    assert [(b.get(i).state, b.get(i).attempts) for i in (todo, failed, finished)] == [
        ("to_implement", 0), ("failed", 1), ("finished", 0)]  # not failed, no fix attempt spent, not analyzed
    assert runner.cancelled and b.get(running).state == "queued"  # the run in flight was stopped and re-queued


# ---- a broken template: smoke tests fail, the Supervisor is called, Phase 3 stops before its budget is spent ----
SMOKE_OUTPUT = "ImportError: cannot import name 'Model' from 'template'"


class BrokenTemplateRoles(FakeRoles):
    """Every implement and fix of the experiments `broken` names fails its smoke test, leaving a smoke log."""

    def __init__(self, env, broken=lambda exp_id: True, fixes=True, **kw):
        super().__init__(env, **kw)
        self.broken = broken
        self.fixes = fixes

    def worker(self, task):
        call = super().worker(task)

        def smoke_tested(exp_id):
            if task == "analyze" or not self.broken(exp_id) or (task == "fix" and self.fixes):
                return call(exp_id)
            self._log(task, exp_id)
            folder = self.env.exp_dir(exp_id)
            folder.mkdir(parents=True, exist_ok=True)
            (folder / "smoke.log").write_text(f"Traceback (most recent call last):\n{SMOKE_OUTPUT}\n")
            return WorkerOutcome(exp_id=exp_id, task=task, ok=False, error_signature="ImportError",
                                 detail=SMOKE_OUTPUT)
        return smoke_tested


def test_supervisor_triggers_on_failed_smoke_tests(env):
    e = env(budgets={"experiments": 4}, phase3={"supervisor_window": 3, "supervisor_threshold": 0.3})
    roles = BrokenTemplateRoles(e, losses=[0.9, 0.8, 0.7, 0.6], per_turn=4)  # every fix passes its smoke test
    summary = _dispatcher(e, FakeRunner(["0"]), roles).run()
    assert summary.analyzed == 4  # no full run failed
    sup = [a for k, a in roles.calls if k == "supervisor"]
    assert sup and all(f.error_signature == "ImportError" for s in sup for f in s.failures)
    assert SMOKE_OUTPUT in sup[0].failures[0].log_tail


def test_phase3_whose_every_experiment_dies_stops_early_with_the_cause(env):
    from flows.phase3_experiments import nothing_analyzed

    e = env(budgets={"experiments": 20}, phase3={"max_fix_attempts": 1, "all_dead_after": 4})
    roles = BrokenTemplateRoles(e, losses=[0.9 - i / 100 for i in range(20)], per_turn=2, fixes=False)
    summary = _dispatcher(e, FakeRunner(["0", "1"]), roles).run()
    assert summary.stop_reason == "all_dead" and summary.analyzed == 0
    assert len(e.board.select()) < 20 and roles.kinds().count("implement") < 10  # the budget was not spent
    assert e.board.select("to_implement", "implemented", "checked", "queued", "running", "failed") == []
    dead = e.board.select("dead")
    assert len(dead) >= 4
    message = str(nothing_analyzed(summary))
    assert message.startswith(f"phase 3 analyzed no experiment: it stopped on all_dead (every one of the first "
                              f"{len(dead)} experiments died: ImportError in {len(dead)} of them; see experiments/")
    assert "/smoke.log); board: " in message


def test_deaths_of_an_earlier_run_do_not_stop_a_resumed_campaign(env):
    e = env(budgets={"experiments": 6}, phase3={"all_dead_after": 2})
    for i in range(3):
        x = e.board.add(f"died before the template was fixed {i}", {})
        e.board.transition(x.id, "failed", error_signature="ImportError")
        e.board.transition(x.id, "dead")
    roles = FakeRoles(e, losses=[0.9, 0.8, 0.7], per_turn=3)
    summary = _dispatcher(e, FakeRunner(["0"]), roles).run()
    assert summary.stop_reason == "experiment_budget" and summary.analyzed == 3
