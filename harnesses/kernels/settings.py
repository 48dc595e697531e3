"""What one evaluation is asked to do, what the pristine reference process measured, and what is reported."""

from __future__ import annotations

import statistics
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

_REVERIFY_SEED_OFFSET = 7919
_TIMING_SEED_OFFSET = 104729

ProtocolName = Literal["ours", "kernelbench", "robust-kbench"]


class Protocol(BaseModel):
    """How one suite times a forward and judges its outputs, so our numbers can be set beside the ones it publishes.

    `ours` is the only one the leaderboard ranks on: the other two time the same inputs over and over (a solution
    that caches its output across calls wins there) and `robust-kbench` never flushes L2 (a working set that fits in
    the H200's 60 MB L2 is timed warm)."""

    model_config = ConfigDict(frozen=True)

    name: ProtocolName
    warmup: int | None = Field(None, description="None: the evaluation mode's")
    trials: int | None = Field(None, description="None: the evaluation mode's, grown to fill `window_ms`")
    discard_first: int = Field(0, description="timed calls dropped before the statistic")
    fresh_inputs: bool = Field(description="input sets alternate between trials (else one set, every trial)")
    l2_flush: Literal["harness", "kernelbench", "none"] = Field(
        description="harness: write a buffer twice L2's size; kernelbench: fill 256 MiB of int64, as its timing.py")
    host_headstart: bool = Field(description="the GPU spins while the host enqueues each trial")
    window_ms: float = 0.0
    statistic: Literal["median", "mean"]
    compile_mode: str = Field("default", description="the torch.compile mode of the compiled baseline")
    tolerance: float | None = Field(None, description="atol = rtol; None: KernelBench's per-dtype tolerances")
    flag_speedup_above: float | None = Field(None, description="a speedup the suite flags as suspicious")


PROTOCOLS: dict[str, Protocol] = {p.name: p for p in (
    Protocol(name="ours", fresh_inputs=True, l2_flush="harness", host_headstart=True, window_ms=400.0,
             statistic="median"),
    # KernelBench src/kernelbench/timing.py time_execution_with_cuda_event: 3 warm-up calls, one discarded trial,
    # 100 trials each after a 256 MiB thrash, mean reported; its analysis flags speedups above 10x
    Protocol(name="kernelbench", warmup=3, trials=100, discard_first=1, fresh_inputs=False, l2_flush="kernelbench",
             host_headstart=False, statistic="mean", flag_speedup_above=10.0),
    # robust-kbench's default run (time_function_kernel_bench): 25 warm-up and 1000 timed calls, events per call,
    # no flush; baselines eager and torch.compile(mode="max-autotune"); atol = rtol = 1e-3
    Protocol(name="robust-kbench", warmup=25, trials=1000, fresh_inputs=False, l2_flush="none",
             host_headstart=False, statistic="median", compile_mode="max-autotune", tolerance=1e-3),
)}


class EvalSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    device: Literal["cpu", "cuda", "auto"] = "cuda"
    mode: Literal["smoke", "full"] = "full"
    seed: int = 0
    correctness_sets: int = Field(5, ge=5, description="fresh random input sets the outputs are compared on")
    trials: int = Field(100, ge=1)
    warmup: int = Field(10, ge=1)
    repeats: int = Field(1, ge=1, description="how many times the three timings are taken (the bench uses 3)")
    reverify_threshold: float = Field(10.0, gt=1.0, description="a speedup above this is re-verified")
    reverify_factor: int = Field(3, ge=2, description="trials multiplier (and 2x input sets) of a re-verification")
    small: bool | None = Field(None, description="use the problem's SMALL_SIZES; default: on CPU")
    compile_reference: bool | None = Field(None, description="time torch.compile of the reference; default: on CUDA")
    # integrity layers; the trusted calibration run (a copy of the reference) turns them off, nothing else should
    static_check: bool = True
    fallback_check: bool = True
    state_check: bool = Field(True, description="reject a solution that patches torch or changes its global state")
    protocols: list[ProtocolName] = Field(default_factory=list,
                                          description="suites' protocols timed beside ours (ranked: ours alone)")
    config: Literal[0, 1] = Field(0, description="0: the problem's own shape; 1: its shape-check configuration")
    shape_check: bool | None = Field(None, description="judge an accepted solution at the second configuration "
                                                       "too; default: in full mode")

    @classmethod
    def for_mode(cls, mode: Literal["smoke", "full"], **overrides) -> "EvalSettings":
        """Smoke: correctness and a few trials. Full: at least 100 trials after warm-up."""
        base = {"smoke": {"trials": 10, "warmup": 3}, "full": {"trials": 100, "warmup": 25}}[mode]
        return cls(mode=mode, **{**base, **overrides})

    def resolved(self, cuda_available: bool) -> "EvalSettings":
        if self.device != "auto":
            return self
        return self.model_copy(update={"device": "cuda" if cuda_available else "cpu"})

    def correctness_seeds(self, reverify: bool = False) -> list[int]:
        """The input seeds of the correctness sets (a re-verification checks twice as many, all new)."""
        if reverify:
            return [(self.seed + _REVERIFY_SEED_OFFSET) * 1000 + k for k in range(2 * self.correctness_sets)]
        return [self.seed * 1000 + k for k in range(self.correctness_sets)]

    def timing_seeds(self, reverify: bool = False) -> list[int]:
        base = self.seed + _TIMING_SEED_OFFSET + (_REVERIFY_SEED_OFFSET if reverify else 0)
        return [base, base + 1]

    @property
    def use_small(self) -> bool:
        return self.device == "cpu" if self.small is None else self.small

    @property
    def use_compile(self) -> bool:
        return self.device == "cuda" if self.compile_reference is None else self.compile_reference

    @property
    def use_shape_check(self) -> bool:
        return self.mode == "full" if self.shape_check is None else self.shape_check

    def extra_protocols(self) -> list[Protocol]:
        return [PROTOCOLS[name] for name in dict.fromkeys(self.protocols) if name != "ours"]


