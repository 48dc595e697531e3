"""LayerNorm in one Triton program per row: mean, variance and the affine transform from one read of the row."""
import torch
import torch.nn as nn
import triton
import triton.language as tl


@triton.jit
def _layernorm_rows(x_ptr, w_ptr, b_ptr, y_ptr, n_cols, eps, BLOCK: tl.constexpr):
    row = tl.program_id(0)
    offs = tl.arange(0, BLOCK)
    mask = offs < n_cols
    x = tl.load(x_ptr + row * n_cols + offs, mask=mask, other=0.0)
    mean = tl.sum(x, axis=0) / n_cols
    d = tl.where(mask, x - mean, 0.0)
    rstd = tl.rsqrt(tl.sum(d * d, axis=0) / n_cols + eps)
    w = tl.load(w_ptr + offs, mask=mask, other=0.0)
    b = tl.load(b_ptr + offs, mask=mask, other=0.0)
    tl.store(y_ptr + row * n_cols + offs, d * rstd * w + b, mask=mask)


class ModelNew(nn.Module):
    def __init__(self, n: int):
        super().__init__()
        # a parameter holder with the reference's names, so the harness loads the reference's weights into it
        self.norm = nn.LayerNorm(n)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x.contiguous()
        y = torch.empty_like(x)
        n = x.shape[-1]
        _layernorm_rows[(x.numel() // n,)](x, self.norm.weight, self.norm.bias, y, n, self.norm.eps,
                                           BLOCK=triton.next_power_of_2(n), num_warps=8)
        return y
