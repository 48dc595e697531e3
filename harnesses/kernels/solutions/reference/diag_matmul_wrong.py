"""A wrong diag(A) @ B: scales by A + 0.01, so the harness must report a max error near 0.01 * max|B|."""
import torch


class ModelNew(torch.nn.Module):
    def forward(self, A: torch.Tensor, B: torch.Tensor) -> torch.Tensor:
        return B * (A.unsqueeze(1) + 0.01)
