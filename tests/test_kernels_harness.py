"""The kernel harness in CPU mode: correctness, integrity checks (static and at run time), timing, re-verification,
the trusted verdict, the problem set and the evaluate entry point. Most tests judge the harness's own solutions in
this process (LocalJudge); the entry-point tests run the three processes. GPU behaviour is in test_kernels_gpu.py,
attacks on the baselines and on the harness's processes in test_kernels_adversarial.py."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from alphalab.experiment_files import IO_DIR
from alphalab.results import read_result
from alphalab.workspace import Workspace
from harnesses.kernels.correctness import compare, tolerance
from harnesses.kernels.integrity import fallback_ops
from harnesses.kernels.judge import judge_solution
from harnesses.kernels.local import LocalJudge
from harnesses.kernels.problem import find_problem, list_problems
from harnesses.kernels.settings import EvalSettings, KernelReport
from harnesses.kernels.static_check import check_source

REPO = Path(__file__).resolve().parents[1]
# `python -P` leaves the working directory off sys.path: the repository is named explicitly (the device machine has
# no installed copy)
REPO_ENV = {**os.environ,
            "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")]))}
SOLUTIONS = REPO / "harnesses" / "kernels" / "solutions"
ADVERSARIAL = REPO / "harnesses" / "kernels" / "adversarial"
ROWSCALE = SOLUTIONS / "reference" / "diag_matmul_rowscale.py"
WRONG = SOLUTIONS / "reference" / "diag_matmul_wrong.py"


def _settings(**kw) -> EvalSettings:
    return EvalSettings.for_mode("smoke", device="cpu", **kw)


@pytest.fixture(scope="module")
def diag_session() -> LocalJudge:
    return LocalJudge(find_problem("diag_matmul"), _settings())


def _write(tmp_path: Path, name: str, source: str) -> Path:
    path = tmp_path / name
    path.write_text(source)
    return path


# --- the acceptance cases --------------------------------------------------------------------------------------

def test_a_correct_solution_passes_with_timings(diag_session):
    report = diag_session.evaluate(ROWSCALE)
    assert report.accepted, report.reason
    assert report.max_abs_error == 0.0
    assert report.correctness_sets >= 5 and report.trials == 10
    assert report.eager_ms > 0 and report.solution_ms > 0
    assert report.speedup_vs_eager == pytest.approx(report.eager_ms / report.solution_ms)
    # CPU mode has no torch.compile baseline: recorded as absent, not as a made-up number
    assert report.compile_ms is None and report.speedup_vs_compile is None
    assert report.env.device == "cpu" and report.env.torch == torch.__version__
    # the baselines are the pristine reference's, whatever the solution's process did
    assert report.eager_ms_repeats == diag_session.baseline.eager_ms_repeats
    assert report.baseline_key == diag_session.baseline.key


def test_a_wrong_solution_fails_with_the_max_error(diag_session):
    report = diag_session.evaluate(WRONG)
    assert not report.correct and report.rejected_rule == "incorrect"
    # it scales by A + 0.01: the error is 0.01 * |B| somewhere, far above atol 1e-4
    assert 1e-3 < report.max_abs_error < 0.1
    assert "max abs error" in report.reason and "atol=0.0001" in report.reason


@pytest.mark.parametrize("name, static_rule, runtime_rule", [
    ("cached_output", None, "stale_output"),
    ("inplace_write", None, "input_mutated"),
    ("calls_reference", "calls_reference", "torch_fallback"),
    ("side_stream", "side_stream", None),
    ("patches_timer", "patches_timer", None),
])
def test_adversarial_solutions_are_rejected_with_their_reason(diag_session, name, static_rule, runtime_rule):
    path = ADVERSARIAL / f"{name}.py"
    violations = check_source(path.read_text())
    assert (violations[0].rule if violations else None) == static_rule
    report = diag_session.evaluate(path)
    assert not report.accepted
    assert report.rejected_rule == (static_rule or runtime_rule)
    assert report.reason


def test_the_run_time_layer_catches_what_the_static_check_would(tmp_path):
    # static check off: the reference call is then seen in the ops forward dispatches
    session = LocalJudge(find_problem("diag_matmul"), _settings(static_check=False))
    report = session.evaluate(ADVERSARIAL / "calls_reference.py")
    assert report.rejected_rule == "torch_fallback"
    assert "aten.mm" in report.reason


def test_a_timer_patch_is_caught_at_run_time_in_its_own_process(tmp_path):
    # the solution replaces time.perf_counter for the whole process, so it must not run inside pytest's
    settings = _settings(static_check=False)
    subprocess.run([sys.executable, "-P", "-m", "harnesses.kernels.runner", "--problem-file",
                    str(find_problem("diag_matmul").path), "--solution", str(ADVERSARIAL / "patches_timer.py"),
                    "--settings", settings.model_dump_json(), "--io", str(tmp_path)], cwd=REPO, env=REPO_ENV,
                   check=True, timeout=120)
    report = json.loads((tmp_path / "kernel_report.json").read_text())
    assert report["rejected_rule"] == "patches_timer"
    assert "time.perf_counter" in report["reason"] and "torch.cuda.Event.elapsed_time" in report["reason"]


# --- static check ----------------------------------------------------------------------------------------------

_CLEAN = "import torch\n\nclass ModelNew(torch.nn.Module):\n    def forward(self, x):\n        return x * 2\n"


@pytest.mark.parametrize("snippet, rule", [
    ("try:\n    import triton\nexcept ImportError:\n    triton = None\n", "try_except"),
    ("s = torch.cuda.Stream()\n", "side_stream"),
    ("SRC = 'cudaStream_t s; cudaStreamCreate(&s);'\n", "side_stream"),
    ("import time\n", "forbidden_import"),
    ("import os\n", "forbidden_import"),
    ("SEEDS = torch.sys.argv\n", "forbidden_import"),  # the settings (and so the seeds) are in argv
    ("import torch as t\nt.os.environ['PYTORCH_CUDA_ALLOC_CONF'] = ''\n", "forbidden_import"),
    ("torch.cuda.synchronize = lambda *a: None\n", "patches_library"),
    ("setattr(torch, 'mm', None)\n", "patches_library"),
    ("f = torch.compile(lambda x: x)\n", "torch_fallback"),
    ("from torch.utils._python_dispatch import TorchDispatchMode\n", "torch_fallback"),
    ("from problem import Model\n", "calls_reference"),
    ("from . import reference\n", "calls_reference"),
    ("eval('1')\n", "dynamic_code"),
])
def test_static_rules(snippet, rule):
    assert check_source(_CLEAN) == []
    rules = {v.rule for v in check_source(_CLEAN + snippet)}
    assert rule in rules


def test_a_file_without_modelnew_or_with_a_syntax_error_is_rejected():
    assert check_source("import torch\n")[0].rule == "no_modelnew"
    assert check_source("def broken(:\n")[0].rule == "syntax"


def test_hand_written_solutions_pass_the_static_check():
    for path in sorted((SOLUTIONS / "fast").glob("*.py")) + sorted((SOLUTIONS / "reference").glob("*.py")):
        assert check_source(path.read_text()) == [], path.name


def test_the_polynomial_gelu_is_accepted_without_the_references_ops():
    # the honest twin of adversarial/alias_patch_functional.py: same forward, no patch
    report = LocalJudge(find_problem("gelu"), _settings()).evaluate(SOLUTIONS / "reference" / "gelu_erf_poly.py")
    assert report.accepted, report.reason
    assert report.max_abs_error < 1e-5


# --- run-time pieces -------------------------------------------------------------------------------------------

def test_kernelbench_tolerances():
    assert tolerance(torch.float32) == (1e-4, 1e-4)
    assert tolerance(torch.float16) == (1e-2, 1e-2) == tolerance(torch.bfloat16)
    assert tolerance(torch.int64) == (0.0, 0.0)
    ref = torch.ones(4, dtype=torch.float16)
    assert compare(ref + 0.005, ref).ok
    assert not compare(ref.float() + 0.005, ref.float()).ok
    assert not compare(torch.tensor([1, 2]), torch.tensor([1, 3])).ok


def test_unwritten_outputs_show_up_as_nan_and_fail():
    ref = torch.ones(8)
    out = ref.clone()
    out[3] = float("nan")
    result = compare(out, ref)
    assert not result.ok and "non-finite" in result.reason


def test_fallback_ops_match_synonyms_but_not_glue():
    assert fallback_ops({"relu"}, {"clamp", "empty_like"}) == ["clamp"]
    assert fallback_ops({"addmm", "t"}, {"mm", "mul"}) == ["mm"]
    assert fallback_ops({"diag_embed", "mm"}, {"mul", "unsqueeze"}) == []
    assert fallback_ops({"_softmax"}, {"exp", "div", "amax"}) == ["exp"]


def test_a_try_except_fallback_is_rejected_before_import(diag_session, tmp_path):
    path = _write(tmp_path, "fallback.py", "import torch\n\nclass ModelNew(torch.nn.Module):\n"
                  "    def forward(self, A, B):\n        try:\n            return torch.ops.my.kernel(A, B)\n"
                  "        except Exception:\n            return torch.diag(A) @ B\n")
    report = diag_session.evaluate(path)
    assert report.rejected_rule == "try_except" and "line 5" in report.reason


def test_returning_an_input_is_rejected(tmp_path):
    session = LocalJudge(find_problem("relu"), _settings())
    path = _write(tmp_path, "identity.py", "import torch\n\nclass ModelNew(torch.nn.Module):\n"
                  "    def forward(self, x):\n        return x\n")
    assert session.evaluate(path).rejected_rule == "output_aliases_input"


_SLOW_PROBLEM = '''"""A deliberately slow reference, so a plain solution is many times faster."""
import torch
import torch.nn as nn

N = 64


class Model(nn.Module):
    def forward(self, x):
        y = x
        for _ in range(400):
            y = (y + x) * 0.5
        return y * 0 + x * 2


def get_inputs():
    return [torch.randn(N)]


def get_init_inputs():
    return []
'''


def test_a_large_speedup_is_reverified_with_new_inputs_and_more_trials(tmp_path):
    problems = tmp_path / "problems"
    problems.mkdir()
    _write(problems, "slow_double.py", _SLOW_PROBLEM)
    fast = _write(tmp_path, "fast.py", "import torch\n\nclass ModelNew(torch.nn.Module):\n"
                  "    def forward(self, x):\n        return x + x\n")
    # correct for the first 15 calls only: it passes the first check and the timing, then meets new inputs
    decaying = _write(tmp_path, "decaying.py", "import torch\n\nclass ModelNew(torch.nn.Module):\n"
                      "    def __init__(self):\n        super().__init__()\n        self.calls = 0\n"
                      "    def forward(self, x):\n        self.calls += 1\n"
                      "        return x + x if self.calls <= 15 else x + x + 1\n")
    session = LocalJudge(find_problem("slow_double", problems), _settings(reverify_threshold=3.0, trials=5, warmup=1))
    report = session.evaluate(fast)
    assert report.accepted and report.reverified is True
    assert report.first_pass_speedup > 3.0 and report.trials == 15
    failed = session.evaluate(decaying)
    assert not failed.accepted and failed.reverified is False
    assert failed.reason.startswith("re-verification failed") and failed.rejected_rule == "incorrect"


# --- the verdict: what the solution's process reports is only its word -------------------------------------------

def _verdict(session: LocalJudge, claimed: KernelReport, outputs: dict) -> KernelReport:
    return judge_solution(session.problem, ROWSCALE, session.settings,
                          reference=lambda _settings, seeds: (session.baseline, session.reference.outputs(seeds)),
                          run_solution=lambda settings, ops, below_ms: (claimed, outputs))


def _claim(solution_ms: float) -> KernelReport:
    return KernelReport(problem="diag_matmul", solution="forged", device="cpu", mode="smoke", correct=True,
                        solution_ms=solution_ms, solution_ms_repeats=[solution_ms], speedup_vs_eager=1e6)


def test_a_report_that_claims_success_is_judged_on_its_outputs(diag_session):
    seeds = diag_session.settings.correctness_seeds()
    right = diag_session.reference.outputs(seeds)
    honest_ms = diag_session.baseline.eager_ms
    assert _verdict(diag_session, _claim(honest_ms), {}).rejected_rule == "missing_outputs"
    assert _verdict(diag_session, _claim(honest_ms), {s: [torch.zeros_like(right[s][0])] for s in seeds}
                    ).rejected_rule == "incorrect"
    assert _verdict(diag_session, _claim(honest_ms), {s: right[seeds[0]] for s in seeds}
                    ).rejected_rule == "stale_output"
    report = _verdict(diag_session, _claim(honest_ms), right)
    assert report.accepted and report.speedup_vs_eager == pytest.approx(1.0)


def test_a_claimed_large_speedup_needs_re_verification_outputs(diag_session):
    right = diag_session.reference.outputs(diag_session.settings.correctness_seeds())
    report = _verdict(diag_session, _claim(1e-6), right)
    assert report.rejected_rule == "reverify_missing" and report.first_pass_speedup > 1000
    claimed = _claim(1e-6).model_copy(update={"reverified": True, "first_pass_solution_ms": 1e-6})
    report = _verdict(diag_session, claimed, right)
    assert report.rejected_rule == "missing_outputs" and report.reason.startswith("re-verification failed")


# --- problems --------------------------------------------------------------------------------------------------

def test_the_problem_set_covers_the_required_categories():
    names = {p.name for p in list_problems()}
    assert len(names) >= 12
    assert {"relu", "gelu", "sum_reduction", "max_reduction", "layernorm", "rmsnorm", "softmax", "cross_entropy",
            "diag_matmul", "matmul_relu", "llama_ffn", "conv2d"} <= names


@pytest.mark.parametrize("problem", [p.name for p in list_problems()])
def test_every_problem_passes_with_a_copy_of_its_reference(problem, tmp_path):
    ref = find_problem(problem)
    copy = _write(tmp_path, "copy.py", ref.path.read_text() + "\n\nModelNew = Model\n")
    session = LocalJudge(ref, _settings(trials=2, warmup=1))
    inputs = session.reference.inputs(0)
    assert any(isinstance(v, torch.Tensor) and v.numel() and v.abs().sum() > 0 for v in inputs)
    report = session.evaluate(copy, trusted=True)
    assert report.accepted, report.reason
    # and untrusted, the same copy is the reference's own work in PyTorch
    assert session.evaluate(copy).rejected_rule in {"calls_reference", "torch_fallback"}


def test_a_user_problem_folder_in_kernelbench_layout_is_found(tmp_path):
    level = tmp_path / "KernelBench" / "level1"
    level.mkdir(parents=True)
    _write(level, "19_ReLU.py", (REPO / "harnesses/kernels/problems/relu.py").read_text().replace(
        "M = 4096\nN = 4096", "M = 4\nN = 8"))
    found = list_problems(tmp_path / "KernelBench")
    assert [p.name for p in found] == ["19_ReLU"]
    with pytest.raises(KeyError, match="19_ReLU"):
        find_problem("relu", tmp_path / "KernelBench")


# --- evaluate: the entry point the manifest names --------------------------------------------------------------

def _experiment(ws: Path, solution: Path, problem: str = "diag_matmul") -> Path:
    exp = ws / "experiments" / "e1"
    exp.mkdir(parents=True)
    (exp / "solution.py").write_text(solution.read_text())
    (exp / "problem.txt").write_text(problem + "\n")
    return exp


def _evaluate_cli(exp: Path, ws: Path, *extra: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "harnesses.kernels.evaluate", "--experiment", str(exp),
                           "--workspace", str(ws), "--mode", "smoke", "--device", "cpu", *extra],
                          cwd=REPO, capture_output=True, text=True, timeout=180)


def test_evaluate_records_the_result_outside_the_experiment_folder(tmp_path):
    ws = tmp_path / "ws"
    exp = _experiment(ws, ROWSCALE)
    # what an experiment leaves in its folder is never read as a result, and a link planted as the exchange folder
    # is removed, not followed
    (exp / "metrics.json").write_text(json.dumps({"status": "ok", "eval_mode": "full",
                                                  "metrics": {"speedup_vs_compile": 1000.0}}))
    (exp / IO_DIR).symlink_to(tmp_path)
    proc = _evaluate_cli(exp, ws)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    result = read_result(Workspace(ws), exp, "smoke")
    assert result.status == "ok" and result.eval_mode == "smoke" and result.harness == "kernels"
    assert result.metrics["correct"] == 1.0 and "speedup_vs_compile" not in result.metrics
    assert result.details["problem"] == "diag_matmul" and result.details["env"]["torch"]
    assert tmp_path.is_dir() and not (exp / IO_DIR).exists()
    # the pristine baseline is cached under the workspace's private folder, keyed as the report says
    cached = json.loads((ws / ".private" / "kernels" / f"diag_matmul-{result.details['baseline_key'][:16]}.json")
                        .read_text())
    assert cached["eager_ms_repeats"] == result.details["eager_ms_repeats"]


def test_evaluate_records_a_rejection_with_its_rule(tmp_path):
    from harnesses.kernels.evaluate import evaluate_experiment

    ws = tmp_path / "ws"
    exp = _experiment(ws, ADVERSARIAL / "inplace_write.py")
    returned = evaluate_experiment(exp, Workspace(ws), "smoke", device="cpu")
    result = read_result(Workspace(ws), exp, "smoke")
    assert result == returned
    assert result.status == "failed" and result.error_signature == "input_mutated"
    assert result.metrics["correct"] == 0.0 and "input 1" in result.error


def test_evaluate_reads_the_problem_folder_from_the_adapter_options(tmp_path):
    from harnesses.kernels.evaluate import problem_name, problems_dir

    ws = Workspace(tmp_path / "ws")
    ws.adapter.mkdir(parents=True)
    (ws.adapter / "manifest.yaml").write_text("options:\n  problems_dir: mine\n")
    assert problems_dir(ws, None) == ws.root / "mine"
    exp = tmp_path / "exp"
    exp.mkdir()
    (exp / "spec.json").write_text(json.dumps({"params": {"problem": "softmax", "block_size": 128}}))
    assert problem_name(exp, None) == "softmax"
    assert problem_name(exp, "relu") == "relu"
