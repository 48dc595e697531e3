"""One problem, one device: build the reference (eager and compiled) once, then judge solutions against it.

This module is the timing process. It imports the solution (after the static check), so evaluate.py runs it as
a subprocess of its own; the bench runs it in-process to judge several solutions against one compiled reference.
Everything that is compared, timed and reported here is computed by harness code from outputs it observes.
"""

from __future__ import annotations

import argparse
import importlib.metadata
import os
import subprocess
import traceback
from pathlib import Path
from typing import Any

import torch

from harnesses.kernels.correctness import compare, flatten, poison_memory, same_storage
from harnesses.kernels.integrity import TimerSnapshot, fallback_ops, record_ops
from harnesses.kernels.problem import ProblemRef, check_problem_module, load_module
from harnesses.kernels.settings import EnvInfo, EvalSettings, KernelReport
from harnesses.kernels.static_check import check_source
from harnesses.kernels.timing import MIN_WINDOW_MS, Timer, median

# taken when the harness is imported, before any solution code can run in this process
SNAPSHOT = TimerSnapshot()
_REVERIFY_SEED_OFFSET = 7919
_TIMING_SEED_OFFSET = 104729


class Rejected(Exception):
    def __init__(self, rule: str, reason: str, max_abs_error: float | None = None) -> None:
        super().__init__(reason)
        self.rule, self.reason, self.max_abs_error = rule, reason, max_abs_error


def environment(device: torch.device) -> EnvInfo:
    info = EnvInfo(device=device.type, torch=torch.__version__, cuda=torch.version.cuda)
    try:
        info.triton = importlib.metadata.version("triton")
    except importlib.metadata.PackageNotFoundError:
        pass
    if device.type == "cuda":
        info.gpu = torch.cuda.get_device_name(device)
        try:
            smi = subprocess.run(["nvidia-smi", "--query-gpu=driver_version", "--format=csv,noheader"],
                                 capture_output=True, text=True, timeout=30)
            info.driver = smi.stdout.strip().splitlines()[0] if smi.returncode == 0 and smi.stdout.strip() else None
        except (OSError, subprocess.TimeoutExpired):
            info.driver = None
    return info


def _to_device(value: Any, device: torch.device) -> Any:
    return value.to(device) if isinstance(value, torch.Tensor) else value


def _clone(values: list[Any]) -> list[Any]:
    return [v.clone() if isinstance(v, torch.Tensor) else v for v in values]


