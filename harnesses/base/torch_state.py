"""A snapshot of torch's function tables and process-wide settings, to name what code run since has changed.

A harness that imports experiment code into a process where it also computes or times something takes this
snapshot before the import and calls `changed()` after the import and after each call into that code: a solution
that rebinds a function (`f = torch.nn.functional; f.gelu = slow`, an alias no static reading follows) or flips a
global flag (TF32, matmul precision, default dtype, deterministic algorithms, cuDNN benchmark, allocator settings)
shows up by name. It holds no domain knowledge: the kernel and speedrun harnesses share it.

Tables are compared by identity, so a check costs a few milliseconds. The settings are read through the C-level
getters captured here, so a solution that also replaces the Python-side getters cannot hide a change. Take the
snapshot after the harness has set up the process (precision flags, CUDA initialised): what it set is the baseline.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from types import ModuleType
from typing import Any

import torch
import torch.nn.functional

_MISSING = object()
# environment variables torch or its libraries read for allocation, precision and threading
_ENV_PREFIXES = ("PYTORCH_", "CUBLAS", "CUDNN", "NVIDIA_TF32", "TORCH_ALLOW_TF32", "OMP_", "MKL_")
_ENV_NAMES = ("CUDA_LAUNCH_BLOCKING",)
# C-level getters of global flags (torch._C._get_<name>), where this torch build has them
_C_FLAGS = (
    "float32_matmul_precision", "default_device", "deterministic_algorithms", "deterministic_algorithms_warn_only",
    "deterministic_fill_uninitialized_memory", "cublas_allow_tf32", "cublas_allow_fp16_reduced_precision_reduction",
    "cublas_allow_bf16_reduced_precision_reduction", "cublas_allow_fp16_accumulation",
    "cpu_allow_fp16_reduced_precision_reduction", "cudnn_enabled", "cudnn_benchmark", "cudnn_deterministic",
    "cudnn_allow_tf32", "onednn_allow_tf32", "mkldnn_enabled", "mkldnn_deterministic", "nnpack_enabled",
    "flash_sdp_enabled", "mem_efficient_sdp_enabled", "math_sdp_enabled", "cudnn_sdp_enabled",
    "math_sdp_allow_fp16_bf16_reduction", "linalg_preferred_backend", "blas_preferred_backend",
)
# the newer per-backend precision settings (torch.backends.<backend>.<op>.fp32_precision)
_FP32_PRECISION = (("generic", "all"), ("cuda", "all"), ("cuda", "matmul"), ("cuda", "conv"), ("cuda", "rnn"),
                   ("mkldnn", "all"), ("mkldnn", "matmul"), ("mkldnn", "conv"), ("mkldnn", "rnn"))


def _modules() -> list[ModuleType]:
    c = torch._C
    return [torch, torch.nn.functional, torch.linalg, torch.fft, torch.special, torch.functional,
            *(getattr(c, name) for name in ("_nn", "_linalg", "_fft", "_special") if hasattr(c, name))]


def _classes() -> list[type]:
    """Tensor's and nn.Module's classes, and every class in the hierarchy of what torch.nn exports (a module's
    forward often calls a base class's helper, as Conv2d's calls _ConvNd's `_conv_forward`)."""
    found = {torch.Tensor, torch._C.TensorBase, type(torch._C._VariableFunctions), torch.nn.Module}
    for value in vars(torch.nn).values():
        if isinstance(value, type):
            found.update(c for c in value.__mro__ if c.__module__.startswith("torch"))
    return sorted(found, key=lambda c: f"{c.__module__}.{c.__qualname__}")


def _readers() -> dict[str, Callable[[], Any]]:
    c = torch._C
    readers: dict[str, Callable[[], Any]] = {
        "default_dtype": c.get_default_dtype, "grad_enabled": c.is_grad_enabled,
        "inference_mode": c.is_inference_mode_enabled, "anomaly_detection": c.is_anomaly_enabled,
        "num_threads": c.get_num_threads, "num_interop_threads": c.get_num_interop_threads,
        # a mode pushed and left on these stacks would intercept every later op
        "torch_dispatch_modes": c._len_torch_dispatch_stack, "torch_function_modes": c._len_torch_function_stack,
    }
    for name in _C_FLAGS:
        getter = getattr(c, f"_get_{name}", None)
        if getter is not None:
            readers[name] = getter
    fp32 = getattr(c, "_get_fp32_precision_getter", None)
    for backend, op in _FP32_PRECISION if fp32 else ():
        readers[f"fp32_precision[{backend}.{op}]"] = lambda b=backend, o=op: fp32(b, o)
    for device in ("cpu", "cuda"):
        readers[f"autocast[{device}]"] = lambda d=device, f=c.is_autocast_enabled: f(d)
    settings = getattr(c, "_accelerator_getAllocatorSettings", None)
    if settings is not None:
        readers["allocator_settings"] = settings
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        index = torch.cuda.current_device()
        if hasattr(c, "_cuda_getMemoryFraction"):
            readers["cuda_memory_fraction"] = lambda f=c._cuda_getMemoryFraction: f(index)
        if settings is None:  # older torch: the parsed settings are in the allocator's snapshot
            snapshot = torch.cuda.memory._snapshot
            readers["allocator_settings"] = lambda: snapshot().get("allocator_settings")
    return readers


def _read(readers: dict[str, Callable[[], Any]], environ: os._Environ) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for name, reader in readers.items():
        try:
            values[name] = reader()
        except Exception:  # a getter this build or device does not support: not comparable
            values[name] = _MISSING
    values.update({f"env {k}": v for k, v in environ.items() if k.startswith(_ENV_PREFIXES) or k in _ENV_NAMES})
    return values


def global_settings() -> dict[str, str]:
    """The process-wide settings as text, without the function tables (a cache key for numbers that depend on
    precision, threads or allocator settings)."""
    return {k: _show(v) for k, v in _read(_readers(), os.environ).items()}


class TorchState:
    """What torch looked like when this object was made; `changed()` names every difference since."""

    def __init__(self, also: Sequence[ModuleType] = ()) -> None:
        """`also`: more modules whose functions must stay as they are (a harness's own, when experiment code runs
        in its process)."""
        # importing torch._dynamo rebinds torch.manual_seed (to keep dynamo out of it): done before the snapshot, so
        # that torch's own side effect is never blamed on code that happens to import it later
        import torch._dynamo  # noqa: F401

        self._modules = [(m, {k: v for k, v in vars(m).items() if callable(v) or isinstance(v, ModuleType)})
                         for m in [*_modules(), *also]]
        self._classes = [(cls, dict(vars(cls))) for cls in _classes()]
        self._readers = _readers()
        self._environ = os.environ
        self._settings = self._read()

    def _read(self) -> dict[str, Any]:
        values = _read(self._readers, self._environ)
        if os.environ is not self._environ:
            values["os.environ"] = "replaced"
        return values

    def patched(self) -> list[str]:
        """Functions (and classes, modules) rebound, removed or, on a class, added since the snapshot."""
        out = []
        for module, table in self._modules:
            now = vars(module)
            out += [f"{module.__name__}.{k}" for k, v in table.items() if now.get(k, _MISSING) is not v]
        for cls, table in self._classes:
            now = vars(cls)
            names = [k for k, v in table.items() if now.get(k, _MISSING) is not v] + [k for k in now if k not in table]
            out += [f"{cls.__module__}.{cls.__qualname__}.{k}" for k in names]
        return sorted(out)

    def settings_changed(self) -> list[str]:
        """Global flags, precision, allocator settings and environment variables that differ from the snapshot."""
        now = self._read()
        out = []
        for name in sorted(set(now) | set(self._settings)):
            before, after = self._settings.get(name, _MISSING), now.get(name, _MISSING)
            if before is _MISSING and name in self._readers:  # unreadable at the snapshot: nothing to compare
                continue
            if before is not after and before != after:
                out.append(f"{name}: {_difference(before, after)}")
        return out

    def changed(self) -> list[str]:
        return self.patched() + self.settings_changed()


def _difference(before: Any, after: Any) -> str:
    if isinstance(before, dict) and isinstance(after, dict):  # a settings table: only the entries that differ
        keys = [k for k in {**before, **after} if before.get(k, _MISSING) != after.get(k, _MISSING)]
        return ", ".join(f"{k} {_show(before.get(k))} -> {_show(after.get(k))}" for k in keys)
    return f"{_show(before)} -> {_show(after)}"


def _show(value: Any) -> str:
    return "unset" if value is None or value is _MISSING else str(value)
