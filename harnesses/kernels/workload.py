"""The problem's workload as both processes build it: precision, reference weights, input sets.

The pristine reference process and the solution's process each build these on their own, from the same problem
file, settings and seeds; they must agree bit for bit (the reference's outputs are compared with the solution's
outputs on inputs each process generated), so this module is the one place that says how.
"""

from __future__ import annotations

from types import ModuleType
from typing import Any

import torch

from harnesses.kernels.problem import ProblemRef, check_problem_module, load_module
from harnesses.kernels.settings import EvalSettings


def open_problem(problem: ProblemRef, settings: EvalSettings) -> tuple[EvalSettings, torch.device, ModuleType]:
    """How both processes start: the device resolved, the harness's precision set, the problem loaded."""
    settings = settings.resolved(torch.cuda.is_available())
    device = torch.device(settings.device)
    set_precision(device)
    return settings, device, load_problem(problem, settings.use_small)


def set_precision(device: torch.device) -> None:
    """The reference is true fp32: TF32 would move it by more than the 1e-4 tolerance."""
    if device.type == "cuda":
        torch.backends.cuda.matmul.allow_tf32 = False
        torch.backends.cudnn.allow_tf32 = False


def load_problem(problem: ProblemRef, small: bool) -> ModuleType:
    module = load_module(problem.path, small=small)
    check_problem_module(module)
    return module


def reference_model(module: ModuleType, seed: int, device: torch.device) -> torch.nn.Module:
    """The reference Model, its parameters drawn under `seed` (the solution gets the same ones)."""
    torch.manual_seed(seed)
    return module.Model(*module.get_init_inputs()).to(device).eval()


def make_inputs(module: ModuleType, seed: int, device: torch.device) -> list[Any]:
    torch.manual_seed(seed)
    # created on the device where get_inputs() leaves the device open (KernelBench's do): no host round trip
    with device:
        values = [v.to(device) if isinstance(v, torch.Tensor) else v for v in module.get_inputs()]
    for i, v in enumerate(values):
        if isinstance(v, torch.Tensor) and v.is_floating_point() and v.numel() and not v.abs().sum():
            raise ValueError(f"{module.__file__}: get_inputs() returned an all-zero input {i}")
    return values
