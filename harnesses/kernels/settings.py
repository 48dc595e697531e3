"""What one evaluation is asked to do, what the pristine reference process measured, and what is reported."""

from __future__ import annotations

import statistics
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

_REVERIFY_SEED_OFFSET = 7919
_TIMING_SEED_OFFSET = 104729


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

    @property
    def accepted(self) -> bool:
        return self.correct and self.rejected_rule is None
