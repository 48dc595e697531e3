"""Baseline exploration of a kernel problem set: what each problem computes, on what shapes, and what bounds it.

    python explore.py DATA WORKSPACE     (how the baseline Explorer calls it)

Problems come from the adapter's `options.problems_dir`, else DATA when it is a folder of problems (KernelBench or
robust-kbench format), else the built-in set. Each reference runs on PyTorch's meta device (shapes only, no data, no
GPU): FLOPs are counted there, bytes are inputs + outputs + parameters, and the arithmetic intensity (FLOP/byte) says whether a kernel is
memory-bound (most of these) or compute-bound (GEMMs, convolutions). Writes WS/data_report/problems.{md,json}.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import torch
from pydantic import BaseModel
from torch.utils.flop_counter import FlopCounterMode

from alphalab.workspace import Workspace
from harnesses.kernels.evaluate import problems_dir
from harnesses.kernels.problem import ProblemRef, list_problems
from harnesses.kernels.workload import Workload

# H100 SXM: about 3.35 TB/s of HBM3 and about 67 TFLOP/s of non-tensor-core fp32
RIDGE_FLOP_PER_BYTE = 67e12 / 3.35e12


class ProblemStats(BaseModel):
    name: str
    summary: str
    inputs: list[str]
    outputs: list[str]
    params: int
    flops: int
    bytes: int
    intensity: float
    bound: str


def _describe(values) -> list[str]:
    items = values if isinstance(values, (list, tuple)) else [values]
    return [f"{str(v.dtype).removeprefix('torch.')}{list(v.shape)}" if isinstance(v, torch.Tensor) else repr(v)
            for v in items]


def _nbytes(values) -> int:
    items = values if isinstance(values, (list, tuple)) else [values]
    return sum(v.numel() * v.element_size() for v in items if isinstance(v, torch.Tensor))


def inspect_problem(ref: ProblemRef) -> ProblemStats:
    workload = Workload(ref, small=False)
    module = workload.module
    with torch.device("meta"):
        args, kwargs = workload.init_args()
        model = module.Model(*args, **kwargs)
        inputs = module.get_inputs(**workload.input_kwargs)
        counter = FlopCounterMode(display=False)
        with counter, torch.no_grad():
            out = model(*inputs)
    params = sum(p.numel() for p in model.parameters())
    total_bytes = _nbytes(inputs) + _nbytes(out) + sum(p.numel() * p.element_size() for p in model.parameters())
    flops = int(counter.get_total_flops())
    # the FLOP counter skips element-wise work and reductions: one op per element read or written is the floor
    tensors = [v for v in [*inputs, *(out if isinstance(out, (list, tuple)) else [out])] if isinstance(v, torch.Tensor)]
    flops = max(flops, max((v.numel() for v in tensors), default=0))
    intensity = flops / max(total_bytes, 1)
    return ProblemStats(name=ref.name, summary=(module.__doc__ or "").strip().splitlines()[0] if module.__doc__ else "",
                        inputs=_describe(inputs), outputs=_describe(out), params=params, flops=flops,
                        bytes=total_bytes, intensity=round(intensity, 3),
                        bound="compute" if intensity > RIDGE_FLOP_PER_BYTE else "memory")


def table(stats: list[ProblemStats]) -> str:
    lines = ["| problem | inputs | output | params | GFLOP | MB moved | FLOP/byte | bound | what |",
             "|---|---|---|---|---|---|---|---|---|"]
    for s in stats:
        lines.append(f"| {s.name} | {', '.join(s.inputs)} | {', '.join(s.outputs)} | {s.params} | "
                     f"{s.flops / 1e9:.3f} | {s.bytes / 1e6:.1f} | {s.intensity:.2f} | {s.bound} | {s.summary} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("data", type=Path)
    parser.add_argument("workspace", type=Path)
    args = parser.parse_args(argv)
    ws = Workspace(args.workspace)
    folder = problems_dir(ws, None, args.data)
    stats = [inspect_problem(ref) for ref in list_problems(folder)]
    ws.data_report.mkdir(parents=True, exist_ok=True)
    text = (f"# Problem inventory\n\nProblems: `{folder}` ({len(stats)}). Shapes are the timed (GPU) sizes; "
            f"the ridge point of an H100 in fp32 is about {RIDGE_FLOP_PER_BYTE:.0f} FLOP/byte.\n\n{table(stats)}\n")
    (ws.data_report / "problems.md").write_text(text)
    (ws.data_report / "problems.json").write_text(json.dumps([s.model_dump() for s in stats], indent=2))
    memory = [s.name for s in stats if s.bound == "memory"]
    print(text)
    print(f"{len(memory)} of {len(stats)} problems are memory-bound: the win there is fewer passes over memory "
          f"(fusion, one read and one write), not faster arithmetic.")


if __name__ == "__main__":
    main()
