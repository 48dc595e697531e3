"""The adversarial suite: every hostile experiment in `harnesses/<domain>/adversarial/` goes through the real Phase 3
path in each sandbox mode its case names, and must end dead with the named reason of the defence that stopped it,
never on the leaderboard. The kernels' baseline-tampering cases are judged in tests/test_kernels_adversarial.py.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from fixtures.adversarial import REPO, Verdict, cases, check, load_case, run_case
from harnesses.forecasting.layout import generate_dataset

needs_bwrap = pytest.mark.skipif(shutil.which("bwrap") is None, reason="bubblewrap is not installed")


@pytest.fixture(scope="module")
def outside_tmp():
    """Workspaces outside /tmp: bwrap gives the sandbox a private /tmp, so hiding must be shown elsewhere."""
    path = Path(tempfile.mkdtemp(dir="/var/tmp", prefix="alphalab-redteam-"))
    yield path
    shutil.rmtree(path, ignore_errors=True)


@pytest.fixture(scope="module")
def series(outside_tmp):
    return generate_dataset(outside_tmp / "data", n_series=4, length=24 * 30, windows=2)


def _cases(domain_dir: str, sub: str = "adversarial") -> list[tuple[Path, str]]:
    return [(folder, mode) for folder in cases(domain_dir, sub) for mode in load_case(folder).modes]


def _params(domain_dir: str, sub: str = "adversarial") -> list:
    return [pytest.param(folder, mode, id=f"{folder.name}-{mode}", marks=[needs_bwrap] if mode != "none" else [])
            for folder, mode in _cases(domain_dir, sub)]


def _run_all(jobs: list[tuple[Path, str]], run: Callable[[Path, str], Verdict]) -> dict[tuple[Path, str], Any]:
    """Every case of a domain, two at a time: each is a campaign in its own workspace, and most of its time is
    processes starting. A case's error is kept and raised by its own test."""
    runnable = [(f, m) for f, m in jobs if m == "none" or shutil.which("bwrap")]

    def one(job: tuple[Path, str]) -> Any:
        try:
            return run(*job)
        except Exception as e:  # noqa: BLE001 - reported by the case's own test
            return e

    with ThreadPoolExecutor(max_workers=2) as pool:
        return dict(zip(runnable, pool.map(one, runnable)))


def _check(verdicts: dict, folder: Path, sandbox: str) -> None:
    verdict = verdicts[(folder, sandbox)]
    if isinstance(verdict, Exception):
        raise verdict
    check(load_case(folder), verdict, sandbox)


@pytest.fixture(scope="module")
def forecasting_verdicts(series, outside_tmp):
    return _run_all(_cases("forecasting"), lambda folder, mode: run_case(
        folder, outside_tmp / f"ts-{folder.name}-{mode}", domain="time_series", harness="forecasting", data=series,
        sandbox=mode))


@pytest.mark.parametrize("folder, sandbox", _params("forecasting"))
def test_forecasting_attack_is_stopped(folder, sandbox, forecasting_verdicts):
    _check(forecasting_verdicts, folder, sandbox)


@pytest.fixture(scope="module")
def corpus(outside_tmp):
    root = outside_tmp / "corpus"
    root.mkdir()
    text = b"abracadabra, a cab and a bad crab ran. " * 40
    for i in range(30):
        (root / f"doc{i:02d}.txt").write_bytes(f"document {i}: ".encode() + text[: 200 + 37 * i])
    return root


# budgets of a few seconds: the cases save a toy model at once, training is not what they test
SPEEDRUN_OPTIONS = {"budget_s": 5, "smoke_budget_s": 5, "grace_s": 2, "smoke_grace_s": 2, "val_bytes": 3000,
                    "smoke_val_bytes": 1024}


@pytest.fixture(scope="module")
def speedrun_verdicts(corpus, outside_tmp):
    return _run_all(_cases("speedrun"), lambda folder, mode: run_case(
        folder, outside_tmp / f"sr-{folder.name}-{mode}", domain="llm_speedrun", harness="speedrun", data=corpus,
        sandbox=mode, domain_options=SPEEDRUN_OPTIONS))


