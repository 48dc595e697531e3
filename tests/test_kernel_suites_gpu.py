"""The suites' formats and protocols on a GPU: a robust-kbench `.cu` submission through the entry point, timed under
all three protocols and shape-checked at the task's multi configuration. Run on the device machine:
`python3 -m pytest -m gpu tests/test_kernel_suites_gpu.py`."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys

import pytest

from alphalab.results import read_result
from alphalab.workspace import Workspace
from test_kernels_gpu import REPO, REPO_ENV, _needs_cuda  # noqa: F401 (_needs_cuda: an autouse fixture)

pytestmark = pytest.mark.gpu

TASKS = REPO / "tests" / "fixtures" / "kernel_suites" / "robust_kbench" / "tasks"


def test_a_cu_submission_is_built_timed_under_every_protocol_and_shape_checked(tmp_path):
    ws = tmp_path / "ws"
    exp = ws / "experiments" / "cu"
    exp.mkdir(parents=True)
    shutil.copy(TASKS / "scaled_add" / "forward.cu", exp / "solution.cu")
    (exp / "problem.txt").write_text("scaled_add\n")
    proc = subprocess.run([sys.executable, "-P", "-m", "harnesses.kernels.evaluate", "--experiment", str(exp),
                           "--workspace", str(ws), "--mode", "full", "--data", str(TASKS),
                           "--options", json.dumps({"protocols": "kernelbench,robust-kbench"})],
                          cwd=REPO, env=REPO_ENV, capture_output=True, text=True, timeout=900)
    result = read_result(Workspace(ws), exp, "full")
    assert result is not None and result.status == "ok", proc.stdout + proc.stderr
    details = result.details
    assert details["protocol"] == "ours" and details["config"].endswith("batch_size=4")
    assert details["precision"]["matmul_allow_tf32"] is False and details["precision"]["input_dtypes"] == ["float32"]
    robust, kernelbench = details["protocols"]["robust-kbench"], details["protocols"]["kernelbench"]
    assert robust["compile_mode"] == "max-autotune" and kernelbench["compile_mode"] == "default"
    for timing in (robust, kernelbench):
        assert timing["solution_ms"] > 0 and timing["eager_ms"] > 0 and timing["correct"] is True
    assert details["shape_check"]["status"] in {"passed", "flagged"}
    assert "num_features=49" in details["shape_check"]["config"]
    assert result.metrics["shape_check_ok"] in (0.0, 1.0) and "robust_kbench_speedup_vs_compile" in result.metrics
