"""Run-time integrity checks: the same properties the static check reads, observed while the solution runs.

- PyTorch fallback: the solution's forward runs under a dispatch-mode recorder; if it dispatches any of the
  reference's *work* ops (or a synonym: `clamp` for `relu`, any GEMM for `mm`), it is doing the work in PyTorch.
  Allocation, view and copy ops, and plain arithmetic glue (add, mul, ...) are not work. Ops a C++ extension
  dispatches through ATen (at::matmul inside a `load_inline` kernel) are seen too; Triton launches and raw CUDA
  kernels are not dispatched, which is the point.
- Timer: the harness snapshots the timing primitives before importing the solution and checks them after.
- Streams: after forward the current stream must still be the one the timer records on.
"""

from __future__ import annotations

import time
from typing import Any, Callable

import torch
from torch.utils._python_dispatch import TorchDispatchMode

# ops that move, allocate or describe memory, or do cheap arithmetic glue: not "the work"
_NEUTRAL = frozenset({
    "empty", "empty_like", "empty_strided", "new_empty", "new_empty_strided", "zeros", "zeros_like", "new_zeros",
    "ones", "ones_like", "new_ones", "full", "full_like", "new_full", "fill_", "zero_", "view", "reshape",
    "_unsafe_view", "as_strided", "expand", "permute", "transpose", "t", "contiguous", "clone", "copy_", "_to_copy",
    "to", "detach", "alias", "unsqueeze", "squeeze", "select", "slice", "split", "split_with_sizes", "unbind",
    "lift_fresh", "resize_", "set_", "flatten", "narrow", "view_as", "expand_as", "_reshape_alias", "item",
    "_local_scalar_dense", "is_nonzero", "add", "add_", "sub", "sub_", "rsub", "mul", "mul_", "div", "div_", "neg",
    "pow", "reciprocal", "rsqrt", "sqrt", "randn", "rand", "uniform_", "normal_", "randint", "random_", "arange",
    "stack", "cat", "scalar_tensor", "record_stream", "diag_embed_backward",
})

# ops that do the same work under another name count as one family
_FAMILIES: dict[str, str] = {}
for _family, _names in {
    "gemm": ("mm", "addmm", "bmm", "baddbmm", "matmul", "linear", "_addmm_activation", "addmv", "mv", "dot",
             "einsum", "_scaled_mm", "addbmm", "tensordot", "vdot", "diag_embed", "diag"),
    "conv": ("convolution", "_convolution", "conv2d", "conv1d", "conv3d", "cudnn_convolution", "mkldnn_convolution",
             "_slow_conv2d_forward", "slow_conv3d_forward", "convolution_overrideable", "_nnpack_spatial_convolution"),
    "relu": ("relu", "relu_", "clamp", "clamp_min", "clamp_", "clamp_min_", "threshold", "maximum", "hardtanh",
             "_relu_activation"),
    "softmax": ("softmax", "_softmax", "log_softmax", "_log_softmax", "logsumexp", "exp"),
    "sum": ("sum", "mean", "nansum", "cumsum"),
    "max": ("amax", "max", "max_values", "maximum", "argmax", "topk", "sort"),
    "norm": ("native_layer_norm", "layer_norm", "rms_norm", "_fused_rms_norm", "group_norm", "native_group_norm",
             "batch_norm", "native_batch_norm", "norm", "linalg_vector_norm", "var_mean", "var", "std"),
    "nll": ("nll_loss", "nll_loss_forward", "nll_loss2d_forward", "cross_entropy_loss", "gather"),
    "gelu": ("gelu", "erf", "tanh"),
    "silu": ("silu", "sigmoid"),
}.items():
    for _name in _names:
        _FAMILIES.setdefault(_name, _family)


def _family(op: str) -> str:
    return _FAMILIES.get(op, op)


class OpRecorder(TorchDispatchMode):
    """Records the ATen op names dispatched while active."""

    def __init__(self) -> None:
        super().__init__()
        self.ops: set[str] = set()

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        self.ops.add(func.overloadpacket.__name__)
        return func(*args, **(kwargs or {}))


def record_ops(fn: Callable[..., Any], *args: Any) -> tuple[Any, set[str]]:
    with OpRecorder() as recorder:
        out = fn(*args)
    return out, recorder.ops


def work_ops(ops: set[str]) -> set[str]:
    return {op for op in ops if op not in _NEUTRAL}


def fallback_ops(reference_ops: set[str], solution_ops: set[str]) -> list[str]:
    """The solution's ops that do the reference's work (same op or same family)."""
    families = {_family(op) for op in work_ops(reference_ops)}
    return sorted(op for op in work_ops(solution_ops) if _family(op) in families)


class TimerSnapshot:
    """The timing primitives as the harness saw them before any solution code ran."""

    def __init__(self) -> None:
        self._items = self._current()

    @staticmethod
    def _current() -> dict[str, Any]:
        items: dict[str, Any] = {"time.perf_counter": time.perf_counter, "time.time": time.time,
                                 "torch.cuda.synchronize": torch.cuda.synchronize,
                                 "torch.cuda.Event": torch.cuda.Event,
                                 "torch.cuda.current_stream": torch.cuda.current_stream}
        for name in ("record", "elapsed_time", "synchronize", "query", "wait"):
            items[f"torch.cuda.Event.{name}"] = getattr(torch.cuda.Event, name)
        return items

    def changed(self) -> list[str]:
        now = self._current()
        return sorted(name for name, obj in self._items.items() if now.get(name) is not obj)

    @property
    def perf_counter(self) -> Callable[[], float]:
        return self._items["time.perf_counter"]

    @property
    def event(self) -> type:
        return self._items["torch.cuda.Event"]

    @property
    def synchronize(self) -> Callable[..., None]:
        return self._items["torch.cuda.synchronize"]
