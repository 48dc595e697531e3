"""Comparing a solution's outputs with the reference's, KernelBench's tolerances, and memory poisoning."""

from __future__ import annotations

from typing import Any

import torch
from pydantic import BaseModel

# KernelBench: atol = rtol = 1e-4 for fp32 (and wider float types), 1e-2 for half precision
_HALF = (torch.float16, torch.bfloat16)
POISON_BYTES = 256 * 1024 * 1024
# CPU mode runs small shapes; a large poison block there only costs test time
CPU_POISON_BYTES = 16 * 1024 * 1024


def tolerance(dtype: torch.dtype) -> tuple[float, float]:
    """(atol, rtol) for an output dtype; integer and bool outputs must match exactly."""
    if dtype in _HALF:
        return 1e-2, 1e-2
    if dtype.is_floating_point or dtype.is_complex:
        return 1e-4, 1e-4
    return 0.0, 0.0


class Comparison(BaseModel):
    ok: bool
    max_abs_error: float = 0.0
    reason: str = ""


def flatten(out: Any) -> list[torch.Tensor]:
    if isinstance(out, torch.Tensor):
        return [out]
    if isinstance(out, (tuple, list)):
        return [t for item in out for t in flatten(item)]
    raise TypeError(f"forward returned {type(out).__name__}, expected a tensor or a tuple of tensors")


def host_copy(out: Any) -> list[torch.Tensor]:
    """The output tensors, copied to the CPU now (the caller may reuse its buffers later)."""
    return [t.detach().to("cpu", copy=True) for t in flatten(out)]


def compare(out: Any, ref: Any, tolerance_override: float | None = None) -> Comparison:
    """`tolerance_override`: atol = rtol (a suite protocol's), else KernelBench's for the dtype."""
    outs, refs = flatten(out), flatten(ref)
    if len(outs) != len(refs):
        return Comparison(ok=False, reason=f"returned {len(outs)} tensors, the reference returns {len(refs)}")
    worst = 0.0
    for i, (o, r) in enumerate(zip(outs, refs)):
        if o.shape != r.shape:
            return Comparison(ok=False, reason=f"output {i}: shape {tuple(o.shape)} != reference {tuple(r.shape)}")
        if o.dtype != r.dtype:
            return Comparison(ok=False, reason=f"output {i}: dtype {o.dtype} != reference {r.dtype}")
        o64, r64 = o.detach().double().cpu(), r.detach().double().cpu()
        if o64.numel() == 0:
            continue
        if not torch.isfinite(o64).all() and not torch.equal(torch.isfinite(o64), torch.isfinite(r64)):
            return Comparison(ok=False, max_abs_error=float("inf"),
                              reason=f"output {i}: non-finite values where the reference has none "
                                     "(unwritten output memory is poisoned with NaN)")
        finite = torch.isfinite(r64)
        err = (o64 - r64).abs()[finite]
        max_err = float(err.max()) if err.numel() else 0.0
        worst = max(worst, max_err)
        atol, rtol = tolerance(r.dtype)
        if tolerance_override is not None and (atol or rtol):
            atol = rtol = tolerance_override
        if not torch.allclose(o64, r64, atol=atol, rtol=rtol, equal_nan=True):
            return Comparison(ok=False, max_abs_error=worst,
                              reason=f"output {i}: max abs error {max_err:.3g} exceeds atol={atol:g}, rtol={rtol:g}")
    return Comparison(ok=True, max_abs_error=worst)


def poison_memory(device: torch.device) -> None:
    """Fill memory the allocator will hand out next with NaN, so an output the solution never writes shows up.

    On CUDA the caching allocator reuses the freed block for the solution's next allocations. On CPU the system
    allocator gives no such promise: poisoning there is best effort and the fresh inputs carry the check."""
    nbytes = CPU_POISON_BYTES if device.type == "cpu" else POISON_BYTES
    block = torch.empty(nbytes // 4, dtype=torch.float32, device=device)
    block.fill_(float("nan"))
    del block


def same_storage(a: torch.Tensor, b: torch.Tensor) -> bool:
    return a.untyped_storage().data_ptr() == b.untyped_storage().data_ptr() and a.numel() > 0 and b.numel() > 0
