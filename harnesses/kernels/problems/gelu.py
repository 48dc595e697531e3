"""Elementwise GELU (exact erf form) over a large fp32 matrix (memory-bound, some math per element)."""
import torch
import torch.nn as nn
import torch.nn.functional as F

M = 4096
N = 4096
SMALL_SIZES = {"M": 8, "N": 64}


class Model(nn.Module):
    def __init__(self):
        super().__init__()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.gelu(x)


def get_inputs():
    return [torch.randn(M, N)]


def get_init_inputs():
    return []
