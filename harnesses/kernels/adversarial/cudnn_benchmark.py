"""Flips cuDNN's benchmark flag through an alias the static check does not follow (the flag exists on every build,
so this runs on a CPU too). Caught: the torch-state snapshot (changes_global_state, cudnn_benchmark)."""
import torch

_b = torch.backends
_b.cudnn.benchmark = True


class ModelNew(torch.nn.Module):
    def forward(self, A: torch.Tensor, B: torch.Tensor) -> torch.Tensor:
        return B * A.unsqueeze(1)
