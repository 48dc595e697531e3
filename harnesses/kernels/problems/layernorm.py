"""LayerNorm over the last three dimensions with a learned affine transform, at robust-kbench's shape.

robust-kbench's layernorm task times x of (1, 64, 256, 256) normalised over (64, 256, 256): one row of 4M elements,
where eager PyTorch's one-block-per-row kernel runs on a single SM (the "138x" systems report); torch.compile splits
the reduction, so a hand-written kernel is held to that too.
"""
import torch
import torch.nn as nn

BATCH = 1
FEATURES = 64
DIM1 = 256
DIM2 = 256
SMALL_SIZES = {"BATCH": 2, "FEATURES": 3, "DIM1": 8, "DIM2": 8}
# robust-kbench's multi configuration: batch 8, the same normalised shape
CHECK_SIZES = {"BATCH": 8, "FEATURES": 64, "DIM1": 256, "DIM2": 256}


class Model(nn.Module):
    def __init__(self, normalized_shape: tuple[int, ...]):
        super().__init__()
        self.norm = nn.LayerNorm(normalized_shape)
        # random affine parameters, so a solution that ignores them fails the check
        with torch.no_grad():
            self.norm.weight.copy_(1.0 + 0.1 * torch.randn(normalized_shape))
            self.norm.bias.copy_(0.1 * torch.randn(normalized_shape))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.norm(x)


def get_inputs():
    return [torch.randn(BATCH, FEATURES, DIM1, DIM2)]


def get_init_inputs():
    return [(FEATURES, DIM1, DIM2)]
