"""The kernel harness on a GPU: the CUDA timing path, the torch.compile baseline from the pristine reference
process, the run-time stream and timer checks. Run on the device machine:
`python3 -m pytest -m gpu tests/test_kernels_gpu.py` (the CUDA attacks on the baselines are in
test_kernels_adversarial.py)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from alphalab.results import read_result
from alphalab.workspace import Workspace
from harnesses.kernels.integrity import TimerSnapshot
from harnesses.kernels.local import LocalJudge
from harnesses.kernels.problem import find_problem
from harnesses.kernels.settings import EvalSettings
from harnesses.kernels.timing import Timer

pytestmark = pytest.mark.gpu

REPO = Path(__file__).resolve().parents[1]
# `python -P` leaves the working directory off sys.path: the repository is named explicitly (the device machine has
# no installed copy)
REPO_ENV = {**os.environ,
            "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")]))}
SOLUTIONS = REPO / "harnesses" / "kernels" / "solutions"
ADVERSARIAL = REPO / "harnesses" / "kernels" / "adversarial"


@pytest.fixture(autouse=True)
def _needs_cuda():
    if not torch.cuda.is_available():
        pytest.fail("these tests need a CUDA GPU; deselect them with -m 'not gpu'")


def test_a_triton_kernel_is_scored_against_eager_and_compile_through_the_entry_point(tmp_path):
    ws = tmp_path / "ws"
    exp = ws / "experiments" / "rms"
    exp.mkdir(parents=True)
    (exp / "solution.py").write_text((SOLUTIONS / "fast" / "rmsnorm_triton.py").read_text())
    (exp / "problem.txt").write_text("rmsnorm\n")
    proc = subprocess.run([sys.executable, "-P", "-m", "harnesses.kernels.evaluate", "--experiment", str(exp),
                           "--workspace", str(ws), "--mode", "smoke"], cwd=REPO, env=REPO_ENV, capture_output=True,
                          text=True, timeout=600)
    result = read_result(Workspace(ws), exp, "smoke")
    assert result is not None and result.status == "ok", proc.stdout + proc.stderr
    details = result.details
    assert details["device"] == "cuda" and details["env"]["gpu"] and details["env"]["driver"]
    assert details["env"]["cuda"] == torch.version.cuda
    # one pass over memory instead of five: faster than eager, and a compile baseline was measured
    assert result.metrics["speedup_vs_eager"] > 1.5
    assert result.metrics["compile_ms"] > 0 and result.metrics["speedup_vs_compile"] > 0
    # both baselines came from the pristine process and are cached under the workspace's private folder
    cached = json.loads((ws / ".private" / "kernels" / f"rmsnorm-{details['baseline_key'][:16]}.json").read_text())
    assert cached["eager_ms_repeats"] == details["eager_ms_repeats"]
    assert cached["compile_ms_repeats"] == details["compile_ms_repeats"]


def test_the_cuda_timer_flushes_l2_and_times_with_events():
    device = torch.device("cuda")
    timer = Timer(device, TimerSnapshot())
    l2 = torch.cuda.get_device_properties(device).L2_cache_size
    assert timer._flush.numel() * 4 >= 2 * l2
    x = torch.randn(1 << 24, device=device)
    small = timer.times_ms(torch.relu, [[x[: 1 << 10]]], trials=20, warmup=2)
    large = timer.times_ms(torch.relu, [[x]], trials=20, warmup=2)
    assert len(small) == 20 and all(t > 0 for t in small)
    assert sorted(large)[10] > sorted(small)[10]


def test_work_left_on_a_side_stream_is_caught_at_run_time():
    session = LocalJudge(find_problem("diag_matmul"), EvalSettings.for_mode("smoke", device="cuda",
                                                                             static_check=False,
                                                                             compile_reference=False))
    report = session.evaluate(ADVERSARIAL / "side_stream.py")
    assert report.rejected_rule == "side_stream", report


def test_a_timer_patch_is_caught_at_run_time_on_cuda(tmp_path):
    settings = EvalSettings.for_mode("smoke", device="cuda", static_check=False, compile_reference=False)
    subprocess.run([sys.executable, "-P", "-m", "harnesses.kernels.runner", "--problem-file",
                    str(find_problem("diag_matmul").path), "--solution", str(ADVERSARIAL / "patches_timer.py"),
                    "--settings", settings.model_dump_json(), "--io", str(tmp_path)], cwd=REPO, env=REPO_ENV,
                   check=True, timeout=300)
    report = json.loads((tmp_path / "kernel_report.json").read_text())
    assert report["rejected_rule"] == "patches_timer" and "elapsed_time" in report["reason"]
