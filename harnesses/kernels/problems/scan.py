"""A prefix sum with a twist, in the spirit of RE-Bench's Triton task: y[i] is the sum of x[j], j <= i, over the j
where the count of positive elements in x[0..j] is odd (int32 in and out, so every answer is exact).

A plain cumsum is one library call; the parity condition makes it two dependent scans, which a kernel has to fuse
into one pass (a scan over (parity, odd sum, even sum) triples) to beat eager.
"""
import torch
import torch.nn as nn

N = 1 << 25
SMALL_SIZES = {"N": 1000}


class Model(nn.Module):
    def __init__(self):
        super().__init__()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        odd = torch.cumsum((x > 0).to(torch.int32), dim=0) % 2 == 1
        return torch.cumsum(torch.where(odd, x, torch.zeros_like(x)), dim=0, dtype=torch.int32)


def get_inputs():
    return [torch.randint(-10, 11, (N,), dtype=torch.int32)]


def get_init_inputs():
    return []
