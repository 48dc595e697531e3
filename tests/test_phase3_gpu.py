"""On a machine with NVIDIA GPUs: the local backend runs each experiment pinned to its slot's GPU, and the
experiment asserts it sees exactly that one. Needs only torch, pydantic, pyyaml and jinja2 (no Prefect, no
Optuna): the Dispatcher and the local runner with the baseline Worker and a fixed list of proposals."""

from __future__ import annotations

import re

import pytest

from alphalab.phase3.contracts import Phase3Roles
from alphalab.phase3.dispatcher import Dispatcher
from alphalab.execution import LocalRunner
from alphalab.campaign import Campaign
from alphalab.phase3.contracts import StrategistOutput
from alphalab.roles import worker
from alphalab.roles.base import RoleContext
from alphalab.phase3.contracts import MilestoneOutcome
from alphalab.phase3.contracts import SupervisorOutcome
from fixtures.phase3.helpers import make_workspace

pytestmark = pytest.mark.gpu
LINE = re.compile(r"GPU-CHECK visible=1 CUDA_VISIBLE_DEVICES=(\S+) uuid=(\S+) device=(.+?) matmul_sum")


def test_local_backend_pins_each_run_to_its_gpu(tmp_path, monkeypatch):
    import torch

    count = torch.cuda.device_count()
    assert count >= 1, "no CUDA device visible"
    slots = [str(i) for i in range(count)]
    # this process sees every GPU: slot i must be the very device that is number i here
    uuids = {slot: str(torch.cuda.get_device_properties(int(slot)).uuid) for slot in slots}
    monkeypatch.setenv("ALPHALAB_FIXTURE_REQUIRE_GPU", "1")
    config, ws = make_workspace(tmp_path, budgets={"experiments": 2 * count},
                                execution={"backend": "local", "gpu_slots": slots})
    env = Campaign(config, ws)
    ctx = RoleContext(config, ws, log=print, phase="phase3")

    def propose(inp):
        ids = []
        for i in range(inp.proposals_wanted):
            e = env.board.add(f"gpu {i}", {"params": {"x": 0.2 + i / 10, "kind": "a", "mode": "ok"}})
            env.board.update(e.id, seed=env.seed_for(e.seq))
            ids.append(e.id)
        return StrategistOutput(proposed=ids)

    roles = Phase3Roles(
        implement=lambda exp_id: worker.implement(ctx, exp_id), analyze=lambda exp_id: worker.analyze(ctx, exp_id),
        fix=lambda exp_id: worker.fix(ctx, exp_id), strategist=propose,
        supervisor=lambda inp: SupervisorOutcome(patched=False),
        reporter=lambda n: MilestoneOutcome(number=n, overview=ws.root, plot=ws.root, markdown=""),
    )
    summary = Dispatcher(env, LocalRunner(slots), roles, log=print).run()
    assert summary.analyzed == 2 * count
    for e in env.board.select():
        assert e.state in ("analyzed", "done"), (e.id, e.state, e.note)
        checks = LINE.findall((env.exp_dir(e.id) / "run.log").read_text())
        assert checks, f"{e.id}: no GPU check in its run.log"
        for pinned, uuid, device in checks:
            assert pinned == e.slot and uuid == uuids[e.slot]
            print(f"{e.id}: slot {e.slot} -> CUDA_VISIBLE_DEVICES={pinned}, sees 1 GPU: {device} {uuid}")