class ProblemSession:
    def __init__(self, problem: ProblemRef, settings: EvalSettings) -> None:
        self.problem = problem
        self.settings = settings = settings.resolved(torch.cuda.is_available())
        self.device = torch.device(settings.device)
        if self.device.type == "cuda":
            # the reference is true fp32: TF32 would move it by more than the 1e-4 tolerance
            torch.backends.cuda.matmul.allow_tf32 = False
            torch.backends.cudnn.allow_tf32 = False
        self.module = load_module(problem.path, small=settings.use_small)
        check_problem_module(self.module)
        self.init_inputs = list(self.module.get_init_inputs())
        torch.manual_seed(settings.seed)
        self.reference = self.module.Model(*self.init_inputs).to(self.device).eval()
        self.compiled = torch.compile(self.reference) if settings.use_compile else None
        self.compile_error: str | None = None
        self.timer = Timer(self.device, SNAPSHOT)
        self.env = environment(self.device)

    # inputs ------------------------------------------------------------------------------------------------
    def inputs(self, seed: int) -> list[Any]:
        torch.manual_seed(seed)
        # created on the device where get_inputs() leaves the device open (KernelBench's do): no host round trip
        with self.device:
            values = [_to_device(v, self.device) for v in self.module.get_inputs()]
        for i, v in enumerate(values):
            if isinstance(v, torch.Tensor) and v.is_floating_point() and v.numel() and not v.abs().sum():
                raise ValueError(f"{self.problem.name}: get_inputs() returned an all-zero input {i}")
        return values

    # one solution ------------------------------------------------------------------------------------------
    def evaluate(self, solution_path: Path, *, trusted: bool = False) -> KernelReport:
        """Judge one solution. `trusted` (the harness's own copy of the reference, for calibration) skips the
        static and fallback checks; nothing a Worker wrote is ever run trusted."""
        s = self.settings
        if trusted:
            self.settings = s.model_copy(update={"static_check": False, "fallback_check": False})
        try:
            return self._judge(Path(solution_path))
        finally:
            self.settings = s

    def _judge(self, solution_path: Path) -> KernelReport:
        s = self.settings
        report = KernelReport(problem=self.problem.name, solution=str(solution_path), device=self.device.type,
                              mode=s.mode, env=self.env, trials=s.trials, correctness_sets=s.correctness_sets)
        try:
            with torch.no_grad():
                self._evaluate(solution_path, report)
        except Rejected as rej:
            report.correct = False
            report.rejected_rule = rej.rule
            # reverified is False only while a re-verification is under way
            report.reason = f"re-verification failed: {rej.reason}" if report.reverified is False else rej.reason
            if rej.max_abs_error is not None:
                report.max_abs_error = rej.max_abs_error
        return report

    def _evaluate(self, solution_path: Path, report: KernelReport) -> None:
        s = self.settings
        if s.static_check:
            violations = check_source(solution_path.read_text())
            if violations:
                report.violations = [str(v) for v in violations]
                raise Rejected(violations[0].rule, "; ".join(report.violations))
        model = self._build_solution(solution_path)
        report.max_abs_error = self._check_correctness(model, s.seed, s.correctness_sets)
        report.correct = True
        self._time(model, s.seed + _TIMING_SEED_OFFSET, s.trials, report)
        best = max(x for x in (report.speedup_vs_eager, report.speedup_vs_compile) if x is not None)
        if best <= s.reverify_threshold:
            return
        # a suspiciously large win: judge it again on new inputs with more of everything before it counts
        report.first_pass_speedup = best
        report.reverified = False
        seed = s.seed + _REVERIFY_SEED_OFFSET
        self._check_correctness(model, seed, 2 * s.correctness_sets)
        self._time(model, seed + _TIMING_SEED_OFFSET, s.reverify_factor * s.trials, report)
        report.trials = s.reverify_factor * s.trials
        report.reverified = True

    def _build_solution(self, solution_path: Path) -> torch.nn.Module:
        if self.device.type == "cuda":
            major, minor = torch.cuda.get_device_capability(self.device)
            os.environ.setdefault("TORCH_CUDA_ARCH_LIST", f"{major}.{minor}")
            os.environ.setdefault("MAX_JOBS", str(os.cpu_count() or 4))
        try:
            module = load_module(solution_path)
        except Exception as exc:  # the solution's own import error is its verdict, not the harness's crash
            raise Rejected("import_error", _short_error(exc)) from exc
        self._check_timer("importing the solution")
        if not hasattr(module, "ModelNew"):
            raise Rejected("no_modelnew", "the solution defines no ModelNew")
        torch.manual_seed(self.settings.seed)
        try:
            model = module.ModelNew(*self.init_inputs)
        except Exception as exc:
            raise Rejected("error", f"ModelNew(*get_init_inputs()) failed: {_short_error(exc)}") from exc
        reference_state = self.reference.state_dict()
        state = model.state_dict()
        if state.keys() == reference_state.keys() and all(state[k].shape == v.shape for k, v in
                                                          reference_state.items()):
            # same parameters as the reference, whatever the solution's own initialisation did
            model.load_state_dict(reference_state)
        return model.to(self.device).eval()

    def _run(self, model: torch.nn.Module, args: list[Any], record: bool = False) -> tuple[Any, set[str]]:
        stream = torch.cuda.current_stream(self.device) if self.device.type == "cuda" else None
        try:
            out, ops = record_ops(model, *args) if record else (model(*args), set())
            # copied on the current stream before any sync, last elements first (a kernel writes them last): work
            # left running on another stream is not complete in this copy
            early = [_reversed(o) for o in flatten(out)]
            if self.device.type == "cuda":
                SNAPSHOT.synchronize(self.device)
        except Exception as exc:
            raise Rejected("error", f"forward failed: {_short_error(exc)}") from exc
        self._check_timer("running forward")
        if stream is not None and torch.cuda.current_stream(self.device) != stream:
            raise Rejected("side_stream", "forward left a different CUDA stream current")
        if not all(_same(_reversed(e), o) for e, o in zip(early, flatten(out))):
            raise Rejected("side_stream", "the output was not complete on the current stream when forward returned "
                                          "(work left running on another stream)")
        return out, ops

    def _check_timer(self, when: str) -> None:
        changed = SNAPSHOT.changed()
        if changed:
            raise Rejected("patches_timer", f"timing primitives replaced while {when}: {', '.join(changed)}")

    def _check_correctness(self, model: torch.nn.Module, seed: int, n_sets: int) -> float:
        worst = 0.0
        previous: tuple[list[torch.Tensor], list[torch.Tensor], Any] | None = None
        for k in range(n_sets):
            inputs = self.inputs(seed * 1000 + k)
            ref_out, ref_ops = self._reference_run(inputs, record=k == 0)
            saved = _clone(inputs)
            poison_memory(self.device)
            out, ops = self._run(model, inputs, record=k == 0 and self.settings.fallback_check)
            if k == 0 and self.settings.fallback_check:
                used = fallback_ops(ref_ops, ops)
                if used:
                    raise Rejected("torch_fallback", "forward runs the reference's PyTorch ops for the work: "
                                                     + ", ".join(f"aten.{op}" for op in used))
            for i, (before, after) in enumerate(zip(saved, inputs)):
                if isinstance(before, torch.Tensor) and not torch.equal(before, after):
                    raise Rejected("input_mutated", f"forward wrote into input {i} (input set {k})")
            outs = flatten(out)
            if any(same_storage(o, x) for o in outs for x in inputs if isinstance(x, torch.Tensor)):
                raise Rejected("output_aliases_input", f"an output shares memory with an input (input set {k})")
            if previous is not None:
                self._check_fresh(outs, flatten(ref_out), previous, k)
            result = compare(out, ref_out)
            if not result.ok:
                raise Rejected("incorrect", f"input set {k}: {result.reason}", result.max_abs_error)
            worst = max(worst, result.max_abs_error)
            previous = ([o.clone() for o in outs], flatten(ref_out), out)
        return worst

    @staticmethod
    def _check_fresh(outs: list[torch.Tensor], refs: list[torch.Tensor],
                     previous: tuple[list[torch.Tensor], list[torch.Tensor], Any], k: int) -> None:
        prev_values, prev_refs, prev_out = previous
        # the previous output object is still alive here, so equal storage means the very same tensor came back
        if any(same_storage(o, p) for o, p in zip(outs, flatten(prev_out))):
            raise Rejected("stale_output", f"input set {k}: forward returned the tensor it returned for the previous "
                                           "inputs (an output cached from an earlier call)")
        if all(torch.equal(o, p) for o, p in zip(outs, prev_values)) and \
                not all(torch.equal(r, p) for r, p in zip(refs, prev_refs)):
            raise Rejected("stale_output", f"input set {k}: output is identical to the previous call's although the "
                                           "inputs changed (an output cached from an earlier call)")

    def _reference_run(self, inputs: list[Any], record: bool) -> tuple[Any, set[str]]:
        args = _clone(inputs)
        if record:
            return record_ops(self.reference, *args)
        return self.reference(*args), set()

    # timing ------------------------------------------------------------------------------------------------
    def _time(self, model: torch.nn.Module, seed: int, trials: int, report: KernelReport) -> None:
        s = self.settings
        input_sets = [self.inputs(seed + i) for i in range(2)]
        eager, compiled, solution = [], [], []

        def timed(fn: Any) -> float:
            return median(self.timer.times_ms(fn, input_sets, trials, s.warmup, MIN_WINDOW_MS))

        for _ in range(s.repeats):
            eager.append(timed(self.reference))
            if self.compiled is not None and self.compile_error is None:
                try:
                    compiled.append(timed(self.compiled))
                except Exception as exc:  # torch.compile failing is recorded, never fatal: it is the baseline
                    self.compile_error = _short_error(exc)
            solution.append(timed(model))
            self._check_timer("timing")
        report.eager_ms_repeats, report.solution_ms_repeats = eager, solution
        report.compile_ms_repeats = compiled if self.compile_error is None else []
        report.compile_error = self.compile_error
        report.eager_ms, report.solution_ms = median(eager), median(solution)
        report.compile_ms = median(compiled) if report.compile_ms_repeats else None
        report.speedup_vs_eager = report.eager_ms / report.solution_ms
        report.speedup_vs_compile = report.compile_ms / report.solution_ms if report.compile_ms else None


def _reversed(t: torch.Tensor) -> torch.Tensor:
    return torch.flip(t, list(range(t.dim()))) if t.dim() else t.clone()


def _same(a: torch.Tensor, b: torch.Tensor) -> bool:
    return torch.equal(a, b) or (a.is_floating_point() and torch.allclose(a, b, rtol=0.0, atol=0.0, equal_nan=True))


def _short_error(exc: BaseException, limit: int = 2000) -> str:
    text = "".join(traceback.format_exception_only(type(exc), exc)).strip()
    return text[-limit:]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="judge one kernel solution (run by harnesses.kernels.evaluate)")
    parser.add_argument("--problem-file", type=Path, required=True)
    parser.add_argument("--solution", type=Path, required=True)
    parser.add_argument("--settings", required=True, help="EvalSettings as JSON")
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args(argv)
    settings = EvalSettings.model_validate_json(args.settings)  # ProblemSession resolves "auto"
    problem = ProblemRef(name=args.problem_file.stem, path=args.problem_file)
    report = ProblemSession(problem, settings).evaluate(args.solution)
    args.out.write_text(report.model_dump_json(indent=2))


if __name__ == "__main__":
    main()
