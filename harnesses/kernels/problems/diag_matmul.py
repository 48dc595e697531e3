"""diag(A) @ B: a diagonal matrix times a dense one (KernelBench level 1 task 12)."""
import torch
import torch.nn as nn

N = 4096
M = 4096
SMALL_SIZES = {"N": 8, "M": 16}


class Model(nn.Module):
    def __init__(self):
        super().__init__()

    def forward(self, A: torch.Tensor, B: torch.Tensor) -> torch.Tensor:
        return torch.diag(A) @ B


def get_inputs():
    return [torch.randn(N), torch.randn(N, M)]


def get_init_inputs():
    return []
