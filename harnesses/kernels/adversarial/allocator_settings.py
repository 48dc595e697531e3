"""CUDA: reconfigures the caching allocator of the running process (blocks above 64 MB are never split, so large
reference tensors go back to cudaMalloc). Caught: the torch-state snapshot (changes_global_state,
allocator_settings)."""
import torch

torch.cuda.memory._set_allocator_settings("max_split_size_mb:64")


class ModelNew(torch.nn.Module):
    def forward(self, A: torch.Tensor, B: torch.Tensor) -> torch.Tensor:
        return B * A.unsqueeze(1)
