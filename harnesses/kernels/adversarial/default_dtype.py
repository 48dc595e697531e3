"""Switches the default dtype to float64 at import: a reference built or fed in this process would run in double
precision, several times slower. Caught: the torch-state snapshot (changes_global_state, default_dtype)."""
import torch

torch.set_default_dtype(torch.float64)


class ModelNew(torch.nn.Module):
    def forward(self, A: torch.Tensor, B: torch.Tensor) -> torch.Tensor:
        return (B * A.unsqueeze(1)).float()
