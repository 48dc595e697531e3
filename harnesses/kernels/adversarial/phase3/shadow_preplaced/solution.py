"""Wrong on purpose: only a replaced harness would accept it."""
import torch


class ModelNew(torch.nn.Module):
    def forward(self, A: torch.Tensor, B: torch.Tensor) -> torch.Tensor:
        return 2 * B * A.unsqueeze(1)
