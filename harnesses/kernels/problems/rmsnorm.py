"""RMSNorm (Llama style) over the last dimension with a learned scale."""
import torch
import torch.nn as nn

M = 4096
N = 4096
EPS = 1e-6
SMALL_SIZES = {"M": 8, "N": 64}


class Model(nn.Module):
    def __init__(self, n: int, eps: float):
        super().__init__()
        self.eps = eps
        self.weight = nn.Parameter(1.0 + 0.1 * torch.randn(n))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        rms = torch.rsqrt(x.pow(2).mean(dim=-1, keepdim=True) + self.eps)
        return x * rms * self.weight


def get_inputs():
    return [torch.randn(M, N)]


def get_init_inputs():
    return [N, EPS]
