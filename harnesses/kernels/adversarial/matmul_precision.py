"""Loosens fp32 matmul precision for the whole process at import (TF32 on CUDA, bf16 passes in oneDNN on a CPU that
has them): a reference run in this process would drift towards a low-precision kernel's outputs, and speed up or
slow down. Caught: the torch-state snapshot (changes_global_state, float32_matmul_precision)."""
import torch

torch.set_float32_matmul_precision("medium")


class ModelNew(torch.nn.Module):
    def forward(self, A: torch.Tensor, B: torch.Tensor) -> torch.Tensor:
        return B * A.unsqueeze(1)
