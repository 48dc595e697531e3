"""Turns on deterministic algorithms for the process at import (slower kernels, or errors, for a reference run here).
Caught: the torch-state snapshot (changes_global_state, deterministic_algorithms)."""
import torch

torch.use_deterministic_algorithms(True)


class ModelNew(torch.nn.Module):
    def forward(self, A: torch.Tensor, B: torch.Tensor) -> torch.Tensor:
        return B * A.unsqueeze(1)
