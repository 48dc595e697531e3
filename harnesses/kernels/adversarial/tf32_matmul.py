"""CUDA: allows TF32 in cuBLAS through an alias, so a reference GEMM run in this process would be TF32 (faster, and
close enough to a TF32 kernel to pass). Caught: the torch-state snapshot (changes_global_state, cublas_allow_tf32)."""
import torch

_m = torch.backends.cuda.matmul
_m.allow_tf32 = True


class ModelNew(torch.nn.Module):
    def forward(self, A: torch.Tensor, B: torch.Tensor) -> torch.Tensor:
        return B * A.unsqueeze(1)
