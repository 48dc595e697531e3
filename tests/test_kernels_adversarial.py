"""Attacks on the kernel harness's own processes, each run through the real entry point (evaluate_experiment: the
trusted process, the pristine reference process, the sandboxable solution process).

A solution shares its process with whatever the harness computes there. These solutions use that: they rebind a
function the reference calls (through an alias no static reading follows), or flip a process-wide setting
(precision, determinism, cuDNN, the allocator), so that a baseline measured beside them would be slower and their
speedup larger; or they plant a `harnesses/` package in the experiment folder to replace the runner. Each case names
the defence that stops it:
- pristine baselines: the reference's outputs and the eager/compile timings come from a process that never imports
  a solution, so every report's eager_ms is the cached baseline's, whatever the solution did;
- the torch-state snapshot in the solution's process (harnesses.base.torch_state): the solution is rejected by name,
  `patches_torch` for a rebound function, `changes_global_state` for a flag;
- import isolation: the runner starts with `python -P` and a PYTHONPATH without the experiment folder.
CPU cases run in `make test`; the CUDA ones (`-m gpu`) fail without a GPU.
"""

from __future__ import annotations

import os
import shutil
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import torch

from alphalab.results import RunResult
from alphalab.workspace import Workspace
from harnesses.base.torch_state import TorchState
from harnesses.kernels.evaluate import evaluate_experiment, reference_fn
from harnesses.kernels.problem import find_problem
from harnesses.kernels.settings import Baseline, EvalSettings

REPO = Path(__file__).resolve().parents[1]
ADVERSARIAL = REPO / "harnesses" / "kernels" / "adversarial"
HONEST = REPO / "harnesses" / "kernels" / "solutions" / "reference"

# solution file -> (problem, rule, what the reason must name); the defence: the torch-state snapshot, and the
# pristine baseline (asserted for every case)
CPU_ATTACKS = {
    "alias_patch_functional": ("gelu", "patches_torch", "torch.nn.functional.gelu"),
    "alias_patch_torch": ("diag_matmul", "patches_torch", "torch.diag"),
    "patch_in_forward": ("diag_matmul", "patches_torch", "while running forward: torch.diag"),
    "matmul_precision": ("diag_matmul", "changes_global_state", "float32_matmul_precision: highest -> medium"),
    "default_dtype": ("diag_matmul", "changes_global_state", "default_dtype: torch.float32 -> torch.float64"),
    "deterministic": ("diag_matmul", "changes_global_state", "deterministic_algorithms: False -> True"),
    "cudnn_benchmark": ("diag_matmul", "changes_global_state", "cudnn_benchmark: False -> True"),
    "alloc_conf_env": ("diag_matmul", "changes_global_state", "env PYTORCH_CUDA_ALLOC_CONF: unset ->"),
}
GPU_ATTACKS = {
    "tf32_matmul": ("diag_matmul", "changes_global_state", "cublas_allow_tf32: False -> True"),
    "cudnn_tf32": ("diag_matmul", "changes_global_state", "cudnn_allow_tf32: False -> True"),
    "allocator_settings": ("diag_matmul", "changes_global_state", "allocator_settings"),
    "memory_fraction": ("diag_matmul", "changes_global_state", "cuda_memory_fraction: 1.0 -> 0.5"),
}

# A stand-in for the runner, planted in the experiment folder: it runs no solution and reports the reference's own
# outputs (computed with the harness's code, reached by extending the package path) and a near-zero time. Were it
# imported instead of the real runner, this wrong solution would be accepted with a huge speedup.
_SHADOW_INIT = "__path__.append({real!r})\n"
_SHADOW_RUNNER = '''
import argparse
from pathlib import Path

import torch

from harnesses.kernels.problem import ProblemRef
from harnesses.kernels.reference import ReferenceSession
from harnesses.kernels.settings import EvalSettings, KernelReport

parser = argparse.ArgumentParser()
for name in ("--problem-file", "--solution", "--settings", "--io", "--reference-ops", "--reverify-below-ms"):
    parser.add_argument(name)
args = parser.parse_args()
(Path(args.solution).parent / "shadow_ran").touch()
settings = EvalSettings.model_validate_json(args.settings)
reference = ReferenceSession(ProblemRef(name="diag_matmul", path=Path(args.problem_file)), settings)
seeds = settings.correctness_seeds() + settings.correctness_seeds(reverify=True)
for seed, tensors in reference.outputs(seeds).items():
    torch.save(tensors, Path(args.io) / f"{seed}.pt")
report = KernelReport(problem="diag_matmul", solution=args.solution, device="cpu", mode=settings.mode,
                      solution_ms=1e-6, solution_ms_repeats=[1e-6], first_pass_solution_ms=1e-6, reverified=True)
(Path(args.io) / "kernel_report.json").write_text(report.model_dump_json())
'''


