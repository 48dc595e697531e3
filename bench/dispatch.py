"""Dispatcher throughput: how busy the GPU slots stay.

    .venv/bin/python bench/dispatch.py                      # local backend, 4 slots, 40 experiments of 2 s
    .venv/bin/python bench/dispatch.py --backend work-pool  # + a prefect server, a process worker: pickup latency

Prints slot utilization, the median and p95 idle gap between a run ending and the next starting on that slot, and
the makespan against the ideal (total run time / slots). Targets: utilization >= 95 %, median gap <= 0.5 s; with the
work pool and PREFECT_WORKER_QUERY_SECONDS=1, median pickup latency <= 3 s. (The paper's Dispatcher ticks every
30 s.) Uses the synthetic domain of the Phase 3 tests: baseline Strategist (Optuna) and Workers, a trusted harness.

The workload is exactly the 40 runs; `--verify` adds the verification re-run of each new best, as a campaign does.
Those extra runs rarely fill the last wave (41 runs on 4 slots leave 3 slots idle for a whole run), so the bench
prints the utilization that the run count alone allows, whatever the scheduler. It also prints the spread of run
times: on a 2-core machine each "2 s" run spends 0.2-1 s starting Python while competing for the CPU with the other
slots and the smoke tests, and that spread, not dispatch latency, is what the slots wait for at the end.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))
sys.path.insert(0, str(REPO))

from alphalab.campaign import Campaign  # noqa: E402
from alphalab.execution import LocalRunner, RunOutcome  # noqa: E402
from alphalab.phase3.dispatcher import Dispatcher  # noqa: E402
from alphalab.roles.base import RoleContext  # noqa: E402
from alphalab.roles.phase3 import local_roles  # noqa: E402
from fixtures.phase3.helpers import make_workspace  # noqa: E402


class Recording:
    """Wraps a runner and keeps each run's (slot, start, end) as the runner saw them."""

    def __init__(self, inner):
        self.inner = inner
        self.slots = inner.slots
        self.spans: list[tuple[str, float, float]] = []

    def submit(self, request, on_done):
        def done(o: RunOutcome):
            self.spans.append((o.slot, o.started_at, o.finished_at))
            on_done(o)
        return self.inner.submit(request, done)

    def cancel(self, job_id):
        self.inner.cancel(job_id)

    def recover(self, request, job_id, on_done):
        return self.inner.recover(request, job_id, on_done)


def pct(values: list[float], q: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(round(q * (len(values) - 1))))] if values else float("nan")


