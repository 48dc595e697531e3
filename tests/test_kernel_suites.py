"""Problem sets in KernelBench's and robust-kbench's formats, the suites' timing protocols beside ours, and the
shape check, on CPU with small task folders of our own (tests/fixtures/kernel_suites/)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import torch

from alphalab.workspace import Workspace
from harnesses.kernels.evaluate import problems_dir, protocol_names, to_result
import harnesses.kernels.judge as judge_module
from harnesses.kernels.local import LocalJudge
from harnesses.kernels.problem import (BUILTIN_PROBLEMS, check_problems, find_problem, has_shape_check,
                                       list_problems, resolve_problem_set)
from harnesses.kernels.settings import PROTOCOLS, EvalSettings, KernelReport
from harnesses.kernels.static_check import check_cuda_source
from harnesses.kernels.workload import Workload

SUITES = Path(__file__).resolve().parent / "fixtures" / "kernel_suites"
KERNELBENCH = SUITES / "kernelbench"
ROBUST = SUITES / "robust_kbench" / "tasks"
SOLUTIONS = SUITES / "solutions"


def _settings(**kw) -> EvalSettings:
    return EvalSettings.for_mode("smoke", device="cpu", trials=2, warmup=1, **kw)


def test_both_formats_load_from_their_folders():
    (kb,) = list_problems(KERNELBENCH)
    assert (kb.name, kb.format) == ("1_Scale_shift", "kernelbench")
    (task,) = list_problems(ROBUST)
    assert (task.name, task.format, task.path.name) == ("scaled_add", "robust-kbench", "func_forward.py")
    assert check_problems(KERNELBENCH) == [] and check_problems(ROBUST) == []
    # the task's single configuration is its shape, the first different multi one its shape check
    own, second = Workload(task, small=True), Workload(task, small=True, config=1)
    assert own.init_kwargs == {"init_method": "random", "num_features": 64}
    assert own.input_kwargs == {"batch_size": 4, "num_features": 64}
    assert second.input_kwargs == {"batch_size": 4, "num_features": 49}
    assert tuple(own.make_inputs(0, torch.device("cpu"))[0].shape) == (4, 64)
    # a KernelBench file without SMALL_SIZES: its int constants, scaled off every power of two
    assert Workload(kb, small=True, config=1).label == "batch_size=13, dim=49"
    assert has_shape_check(kb) and has_shape_check(task)


def test_a_mixed_folder_lists_each_task_once_and_the_campaign_data_selects_it(tmp_path):
    shutil.copytree(KERNELBENCH, tmp_path / "set" / "KernelBench")
    shutil.copytree(ROBUST, tmp_path / "set" / "tasks")
    (tmp_path / "set" / "tasks" / "scaled_add" / "helper.py").write_text("X = 1\n")  # part of the task, no problem
    assert [(p.name, p.format) for p in list_problems(tmp_path / "set")] == [
        ("1_Scale_shift", "kernelbench"), ("scaled_add", "robust-kbench")]
    ws = Workspace(tmp_path / "ws")
    assert problems_dir(ws, None, tmp_path / "set") == tmp_path / "set"
    assert resolve_problem_set(tmp_path / "nothing", None) == BUILTIN_PROBLEMS


def test_a_bad_task_is_reported_naming_its_file(tmp_path):
    task = tmp_path / "tasks" / "broken"
    shutil.copytree(ROBUST / "scaled_add", task)
    (task / "config_forward.json").write_text('{"single_input_configs": [{"batch_size": 4}],')
    (problem,) = check_problems(tmp_path)
    assert problem.startswith(f"{task / 'config_forward.json'} line 1: not JSON")
    (task / "config_forward.json").write_text(json.dumps({"single_input_configs": [{"batch_size": 4}]}))
    (problem,) = check_problems(tmp_path)
    assert problem.startswith(f"{task / 'config_forward.json'}: not a robust-kbench config")
    (task / "config_forward.json").unlink()
    assert check_problems(tmp_path) == [f"{task / 'config_forward.json'}: missing (a robust-kbench task folder "
                                        "needs its config_forward.json)"]
    shutil.copy(ROBUST / "scaled_add" / "config_forward.json", task)
    (task / "func_forward.py").write_text("import torch\n\nclass Model:\n    pass\n")
    assert check_problems(tmp_path) == [f"{task / 'func_forward.py'}: not a robust-kbench-format problem: defines "
                                        "no `forward_fn`, `get_inputs` at module level"]


def test_a_robust_kbench_task_is_judged_with_its_config_and_keyword_init():
    judge = LocalJudge(find_problem("scaled_add", ROBUST), _settings(shape_check=True))
    report = judge.evaluate(SOLUTIONS / "scaled_add.py")
    assert report.accepted, report.reason
    assert report.config == "init_method=random, num_features=64, batch_size=4"
    assert report.shape_check.status == "passed"
    assert report.shape_check.config == "init_method=random, num_features=49, batch_size=4"


def test_a_solution_that_works_at_one_shape_only_is_rejected_by_the_shape_check():
    judge = LocalJudge(find_problem("1_Scale_shift", KERNELBENCH), _settings(shape_check=True))
    good = judge.evaluate(SOLUTIONS / "scale_shift.py")
    assert good.accepted and good.shape_check.status == "passed", good.reason
    one_shape = judge.evaluate(SOLUTIONS / "scale_shift_one_shape.py")
    assert one_shape.rejected_rule == "shape_specialised"
    assert one_shape.shape_check.status == "failed" and "batch_size=13, dim=49" in one_shape.reason
    # smoke mode leaves the shape check out unless asked
    assert LocalJudge(judge.problem, _settings()).evaluate(SOLUTIONS / "scale_shift_one_shape.py").accepted


def test_a_solution_that_wins_at_one_shape_only_is_flagged(monkeypatch):
    first = KernelReport(problem="p", solution="s", device="cuda", mode="full", correct=True, config="n=4096",
                         speedup_vs_compile=3.0, speedup_vs_eager=4.0)
    slower = first.model_copy(update={"config": "n=3073", "speedup_vs_compile": 0.8, "speedup_vs_eager": 1.1})
    problem = find_problem("1_Scale_shift", KERNELBENCH)
    s = _settings()
    # the second judgement's verdict, as if timed on a GPU: no wall-clock time is asserted
    monkeypatch.setattr(judge_module, "_judge", lambda *_args: (slower, {}, {}, None))
    check = judge_module.shape_check(problem, SOLUTIONS / "scale_shift.py", s, None, None, first)
    assert check.status == "flagged" and "3.00x at n=4096, 0.80x at n=3073" in check.reason
    check = judge_module.shape_check(problem, SOLUTIONS / "scale_shift.py", s, None, None,
                                     first.model_copy(update={"speedup_vs_compile": 0.9}))
    assert check.status == "passed"  # no win to hold at the first shape
    assert to_result(first.model_copy(update={"shape_check": check}), 0, 1.0).metrics["shape_check_ok"] == 1.0


def test_each_protocol_is_recorded_with_its_settings_and_the_precision_state():
    assert PROTOCOLS["kernelbench"].model_dump(include={"warmup", "trials", "l2_flush", "statistic",
                                                        "flag_speedup_above", "fresh_inputs"}) == {
        "warmup": 3, "trials": 100, "l2_flush": "kernelbench", "statistic": "mean", "flag_speedup_above": 10.0,
        "fresh_inputs": False}
    assert PROTOCOLS["robust-kbench"].model_dump(include={"warmup", "trials", "l2_flush", "compile_mode",
                                                          "tolerance", "fresh_inputs"}) == {
        "warmup": 25, "trials": 1000, "l2_flush": "none", "compile_mode": "max-autotune", "tolerance": 1e-3,
        "fresh_inputs": False}
    assert PROTOCOLS["ours"].l2_flush == "harness" and PROTOCOLS["ours"].fresh_inputs
    judge = LocalJudge(find_problem("1_Scale_shift", KERNELBENCH),
                       _settings(protocols=["kernelbench", "robust-kbench"]))
    report = judge.evaluate(SOLUTIONS / "scale_shift.py")
    assert report.accepted and report.protocol == "ours", report.reason
    assert set(report.protocols) == {"kernelbench", "robust-kbench"}
    for timing in report.protocols.values():
        assert timing.eager_ms > 0 and timing.solution_ms > 0 and timing.speedup_vs_eager > 0 and timing.correct
    assert report.precision.input_dtypes == ["float32"] and report.precision.float32_matmul_precision == "highest"
    assert report.precision.default_dtype == "float32"
    metrics = to_result(report, 0, 1.0).metrics
    assert {"kernelbench_speedup_vs_eager", "robust_kbench_speedup_vs_eager"} <= set(metrics)
    assert metrics["speedup_vs_eager"] == report.speedup_vs_eager  # the ranked number stays ours


def test_the_campaign_names_the_protocols_and_the_data_path_the_problem_set(tmp_path, monkeypatch):
    from harnesses.base import EvaluationFailure
    from harnesses.kernels import evaluate

    assert protocol_names({"protocols": "kernelbench, robust-kbench"}) == ["kernelbench", "robust-kbench"]
    assert protocol_names({}) == []
    with pytest.raises(EvaluationFailure, match="unknown"):
        protocol_names({"protocols": "kernelbnech"})
    # what the manifest's command hands over ({data}, {options}) reaches the evaluation
    seen = {}

    def fake(exp, ws, mode, seed, **kw):
        seen.update(kw)
        return to_result(KernelReport(problem="p", solution="s", device="cpu", mode=mode), seed, 0.0)

    monkeypatch.setattr(evaluate, "evaluate_experiment", fake)
    (tmp_path / "exp").mkdir()
    evaluate.main(["--experiment", str(tmp_path / "exp"), "--workspace", str(tmp_path / "ws"), "--mode", "smoke",
                   "--data", str(ROBUST), "--options", json.dumps({"protocols": "robust-kbench"})])
    assert seen["data"] == ROBUST and seen["protocols"] == ["robust-kbench"]


def test_a_cu_submission_is_checked_for_its_export_and_the_timer_rules():
    source = (ROBUST / "scaled_add" / "forward.cu").read_text()
    assert check_cuda_source(source) == []
    assert check_cuda_source(source.replace('m.def("forward"', 'm.def("fwd"'))[0].rule == "no_modelnew"
    assert check_cuda_source(source + "\ncudaEvent_t e;\n")[0].rule == "patches_timer"
