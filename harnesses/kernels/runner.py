"""The solution's process: import the solution, run it on fresh input sets, keep its outputs, time it.

    python -P -m harnesses.kernels.runner --problem-file P [--format F] --solution S --settings JSON --io DIR
        [--reference-ops JSON] [--reverify-below-ms MS]

S is a `ModelNew` file, or, for a robust-kbench task, a `.cu` file exporting `forward`, built as robust-kbench
builds it (-O3 --use_fast_math) and run as the task's own Model with `fn=forward`.

evaluate.py starts this in the sandbox, with `-P` and a PYTHONPATH that leaves out the experiment folder (a
`harnesses/` package there must not stand in for this module). The solution shares this process, so everything
this process writes is the solution's word: its outputs (`DIR/<seed>.pt`) are compared with the pristine
reference's by the trusted harness (judge.py), and its timing is set against baselines from the pristine process.
No reference model runs here; only its initial weights are drawn, before the import, to hand to ModelNew.

The checks here are what only this process can observe: the timer and torch's functions and global state
(snapshots taken before the import), streams, input mutation, an output returned twice, and the PyTorch fallback
(the reference's op set comes from the pristine process). A solution that slips past them still has to produce
the reference's outputs, on inputs it cannot know in advance.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
from pathlib import Path
from typing import Any

import torch

from harnesses.base.torch_state import TorchState
from harnesses.kernels.correctness import flatten, host_copy, poison_memory, same_storage
from harnesses.kernels.integrity import TimerSnapshot, fallback_ops, record_ops
from harnesses.kernels.problem import ProblemRef, load_module, problem_ref, short_error
from harnesses.kernels.settings import EvalSettings, KernelReport, Timing
from harnesses.kernels.timing import Timer, median
from harnesses.kernels.workload import open_problem

# taken when the harness is imported, before any solution code can run in this process
SNAPSHOT = TimerSnapshot()
REPORT_FILE = "kernel_report.json"
# robust-kbench's cuda_eval.py COMPILE_FLAGS, for a `.cu` submission
CUDA_FLAGS = ["-O3", "--use_fast_math"]
# about 1 ms at H100 clocks: longer than the host takes to enqueue a forward and the copy after it
_FORWARD_HEADSTART_CYCLES = 2_000_000
_NAMES_SHOWN = 12


class Rejected(Exception):
    def __init__(self, rule: str, reason: str) -> None:
        super().__init__(reason)
        self.rule, self.reason = rule, reason


def _clone(values: list[Any]) -> list[Any]:
    return [v.clone() if isinstance(v, torch.Tensor) else v for v in values]


def _listed(names: list[str]) -> str:
    more = len(names) - _NAMES_SHOWN
    return ", ".join(names[:_NAMES_SHOWN]) + (f" and {more} more" if more > 0 else "")


class _TaskModel(torch.nn.Module):
    """A robust-kbench task's own Model with a `.cu` submission's `forward` in place of its `forward_fn`."""

    def __init__(self, model: torch.nn.Module, fn: Any) -> None:
        super().__init__()
        self.model, self.fn = model, fn

    def forward(self, *inputs: Any) -> Any:
        return self.model(*inputs, fn=self.fn)


class SolutionSession:
    def __init__(self, problem: ProblemRef, settings: EvalSettings) -> None:
        self.problem = problem
        self.settings, self.device, self.workload = open_problem(problem, settings)
        settings = self.settings
        self.init_args, self.init_kwargs = self.workload.init_args()
        # the reference's initial weights, for a ModelNew with the same parameters; the model itself is dropped
        self.reference_state = self.workload.reference_model(settings.seed, self.device).state_dict()
        self.state: TorchState | None = None
        self.outputs: dict[int, list[torch.Tensor]] = {}

    def evaluate(self, solution_path: Path, reference_ops: list[str] | None = None,
                 reverify_below_ms: float | None = None) -> tuple[KernelReport, dict[int, list[torch.Tensor]]]:
        """The report (timings, a run-time rejection) and the outputs per input seed. Without `reference_ops` the
        fallback check is off; a solution faster than `reverify_below_ms` is run again on new inputs."""
        s = self.settings
        report = KernelReport(problem=self.problem.name, solution=str(solution_path), device=self.device.type,
                              mode=s.mode, trials=s.trials, correctness_sets=s.correctness_sets)
        self.outputs = {}
        try:
            with torch.no_grad():
                self._evaluate(Path(solution_path), report, reference_ops, reverify_below_ms)
        except Rejected as rej:
            report.rejected_rule = rej.rule
            # reverified is False only while a re-verification is under way
            report.reason = f"re-verification failed: {rej.reason}" if report.reverified is False else rej.reason
        return report, self.outputs

    def _evaluate(self, solution_path: Path, report: KernelReport, reference_ops: list[str] | None,
                  reverify_below_ms: float | None) -> None:
        s = self.settings
        model = self._build_solution(solution_path)
        self._run_sets(model, s.correctness_seeds(), reference_ops)
        self._time(model, s.timing_seeds(), s.trials, report)
        for protocol in s.extra_protocols():
            report.protocols[protocol.name] = Timing(protocol=protocol.name, solution_ms=Timer(
                self.device, SNAPSHOT, protocol).measure(model, self._timing_sets(s.timing_seeds()), s))
            self._check_tamper(f"timing under the {protocol.name} protocol")
        if reverify_below_ms is None or report.solution_ms >= reverify_below_ms:
            return
        # a suspiciously large win: run it again on new inputs with more of everything before it counts
        report.first_pass_solution_ms = report.solution_ms
        report.reverified = False
        self._run_sets(model, s.correctness_seeds(reverify=True), None)
        self._time(model, s.timing_seeds(reverify=True), s.reverify_factor * s.trials, report)
        report.trials = s.reverify_factor * s.trials
        report.reverified = True

    def _build_solution(self, solution_path: Path) -> torch.nn.Module:
        if self.device.type == "cuda":
            major, minor = torch.cuda.get_device_capability(self.device)
            os.environ.setdefault("TORCH_CUDA_ARCH_LIST", f"{major}.{minor}")
            os.environ.setdefault("MAX_JOBS", str(os.cpu_count() or 4))
        # the last thing before the import: what the harness set up is the baseline
        self.state = TorchState() if self.settings.state_check else None
        if solution_path.suffix == ".cu":
            return self._build_cuda_submission(solution_path)
        try:
            module = load_module(solution_path)
        except Exception as exc:  # the solution's own import error is its verdict, not the harness's crash
            raise Rejected("import_error", short_error(exc)) from exc
        self._check_tamper("importing the solution")
        if not hasattr(module, "ModelNew"):
            raise Rejected("no_modelnew", "the solution defines no ModelNew")
        torch.manual_seed(self.settings.seed)
        try:
            model = module.ModelNew(*self.init_args, **self.init_kwargs)
        except Exception as exc:
            raise Rejected("error", f"ModelNew(*get_init_inputs()) failed: {short_error(exc)}") from exc
        return self._placed(model)

    def _build_cuda_submission(self, solution_path: Path) -> torch.nn.Module:
        if self.problem.format != "robust-kbench":
            raise Rejected("no_modelnew", "a .cu submission needs a robust-kbench task (its Model takes `fn`)")
        from torch.utils.cpp_extension import load

        try:
            # named by its source, so an unchanged file reuses its build
            name = f"robust_kbench_{hashlib.sha256(solution_path.read_bytes()).hexdigest()[:16]}"
            ext = load(name=name, sources=[str(solution_path)], extra_cuda_cflags=CUDA_FLAGS, verbose=False)
        except Exception as exc:  # a build failure is the submission's verdict
            raise Rejected("import_error", short_error(exc)) from exc
        self._check_tamper("building the .cu submission")
        torch.manual_seed(self.settings.seed)
        model = self._placed(self.workload.module.Model(*self.init_args, **self.init_kwargs))
        return _TaskModel(model, ext.forward)

    def _placed(self, model: torch.nn.Module) -> torch.nn.Module:
        state = model.state_dict()
        if state.keys() == self.reference_state.keys() and all(state[k].shape == v.shape for k, v in
                                                               self.reference_state.items()):
            # same parameters as the reference, whatever the solution's own initialisation did
            model.load_state_dict(self.reference_state)
        model = model.to(self.device).eval()
        self._check_tamper("building ModelNew")
        return model

    def _run(self, model: torch.nn.Module, args: list[Any], record: bool = False) -> tuple[Any, set[str]]:
        stream = torch.cuda.current_stream(self.device) if self.device.type == "cuda" else None
        if stream is not None:
            # the GPU spins while the host enqueues forward and the copy below, so work that forward left on
            # another stream is still under way when the copy reads the output (without this head start, a short
            # kernel can finish before the host gets to enqueue the copy)
            torch.cuda._sleep(_FORWARD_HEADSTART_CYCLES)
        try:
            out, ops = record_ops(model, *args) if record else (model(*args), set())
            # copied on the current stream before any sync, last elements first (a kernel writes them last): work
            # left running on another stream is not complete in this copy
            early = [_reversed(o) for o in flatten(out)]
            if self.device.type == "cuda":
                SNAPSHOT.synchronize(self.device)
        except Exception as exc:
            raise Rejected("error", f"forward failed: {short_error(exc)}") from exc
        self._check_tamper("running forward")
        if stream is not None and torch.cuda.current_stream(self.device) != stream:
            raise Rejected("side_stream", "forward left a different CUDA stream current")
        if not all(_same(_reversed(e), o) for e, o in zip(early, flatten(out))):
            raise Rejected("side_stream", "the output was not complete on the current stream when forward returned "
                                          "(work left running on another stream)")
        return out, ops

    def _check_tamper(self, when: str) -> None:
        changed = SNAPSHOT.changed()
        if changed:
            raise Rejected("patches_timer", f"timing primitives replaced while {when}: {', '.join(changed)}")
        if self.state is None:
            return
        # flags first: torch rebinds a few functions itself when some flags change
        flags = self.state.settings_changed()
        if flags:
            raise Rejected("changes_global_state", f"torch's global state changed while {when}: {_listed(flags)}")
        patched = self.state.patched()
        if patched:
            raise Rejected("patches_torch", f"torch functions replaced while {when}: {_listed(patched)}")

    def _run_sets(self, model: torch.nn.Module, seeds: list[int], reference_ops: list[str] | None) -> None:
        previous = None
        for k, seed in enumerate(seeds):
            inputs = self.workload.make_inputs(seed, self.device)
            saved = _clone(inputs)
            poison_memory(self.device)
            record = k == 0 and reference_ops is not None
            out, ops = self._run(model, inputs, record)
            if record:
                used = fallback_ops(set(reference_ops), ops)
                if used:
                    raise Rejected("torch_fallback", "forward runs the reference's PyTorch ops for the work: "
                                                     + ", ".join(f"aten.{op}" for op in used))
            for i, (before, after) in enumerate(zip(saved, inputs)):
                if isinstance(before, torch.Tensor) and not torch.equal(before, after):
                    raise Rejected("input_mutated", f"forward wrote into input {i} (input set {k})")
            outs = flatten(out)
            if any(same_storage(o, x) for o in outs for x in inputs if isinstance(x, torch.Tensor)):
                raise Rejected("output_aliases_input", f"an output shares memory with an input (input set {k})")
            # the previous output object is still alive here, so equal storage means the very same tensor came back
            if previous is not None and any(same_storage(o, p) for o, p in zip(outs, flatten(previous))):
                raise Rejected("stale_output", f"input set {k}: forward returned the tensor it returned for the "
                                               "previous inputs (an output cached from an earlier call)")
            self.outputs[seed] = host_copy(outs)
            previous = out

    def _timing_sets(self, seeds: list[int]) -> list[list[Any]]:
        return [self.workload.make_inputs(seed, self.device) for seed in seeds]

    def _time(self, model: torch.nn.Module, seeds: list[int], trials: int, report: KernelReport) -> None:
        s = self.settings
        input_sets = self._timing_sets(seeds)
        timer, settings = Timer(self.device, SNAPSHOT), s.model_copy(update={"trials": trials})
        times = []
        for _ in range(s.repeats):
            times.append(timer.measure(model, input_sets, settings))
            self._check_tamper("timing")
        report.solution_ms_repeats, report.solution_ms = times, median(times)


def _reversed(t: torch.Tensor) -> torch.Tensor:
    return torch.flip(t, list(range(t.dim()))) if t.dim() else t.clone()


def _same(a: torch.Tensor, b: torch.Tensor) -> bool:
    return torch.equal(a, b) or (a.is_floating_point() and torch.allclose(a, b, rtol=0.0, atol=0.0, equal_nan=True))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="run one kernel solution (started by harnesses.kernels.evaluate)")
    parser.add_argument("--problem-file", type=Path, required=True)
    parser.add_argument("--format", choices=("kernelbench", "robust-kbench"), default="kernelbench")
    parser.add_argument("--solution", type=Path, required=True)
    parser.add_argument("--settings", required=True, help="EvalSettings as JSON")
    parser.add_argument("--io", type=Path, required=True, help="folder for the report and the outputs")
    parser.add_argument("--reference-ops", default=None, help="JSON list of the reference's ATen ops")
    parser.add_argument("--reverify-below-ms", type=float, default=None)
    args = parser.parse_args(argv)
    settings = EvalSettings.model_validate_json(args.settings)
    ops = json.loads(args.reference_ops) if args.reference_ops else None
    problem = problem_ref(args.problem_file, args.format)
    report, outputs = SolutionSession(problem, settings).evaluate(args.solution, ops, args.reverify_below_ms)
    for seed, tensors in outputs.items():
        torch.save(tensors, args.io / f"{seed}.pt")
    # last: a report on disk means the outputs are complete
    (args.io / REPORT_FILE).write_text(report.model_dump_json(indent=2))


if __name__ == "__main__":
    main()
