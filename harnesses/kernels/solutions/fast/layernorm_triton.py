"""LayerNorm over a large normalised shape in two Triton passes spread over the whole GPU.

Eager PyTorch gives each row (here: one row of 4M elements) to one thread block, so one SM does all the work. Here
every row is cut into chunks: the first pass writes each chunk's sum and sum of squares (shifted by the row's first
element, so a large mean does not cancel the variance away), the second has every chunk program combine its row's
partial sums and normalise its chunk.
"""
import torch
import torch.nn as nn
import triton
import triton.language as tl

CHUNK = 8192
BLOCK = 2048


@triton.jit
def _partial_stats(x_ptr, part_ptr, n, chunks, CHUNK: tl.constexpr, BLOCK: tl.constexpr):
    row = tl.program_id(0)
    c = tl.program_id(1)
    base = x_ptr + row.to(tl.int64) * n
    shift = tl.load(base)
    acc_s = tl.zeros([BLOCK], dtype=tl.float32)
    acc_q = tl.zeros([BLOCK], dtype=tl.float32)
    for start in range(0, CHUNK, BLOCK):
        offs = c * CHUNK + start + tl.arange(0, BLOCK)
        mask = offs < n
        v = tl.where(mask, tl.load(base + offs, mask=mask, other=0.0) - shift, 0.0)
        acc_s += v
        acc_q += v * v
    out = part_ptr + (row * chunks + c) * 2
    tl.store(out, tl.sum(acc_s, axis=0))
    tl.store(out + 1, tl.sum(acc_q, axis=0))


@triton.jit
def _normalize(x_ptr, w_ptr, b_ptr, y_ptr, part_ptr, n, chunks, eps, CHUNK: tl.constexpr, BLOCK: tl.constexpr,
               CBLOCK: tl.constexpr):
    row = tl.program_id(0)
    c = tl.program_id(1)
    base = row.to(tl.int64) * n
    shift = tl.load(x_ptr + base)
    co = tl.arange(0, CBLOCK)
    cm = co < chunks
    p = part_ptr + (row * chunks + co) * 2
    s = tl.sum(tl.load(p, mask=cm, other=0.0), axis=0)
    q = tl.sum(tl.load(p + 1, mask=cm, other=0.0), axis=0)
    shifted_mean = s / n
    rstd = 1.0 / tl.sqrt(q / n - shifted_mean * shifted_mean + eps)
    mean = shifted_mean + shift
    for start in range(0, CHUNK, BLOCK):
        offs = c * CHUNK + start + tl.arange(0, BLOCK)
        mask = offs < n
        v = tl.load(x_ptr + base + offs, mask=mask, other=0.0)
        w = tl.load(w_ptr + offs, mask=mask, other=0.0)
        b = tl.load(b_ptr + offs, mask=mask, other=0.0)
        tl.store(y_ptr + base + offs, (v - mean) * rstd * w + b, mask=mask)


class ModelNew(nn.Module):
    def __init__(self, normalized_shape):
        super().__init__()
        # a parameter holder with the reference's names, so the harness loads the reference's weights into it
        self.norm = nn.LayerNorm(normalized_shape)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x.contiguous()
        n = self.norm.weight.numel()
        rows = x.numel() // n
        chunks = triton.cdiv(n, CHUNK)
        part = torch.empty(rows * chunks * 2, device=x.device, dtype=torch.float32)
        y = torch.empty_like(x)
        grid = (rows, chunks)
        _partial_stats[grid](x, part, n, chunks, CHUNK=CHUNK, BLOCK=BLOCK, num_warps=8)
        _normalize[grid](x, self.norm.weight, self.norm.bias, y, part, n, chunks, self.norm.eps, CHUNK=CHUNK,
                         BLOCK=BLOCK, CBLOCK=max(16, triton.next_power_of_2(chunks)), num_warps=8)
        return y
