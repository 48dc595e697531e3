"""The Llama feed-forward block, w2(silu(w1(x)) * w3(x)), no biases, at robust-kbench's llama_ffw shape.

x is (2, 128, 4096), the hidden size 14336 (Llama 3 8B): 705 MB of fp32 weights read once for 256 tokens.
"""
import torch
import torch.nn as nn
import torch.nn.functional as F

BATCH = 2
TOKENS = 128
DIM = 4096
HIDDEN = 14336
SMALL_SIZES = {"BATCH": 2, "TOKENS": 2, "DIM": 32, "HIDDEN": 48}


class Model(nn.Module):
    def __init__(self, dim: int, hidden: int):
        super().__init__()
        self.w1 = nn.Linear(dim, hidden, bias=False)
        self.w2 = nn.Linear(hidden, dim, bias=False)
        self.w3 = nn.Linear(dim, hidden, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.w2(F.silu(self.w1(x)) * self.w3(x))


def get_inputs():
    return [torch.randn(BATCH, TOKENS, DIM)]


def get_init_inputs():
    return [DIM, HIDDEN]
