"""The problem's workload as both processes build it: precision, configuration, reference weights, input sets.

The pristine reference process and the solution's process each build these on their own, from the same problem
file, settings and seeds; they must agree bit for bit (the reference's outputs are compared with the solution's
outputs on inputs each process generated), so this module is the one place that says how, for both formats.
"""

from __future__ import annotations

from typing import Any

import torch

from harnesses.kernels.problem import (Kwargs, ProblemRef, check_problem_module, check_sizes, load_module,
                                       read_config)
from harnesses.kernels.settings import EvalSettings, Precision


class NoSecondConfig(ValueError):
    pass


class Workload:
    """One configuration of a problem: how to build its reference model, its inputs and a ModelNew.

    KernelBench: positional `get_init_inputs()` and `get_inputs()`, sizes from module constants (the shape check
    sets them to `check_sizes`). robust-kbench: `Model(**init)` and `get_inputs(**inputs)` from the task's config."""

    def __init__(self, problem: ProblemRef, small: bool, config: int = 0) -> None:
        self.problem = problem
        self.module = load_module(problem.path, small=small)
        check_problem_module(self.module, problem)
        self.init_kwargs: Kwargs = {}
        self.input_kwargs: Kwargs = {}
        if problem.format == "robust-kbench":
            configurations = read_config(problem).configurations()
            if config >= len(configurations):
                raise NoSecondConfig(f"{problem.config_file}: no multi configuration differs from the single one")
            self.init_kwargs, self.input_kwargs = configurations[config]
            self.label = ", ".join(f"{k}={v}" for k, v in {**self.init_kwargs, **self.input_kwargs}.items())
            return
        sizes = check_sizes(self.module, small) if config else {}
        if config and all(getattr(self.module, k) == v for k, v in sizes.items()):
            raise NoSecondConfig(f"{problem.path}: no size constant to scale for a shape check (set CHECK_SIZES)")
        for key, value in sizes.items():
            setattr(self.module, key, value)
        self.label = ", ".join(f"{k}={getattr(self.module, k)}" for k in sizes or self._size_names())

    def _size_names(self) -> list[str]:
        return list(getattr(self.module, "SMALL_SIZES", {})) or list(check_sizes(self.module, small=True))

    def init_args(self) -> tuple[list[Any], Kwargs]:
        if self.problem.format == "robust-kbench":
            return [], dict(self.init_kwargs)
        return list(self.module.get_init_inputs()), {}

    def reference_model(self, seed: int, device: torch.device) -> torch.nn.Module:
        """The reference Model, its parameters drawn under `seed` (the solution gets the same ones)."""
        torch.manual_seed(seed)
        args, kwargs = self.init_args()
        return self.module.Model(*args, **kwargs).to(device).eval()

    def make_inputs(self, seed: int, device: torch.device) -> list[Any]:
        torch.manual_seed(seed)
        # created on the device where get_inputs() leaves the device open (KernelBench's do): no host round trip
        with device:
            values = [v.to(device) if isinstance(v, torch.Tensor) else v
                      for v in self.module.get_inputs(**self.input_kwargs)]
        for i, v in enumerate(values):
            if isinstance(v, torch.Tensor) and v.is_floating_point() and v.numel() and not v.abs().sum():
                raise ValueError(f"{self.module.__file__}: get_inputs() returned an all-zero input {i}")
        return values


def open_problem(problem: ProblemRef, settings: EvalSettings) -> tuple[EvalSettings, torch.device, Workload]:
    """How both processes start: the device resolved, the harness's precision set, the configuration loaded."""
    settings = settings.resolved(torch.cuda.is_available())
    device = torch.device(settings.device)
    set_precision(device)
    return settings, device, Workload(problem, settings.use_small, settings.config)


def set_precision(device: torch.device) -> None:
    """The reference is true fp32: TF32 would move it by more than the 1e-4 tolerance."""
    if device.type == "cuda":
        torch.backends.cuda.matmul.allow_tf32 = False
        torch.backends.cudnn.allow_tf32 = False


def precision(inputs: list[Any]) -> Precision:
    cuda = torch.cuda.is_available()
    return Precision(
        input_dtypes=[str(v.dtype).removeprefix("torch.") for v in inputs if isinstance(v, torch.Tensor)],
        default_dtype=str(torch.get_default_dtype()).removeprefix("torch."),
        matmul_allow_tf32=torch.backends.cuda.matmul.allow_tf32 if cuda else None,
        cudnn_allow_tf32=torch.backends.cudnn.allow_tf32 if cuda else None,
        cudnn_enabled=torch.backends.cudnn.enabled, cudnn_benchmark=torch.backends.cudnn.benchmark,
        cudnn_deterministic=torch.backends.cudnn.deterministic,
        float32_matmul_precision=torch.get_float32_matmul_precision())
