"""LayerNorm over the last dimension with a learned affine transform."""
import torch
import torch.nn as nn

M = 4096
N = 4096
SMALL_SIZES = {"M": 8, "N": 64}


class Model(nn.Module):
    def __init__(self, n: int):
        super().__init__()
        self.norm = nn.LayerNorm(n)
        # random affine parameters, so a solution that ignores them fails the check
        with torch.no_grad():
            self.norm.weight.copy_(1.0 + 0.1 * torch.randn(n))
            self.norm.bias.copy_(0.1 * torch.randn(n))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.norm(x)


def get_inputs():
    return [torch.randn(M, N)]


def get_init_inputs():
    return [N]