@pytest.mark.parametrize("folder, sandbox", _params("speedrun"))
def test_speedrun_attack_is_stopped(folder, sandbox, speedrun_verdicts):
    _check(speedrun_verdicts, folder, sandbox)


@pytest.fixture(scope="module")
def kernel_verdicts(outside_tmp):
    # on the CPU (the problems' small sizes): what is tested is the path, not the kernel
    return _run_all(_cases("kernels", "adversarial/phase3"), lambda folder, mode: run_case(
        folder, outside_tmp / f"k-{folder.name}-{mode}", domain="cuda_kernel", harness="kernels",
        data=REPO / "harnesses" / "kernels" / "problems", sandbox=mode))


@pytest.mark.parametrize("folder, sandbox", _params("kernels", "adversarial/phase3"))
def test_kernel_attack_is_stopped(folder, sandbox, kernel_verdicts):
    _check(kernel_verdicts, folder, sandbox)


def test_read_targets_is_a_real_leak_without_the_sandbox(series, outside_tmp):
    """The control for the read_targets case: with `sandbox.mode: none` (what the start-up warning describes) the
    same experiment forecasts with the true values, so what stops it under bwrap is the sandbox alone."""
    folder = next(f for f in cases("forecasting") if f.name == "read_targets")
    verdict = run_case(folder, outside_tmp / "read_targets-control", domain="time_series", harness="forecasting",
                       data=series, sandbox="none")
    assert verdict.leaderboard and verdict.metrics["rmse"] == pytest.approx(0.0, abs=1e-6), verdict


@needs_bwrap
def test_a_phase3_agent_cannot_change_the_sealed_evaluation_or_read_harness_data(outside_tmp, series):
    """Agent commands are hostile too: a Worker's tools (in the campaign's process) and its shell (under the
    default sandbox) cannot rewrite harness/ or the manifest once sealed, nor read `.private/`."""
    import json

    from alphalab import harness_seal
    from alphalab.campaign import Campaign
    from alphalab.roles.base import RoleContext
    from alphalab.roles.builder import install_trusted_harness
    from alphalab.roles.llm import tool_context
    from alphalab.tools import read_file, shell_exec, write_file
    from alphalab.tools.base import ToolError
    import yaml

    root = outside_tmp / "agent"
    root.mkdir()
    (root / "c.yaml").write_text(yaml.safe_dump({"name": "agent", "domain": "time_series", "data_path": str(series),
                                                 "objective": "o", "workspace": str(root / "ws")}))
    campaign = Campaign.open(root / "c.yaml")
    cfg, ws = campaign.config, campaign.workspace
    shutil.copytree(Path(__file__).resolve().parents[1] / "adapters" / "time_series", ws.adapter, dirs_exist_ok=True)
    install_trusted_harness(ws, "forecasting")
    (ws.private / "targets.txt").write_text("the held-out targets")
    harness_seal.seal(ws)
    ctx = tool_context(RoleContext(cfg, ws, log=lambda line: None, phase="phase3"))
    before = (ws.harness / "evaluate.py").read_bytes(), (ws.adapter / "manifest.yaml").read_bytes()

    for path in ("harness/evaluate.py", "adapter/manifest.yaml", "harness/new.py"):
        with pytest.raises(ToolError, match="read-only"):
            write_file(ctx, json.dumps({"path": path, "content": "forged"}))
    for path in (".private/targets.txt", ".private/results"):
        with pytest.raises(ToolError, match="hidden"):
            read_file(ctx, json.dumps({"path": path}))
    out = shell_exec(ctx, json.dumps({"command": "echo forged >> harness/evaluate.py; echo forged > adapter/manifest.yaml;"
                                                 " cat .private/targets.txt; ls .private"})).text
    assert "Read-only file system" in out and "the held-out targets" not in out, out
    assert ((ws.harness / "evaluate.py").read_bytes(), (ws.adapter / "manifest.yaml").read_bytes()) == before
    assert harness_seal.changes(ws) == []
