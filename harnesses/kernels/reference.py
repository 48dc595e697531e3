"""The pristine reference process: the reference's outputs, its op set, and the eager and torch.compile baselines,
computed in a process that never imports a solution (evaluate.py starts it with `python -P`, outside the sandbox,
from a folder under the workspace's `.private/`).

    python -P -m harnesses.kernels.reference --problem-file P [--format F] --settings JSON --seeds S1,S2,...
        --cache DIR --out DIR

The baseline (op set, timings, environment) is cached in `--cache` (the workspace's `.private/kernels/`, hidden
from experiment code) under a key over the problem file, its configuration, the settings that shape the timings,
the environment, torch's precision state and the code that measures it. Besides ours, it times the baselines under
each protocol the settings name (settings.PROTOCOLS: robust-kbench's compiled baseline is `max-autotune`), and
records the precision state. Outputs depend on the input seeds, so they are computed for each request: `--out`
gets `baseline.json` and one `<seed>.pt` per input set (the output tensors, on the CPU).
"""

from __future__ import annotations

import argparse
import hashlib
import importlib.metadata
import json
import os
import subprocess
from pathlib import Path

import torch

from harnesses.base.torch_state import global_settings
from harnesses.kernels.correctness import host_copy
from harnesses.kernels.integrity import TimerSnapshot, record_ops
from harnesses.kernels.problem import ProblemRef, problem_ref, short_error
from harnesses.kernels.settings import PROTOCOLS, Baseline, EnvInfo, EvalSettings, Protocol, Timing
from harnesses.kernels.timing import Timer
from harnesses.kernels.workload import open_problem, precision

BASELINE_FILE = "baseline.json"
# a change to how baselines are measured must not reuse the old numbers
_MEASURING_CODE = ("reference.py", "timing.py", "workload.py", "integrity.py")


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


class ReferenceSession:
    def __init__(self, problem: ProblemRef, settings: EvalSettings) -> None:
        self.problem = problem
        self.settings, self.device, self.workload = open_problem(problem, settings)
        self.model = self.workload.reference_model(self.settings.seed, self.device)
        self._compiled: dict[str, torch.nn.Module] = {}
        self.env = environment(self.device)
        self.key = self._key()

    def compiled(self, mode: str) -> torch.nn.Module:
        if mode not in self._compiled:
            self._compiled[mode] = torch.compile(self.model, mode=None if mode == "default" else mode)
        return self._compiled[mode]

    def _key(self) -> str:
        s = self.settings
        here = Path(__file__).resolve().parent
        fields = {
            "problem": hashlib.sha256(self.problem.path.read_bytes()).hexdigest(),
            "config": self.workload.label, "format": self.problem.format,
            "config_file": hashlib.sha256(self.problem.config_file.read_bytes()).hexdigest()
            if self.problem.format == "robust-kbench" else None,
            "settings": {"device": s.device, "small": s.use_small, "compile": s.use_compile, "trials": s.trials,
                         "warmup": s.warmup, "repeats": s.repeats, "protocols": sorted(set(s.protocols))},
            "env": self.env.model_dump(), "torch_state": global_settings(),
            "code": {name: hashlib.sha256((here / name).read_bytes()).hexdigest() for name in _MEASURING_CODE},
        }
        return hashlib.sha256(json.dumps(fields, sort_keys=True).encode()).hexdigest()

    def inputs(self, seed: int) -> list:
        return self.workload.make_inputs(seed, self.device)

    @torch.no_grad()
    def outputs(self, seeds: list[int]) -> dict[int, list[torch.Tensor]]:
        return {seed: host_copy(self.model(*self.inputs(seed))) for seed in seeds}

    @torch.no_grad()
    def measure(self) -> Baseline:
        s = self.settings
        # the calls the solution gets before its timing (its correctness sets), so both are timed as warm: the
        # first calls of an op on a CPU can be 100x slower
        first, *rest = s.correctness_seeds()
        first_inputs = self.inputs(first)
        _, ops = record_ops(self.model, *first_inputs)
        for seed in rest:
            self.model(*self.inputs(seed))
        input_sets = [self.inputs(seed) for seed in s.timing_seeds()]
        snapshot = TimerSnapshot()

        def timed(protocol: Protocol, fn) -> float:
            return Timer(self.device, snapshot, protocol).measure(fn, input_sets, s)

        ours = PROTOCOLS["ours"]
        eager, compiled, error = [], [], None
        for _ in range(s.repeats):
            eager.append(timed(ours, self.model))
            if s.use_compile and error is None:
                try:
                    compiled.append(timed(ours, self.compiled(ours.compile_mode)))
                except Exception as exc:  # torch.compile failing is recorded, never fatal: it is the baseline
                    error = short_error(exc)
        return Baseline(key=self.key, env=self.env, ops=sorted(ops), eager_ms_repeats=eager,
                        compile_ms_repeats=[] if error else compiled, compile_error=error,
                        config=self.workload.label, precision=precision(first_inputs),
                        protocols={p.name: self._protocol_baseline(p, timed) for p in s.extra_protocols()})

    def _protocol_baseline(self, protocol: Protocol, timed) -> Timing:
        timing = Timing(protocol=protocol.name, eager_ms=timed(protocol, self.model))
        if self.settings.use_compile:
            timing.compile_mode = protocol.compile_mode
            try:
                timing.compile_ms = timed(protocol, self.compiled(protocol.compile_mode))
            except Exception as exc:  # as above: the baseline's own failure is recorded
                timing.compile_error = short_error(exc)
        return timing

    def baseline(self, cache: Path) -> Baseline:
        """The cached baseline for this key, else one measured now and cached."""
        path = Path(cache) / f"{self.problem.name}-{self.key[:16]}.json"
        if path.is_file():
            try:
                return Baseline.model_validate_json(path.read_text())
            except ValueError:  # a torn or outdated file: measure again
                pass
        baseline = self.measure()
        # atomic: evaluations running side by side may measure the same key, either result will do
        tmp = path.with_name(f"{path.name}.{os.getpid()}.tmp")
        tmp.write_text(baseline.model_dump_json(indent=1))
        tmp.replace(path)
        return baseline


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="pristine reference data for one problem (run by evaluate.py)")
    parser.add_argument("--problem-file", type=Path, required=True)
    parser.add_argument("--format", choices=("kernelbench", "robust-kbench"), default="kernelbench")
    parser.add_argument("--settings", required=True, help="EvalSettings as JSON")
    parser.add_argument("--seeds", required=True, help="comma-separated input seeds to write outputs for")
    parser.add_argument("--cache", type=Path, required=True)
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args(argv)
    settings = EvalSettings.model_validate_json(args.settings)
    session = ReferenceSession(problem_ref(args.problem_file, args.format), settings)
    baseline = session.baseline(args.cache)
    for seed, tensors in session.outputs([int(s) for s in args.seeds.split(",")]).items():
        torch.save(tensors, args.out / f"{seed}.pt")
    (args.out / BASELINE_FILE).write_text(baseline.model_dump_json())


if __name__ == "__main__":
    main()