def _experiment(ws: Workspace, name: str, solution: Path, problem: str) -> Path:
    exp = ws.experiment(name)
    exp.mkdir(parents=True, exist_ok=True)  # a case may have planted files in it already
    shutil.copy(solution, exp / "solution.py")
    (exp / "problem.txt").write_text(problem + "\n")
    return exp


def _plant_shadow_runner(exp: Path) -> None:
    for package in ("harnesses", "harnesses/kernels"):
        (exp / package).mkdir(parents=True, exist_ok=True)
        (exp / package / "__init__.py").write_text(_SHADOW_INIT.format(real=str(REPO / package)))
    (exp / "harnesses" / "kernels" / "runner.py").write_text(_SHADOW_RUNNER)


def _pristine(ws: Workspace, problem: str, settings: EvalSettings) -> Baseline:
    """The baseline as the pristine reference process measured and cached it, before any attack ran."""
    return reference_fn(find_problem(problem), ws, timeout_s=600)(settings, settings.correctness_seeds()[:1])[0]


def _evaluate_all(ws: Workspace, cases: dict[str, tuple[Path, str, dict]]) -> dict[str, RunResult]:
    """Every case at once (they share the workspace's cached baselines), so the suite takes seconds."""
    def one(name: str) -> RunResult:
        solution, problem, overrides = cases[name]
        return evaluate_experiment(_experiment(ws, name, solution, problem), ws, "smoke", **overrides)

    with ThreadPoolExecutor(max_workers=min(4, os.cpu_count() or 1)) as pool:
        return dict(zip(cases, pool.map(one, cases)))


def _assert_pristine_baseline(result: RunResult, baseline: Baseline) -> None:
    # the eager (and compile) numbers are the cached pristine ones, to the digit: nothing the solution did reached them
    assert result.details["baseline_key"] == baseline.key
    assert result.details["eager_ms_repeats"] == baseline.eager_ms_repeats
    assert result.details["compile_ms_repeats"] == baseline.compile_ms_repeats


def _assert_rejected(result: RunResult, rule: str, named: str, baseline: Baseline) -> None:
    assert result.status == "failed" and result.metrics["correct"] == 0.0
    assert result.error_signature == rule and named in result.error, result.error
    _assert_pristine_baseline(result, baseline)


# --- CPU ----------------------------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def cpu_runs(tmp_path_factory) -> tuple[dict[str, RunResult], dict[str, Baseline]]:
    ws = Workspace(tmp_path_factory.mktemp("adversarial") / "ws")
    settings = EvalSettings.for_mode("smoke", device="cpu")
    baselines = {p: _pristine(ws, p, settings) for p in ("gelu", "diag_matmul")}
    cases = {name: (ADVERSARIAL / f"{name}.py", problem, {"device": "cpu"})
             for name, (problem, _, _) in CPU_ATTACKS.items()}
    # the first defence alone: with the torch-state check off, the alias patch is accepted, and gains nothing
    cases["alias_patch_functional_unchecked"] = (ADVERSARIAL / "alias_patch_functional.py", "gelu",
                                                 {"device": "cpu", "state_check": False})
    cases["shadow_runner"] = (HONEST / "diag_matmul_wrong.py", "diag_matmul", {"device": "cpu"})
    _plant_shadow_runner(ws.experiment("shadow_runner"))
    # the caller's PYTHONPATH names the experiment folder, the working directory (an empty entry) and a relative one
    old = os.environ.get("PYTHONPATH")
    os.environ["PYTHONPATH"] = os.pathsep.join([str(ws.experiment("shadow_runner")), "", "."])
    try:
        return _evaluate_all(ws, cases), baselines
    finally:
        if old is None:
            os.environ.pop("PYTHONPATH")
        else:
            os.environ["PYTHONPATH"] = old


@pytest.mark.parametrize("name", sorted(CPU_ATTACKS))
def test_baseline_tampering_is_rejected_by_name_and_never_reaches_the_baseline(cpu_runs, name):
    results, baselines = cpu_runs
    problem, rule, named = CPU_ATTACKS[name]
    _assert_rejected(results[name], rule, named, baselines[problem])