def report(spans: list[tuple[str, float, float]], slots: list[str], t0: float, seconds: float, n: int) -> None:
    durations = [e - s for _, s, e in spans]
    waves = -(-len(spans) // len(slots))
    first = min(s[1] for s in spans)
    last = max(s[2] for s in spans)
    busy = sum(e - s for _, s, e in spans)
    window = last - first
    gaps = []
    for slot in slots:
        mine = sorted((s, e) for sl, s, e in spans if sl == slot)
        gaps += [b[0] - a[1] for a, b in zip(mine, mine[1:])]
    print(f"runs: {len(spans)} ({n} experiments + {len(spans) - n} verification re-runs) on {len(slots)} slots; "
          f"run time min {min(durations):.2f} s, median {statistics.median(durations):.2f} s, "
          f"max {max(durations):.2f} s")
    last_start = max(s[1] for s in spans)
    steady = sum(max(0.0, min(e, last_start) - s) for _, s, e in spans)
    print(f"slot utilization (first start to last end): {100 * busy / (len(slots) * window):.1f}%; "
          f"steady state (first start to last start, i.e. without the final drain): "
          f"{100 * steady / (len(slots) * (last_start - first)):.1f}%; at most "
          f"{100 * len(spans) / (len(slots) * waves):.1f}% for {len(spans)} equal runs on {len(slots)} slots")
    stagger = sum(min(s for sl, s, _ in spans if sl == slot) - first for slot in slots)
    drain = sum(last - max(e for sl, _, e in spans if sl == slot) for slot in slots)
    print(f"idle slot-seconds: {stagger:.2f} before each slot's first run, {sum(gaps):.2f} between runs, "
          f"{drain:.2f} after each slot's last run (of {len(slots) * window:.1f})")
    print(f"idle gap between runs on a slot: median {statistics.median(gaps):.3f} s, p95 {pct(gaps, 0.95):.3f} s, "
          f"max {max(gaps):.3f} s")
    print(f"makespan: {last - t0:.1f} s from Phase 3 start ({window:.1f} s first start to last end); "
          f"ideal {busy / len(slots):.1f} s (total run time / slots), nominal {n * seconds / len(slots):.1f} s")


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--backend", choices=["local", "work-pool"], default="local")
    ap.add_argument("--slots", type=int, default=4)
    ap.add_argument("--experiments", type=int, default=40)
    ap.add_argument("--seconds", type=float, default=2.0)
    ap.add_argument("--verify", action="store_true", help="re-run each new best with a fresh seed, as a campaign does")
    args = ap.parse_args()
    os.environ["ALPHALAB_FIXTURE_SLEEP"] = str(args.seconds)
    if args.backend == "work-pool":
        return work_pool(args)
    tmp = Path(tempfile.mkdtemp(prefix="alphalab-bench-"))
    slots = [str(i) for i in range(args.slots)]
    config, ws = make_workspace(tmp, budgets={"experiments": args.experiments},
                                execution={"backend": "local", "gpu_slots": slots},
                                phase3={"patience": 1000, "proposals_per_turn": 2 * args.slots,
                                        "reporter_every": 1000, "verify_new_best": args.verify})
    env = Campaign(config, ws)
    runner = Recording(LocalRunner(slots))
    ctx = RoleContext(config, ws, log=lambda line: None, phase="phase3")
    t0 = time.time()
    summary = Dispatcher(env, runner, local_roles(ctx), log=lambda line: None).run()
    print(f"backend local on {os.cpu_count()} CPU cores; stop: {summary.stop_reason}; analyzed {summary.analyzed}")
    report(runner.spans, slots, t0, args.seconds, args.experiments)
    return 0


def work_pool(args) -> int:
    from fixtures.phase3.server import deploy_run_experiment, prefect_server, process_worker

    tmp = Path(tempfile.mkdtemp(prefix="alphalab-bench-"))
    slots = [str(i) for i in range(args.slots)]
    with prefect_server(tmp) as srv, process_worker(srv, "bench-gpu"):
        deployment = deploy_run_experiment(srv, "bench-gpu")
        from prefect.client.orchestration import get_client
        from prefect.settings import PREFECT_API_URL, temporary_settings

        from tasks.work_pool import WorkPoolRunner

        config, ws = make_workspace(tmp, budgets={"experiments": args.experiments},
                                    execution={"backend": "work-pool", "gpu_slots": slots, "deployment": deployment},
                                    phase3={"patience": 1000, "proposals_per_turn": 2 * args.slots,
                                            "reporter_every": 1000, "verify_new_best": args.verify})
        with temporary_settings({PREFECT_API_URL: srv.url}):
            inner = WorkPoolRunner(slots, deployment, str(ws.root))
            runner = Recording(inner)
            ctx = RoleContext(config, ws, log=lambda line: None, phase="phase3")
            t0 = time.time()
            summary = Dispatcher(Campaign(config, ws), runner, local_roles(ctx), log=lambda line: None).run()
            pickups, starts = [], []
            with get_client(sync_client=True) as client:
                for run_id, (submitted, _) in inner.pickups.items():
                    states = client.read_flow_run_states(run_id)
                    pending = [s.timestamp.timestamp() for s in states if s.type.value == "PENDING"]
                    running = [s.timestamp.timestamp() for s in states if s.type.value == "RUNNING"]
                    if pending:
                        pickups.append(min(pending) - submitted)
                    if running:
                        starts.append(min(running) - submitted)
        print(f"backend work-pool (PREFECT_WORKER_QUERY_SECONDS={srv.env['PREFECT_WORKER_QUERY_SECONDS']}); "
              f"stop: {summary.stop_reason}; analyzed {summary.analyzed}")
        print(f"pickup latency (submitted -> claimed by the worker): median {statistics.median(pickups):.2f} s, "
              f"p95 {pct(pickups, 0.95):.2f} s over {len(pickups)} runs")
        print(f"start latency (submitted -> flow run running): median {statistics.median(starts):.2f} s")
        report(runner.spans, slots, t0, args.seconds, args.experiments)
    return 0


if __name__ == "__main__":
    sys.exit(main())
