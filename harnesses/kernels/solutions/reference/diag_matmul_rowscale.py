"""diag(A) @ B as a row scaling, in PyTorch: correct, and free of the reference's GEMM."""
import torch


class ModelNew(torch.nn.Module):
    def forward(self, A: torch.Tensor, B: torch.Tensor) -> torch.Tensor:
        return B * A.unsqueeze(1)