class Precision(BaseModel):
    """The precision state a timing was taken under: what makes two suites' fp32 numbers comparable or not."""

    input_dtypes: list[str]
    default_dtype: str
    matmul_allow_tf32: bool | None = None
    cudnn_allow_tf32: bool | None = None
    cudnn_enabled: bool
    cudnn_benchmark: bool
    cudnn_deterministic: bool
    float32_matmul_precision: str


class Timing(BaseModel):
    """One protocol's timings of the pristine baselines (the reference process) or of the solution (its process)."""

    protocol: ProtocolName
    eager_ms: float | None = None
    compile_ms: float | None = None
    compile_mode: str | None = None
    compile_error: str | None = None
    solution_ms: float | None = None
    speedup_vs_eager: float | None = None
    speedup_vs_compile: float | None = None
    correct: bool | None = Field(None, description="the outputs within this protocol's tolerance")
    flag: str | None = Field(None, description="what this suite would flag about the result")


class ShapeCheck(BaseModel):
    """The solution at the problem's second configuration: it must be correct there, and is flagged if it wins at
    one shape only."""

    config: str | None = None
    status: Literal["passed", "flagged", "failed", "unavailable"]
    reason: str = ""
    eager_ms: float | None = None
    compile_ms: float | None = None
    solution_ms: float | None = None
    speedup_vs_eager: float | None = None
    speedup_vs_compile: float | None = None


class EnvInfo(BaseModel):
    device: str
    gpu: str | None = None
    driver: str | None = None
    torch: str
    cuda: str | None = None
    triton: str | None = None


class Baseline(BaseModel):
    """What the pristine reference process measured, where no solution code was ever imported; cached per `key`
    under the workspace's `.private/kernels/`."""

    key: str
    env: EnvInfo
    ops: list[str] = Field(description="ATen ops the reference dispatches (the fallback check's reference set)")
    eager_ms_repeats: list[float]
    compile_ms_repeats: list[float] = Field(default_factory=list)
    compile_error: str | None = None
    config: str = Field("", description="the shapes and arguments timed")
    precision: Precision | None = None
    protocols: dict[str, Timing] = Field(default_factory=dict, description="the extra protocols' baselines")

    @property
    def eager_ms(self) -> float:
        return float(statistics.median(self.eager_ms_repeats))

    @property
    def compile_ms(self) -> float | None:
        return float(statistics.median(self.compile_ms_repeats)) if self.compile_ms_repeats else None


class KernelReport(BaseModel):
    """The harness's verdict on one solution for one problem.

    The solution's process writes one of these too (its word: solution_ms, solution_ms_repeats,
    first_pass_solution_ms, reverified, and a run-time rejection); judge.py turns it into the verdict, taking
    eager/compile timings, env and the comparison of outputs from trusted processes only."""

    problem: str
    solution: str
    device: str
    mode: str
    correct: bool = False
    rejected_rule: str | None = Field(None, description="static rule, integrity rule, 'incorrect' or 'error'")
    reason: str | None = None
    violations: list[str] = Field(default_factory=list)
    max_abs_error: float | None = None
    eager_ms: float | None = None
    compile_ms: float | None = None
    solution_ms: float | None = None
    eager_ms_repeats: list[float] = Field(default_factory=list)
    compile_ms_repeats: list[float] = Field(default_factory=list)
    solution_ms_repeats: list[float] = Field(default_factory=list)
    speedup_vs_eager: float | None = None
    speedup_vs_compile: float | None = None
    compile_error: str | None = None
    reverified: bool | None = Field(None, description="None when no re-verification was due")
    first_pass_speedup: float | None = None
    first_pass_solution_ms: float | None = Field(None, description="the timing before a re-verification")
    baseline_key: str | None = Field(None, description="the pristine baseline's cache key")
    trials: int = 0
    correctness_sets: int = 0
    env: EnvInfo | None = None
    protocol: ProtocolName = Field("ours", description="the protocol of the ranked numbers above")
    config: str | None = Field(None, description="the shapes and arguments timed")
    precision: Precision | None = None
    protocols: dict[str, Timing] = Field(default_factory=dict, description="the same solution under the suites' "
                                                                            "protocols, beside ours")
    shape_check: ShapeCheck | None = None

    @property
    def accepted(self) -> bool:
        return self.correct and self.rejected_rule is None
