"""What one evaluation is asked to do, and what it reports."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


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

    @classmethod
    def for_mode(cls, mode: Literal["smoke", "full"], **overrides) -> "EvalSettings":
        """Smoke: correctness and a few trials. Full: at least 100 trials after warm-up."""
        base = {"smoke": {"trials": 10, "warmup": 3}, "full": {"trials": 100, "warmup": 25}}[mode]
        return cls(mode=mode, **{**base, **overrides})

    def resolved(self, cuda_available: bool) -> "EvalSettings":
        if self.device != "auto":
            return self
        return self.model_copy(update={"device": "cuda" if cuda_available else "cpu"})

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


class KernelReport(BaseModel):
    """The harness's verdict on one solution for one problem."""

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
    trials: int = 0
    correctness_sets: int = 0
    env: EnvInfo | None = None

    @property
    def accepted(self) -> bool:
        return self.correct and self.rejected_rule is None