def test_with_the_state_check_off_an_alias_patch_gains_nothing(cpu_runs):
    """Defence: pristine baselines alone. F.gelu is 25x slower in the solution's process, but the eager time is the
    pristine process's: the (correct) solution is accepted and scored as its honest twin
    (solutions/reference/gelu_erf_poly.py) would be."""
    results, baselines = cpu_runs
    patched = results["alias_patch_functional_unchecked"]
    assert patched.status == "ok", patched.error
    _assert_pristine_baseline(patched, baselines["gelu"])
    assert patched.metrics["eager_ms"] == baselines["gelu"].eager_ms
    assert patched.metrics["speedup_vs_eager"] == pytest.approx(baselines["gelu"].eager_ms
                                                                / patched.metrics["solution_ms"])


def test_a_shadow_runner_in_the_experiment_folder_is_never_imported(cpu_runs):
    """Defence: import isolation (`python -P`, PYTHONPATH without the experiment folder, its cwd, or relative
    entries). The real runner judged the wrong solution; the shadow, which would have reported the reference's
    outputs at a millionfold speedup, never ran."""
    results, baselines = cpu_runs
    result = results["shadow_runner"]
    assert result.status == "failed" and result.error_signature == "incorrect", result.error
    assert 1e-3 < result.metrics["max_abs_error"] < 0.1
    assert not (Path(result.details["solution"]).parent / "shadow_ran").exists()
    _assert_pristine_baseline(result, baselines["diag_matmul"])


def test_the_torch_state_snapshot_names_rebindings_and_flags_and_is_cheap():
    """The snapshot itself, in this process (every change is undone before the test ends)."""
    f, gelu, conv_forward = torch.nn.functional, torch.nn.functional.gelu, torch.nn.Conv2d._conv_forward
    threads = torch.get_num_threads()
    state = TorchState()
    try:
        f.gelu = lambda x, approximate="none": gelu(x, approximate=approximate)
        torch.nn.Conv2d._conv_forward = lambda self, x, w, b: conv_forward(self, x, w, b)
        torch.Tensor.sum_slowly = torch.Tensor.sum
        torch.set_num_threads(threads + 1)
        assert state.patched() == ["torch.Tensor.sum_slowly", "torch.nn.functional.gelu",
                                   "torch.nn.modules.conv.Conv2d._conv_forward"]
        assert [c.split(":")[0] for c in state.settings_changed()] == ["num_threads"]
    finally:
        f.gelu, torch.nn.Conv2d._conv_forward = gelu, conv_forward
        del torch.Tensor.sum_slowly
        torch.set_num_threads(threads)
    assert state.changed() == []
    started = time.perf_counter()
    for _ in range(10):
        state.changed()
    assert (time.perf_counter() - started) / 10 < 0.05


# --- CUDA ---------------------------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def gpu_runs(tmp_path_factory) -> tuple[dict[str, RunResult], Baseline]:
    if not torch.cuda.is_available():
        pytest.fail("these tests need a CUDA GPU; deselect them with -m 'not gpu'")
    ws = Workspace(tmp_path_factory.mktemp("adversarial_gpu") / "ws")
    # the compile baseline is not what these cases are about, and would cost an inductor build
    overrides = {"device": "cuda", "compile_reference": False}
    baseline = _pristine(ws, "diag_matmul", EvalSettings.for_mode("smoke", **overrides))
    cases = {name: (ADVERSARIAL / f"{name}.py", problem, overrides) for name, (problem, _, _) in GPU_ATTACKS.items()}
    cases["honest"] = (HONEST / "diag_matmul_rowscale.py", "diag_matmul", overrides)
    return _evaluate_all(ws, cases), baseline


@pytest.mark.gpu
@pytest.mark.parametrize("name", sorted(GPU_ATTACKS))
def test_cuda_precision_and_allocator_tampering_is_rejected_by_name(gpu_runs, name):
    results, baseline = gpu_runs
    _, rule, named = GPU_ATTACKS[name]
    _assert_rejected(results[name], rule, named, baseline)


@pytest.mark.gpu
def test_an_honest_cuda_solution_is_scored_against_the_same_pristine_baseline(gpu_runs):
    results, baseline = gpu_runs
    honest = results["honest"]
    assert honest.status == "ok", honest.error
    _assert_pristine_baseline(honest, baseline)
    assert honest.details["env"]["gpu"] and honest.details["env"] == baseline.env.model_dump()
