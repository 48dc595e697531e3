"""The same rebinding of torch.diag, but only in the first forward call, after the check that follows the import.
Caught: the torch-state check after each forward (patches_torch)."""
import torch

_t = torch
_diag = _t.diag


def _slow_diag(*args, **kwargs):
    for _ in range(24):
        _diag(*args, **kwargs)
    return _diag(*args, **kwargs)


class ModelNew(torch.nn.Module):
    def forward(self, A: torch.Tensor, B: torch.Tensor) -> torch.Tensor:
        _t.diag = _slow_diag
        return B * A.unsqueeze(1)
