"""The parity-masked prefix sum as one scan over (parity, odd sum, even sum) triples, in three Triton passes.

A segment of x read with an even number of positives before it adds `odd` to the running sum, with an odd number
`even`; two segments combine associatively (the second's halves swap when the first's parity is odd), so the two
dependent scans of the reference become one: tile totals, a scan of the tile totals, then each tile rescanned from
its prefix. x is read twice and y written once. The combine is not commutative, so totals are taken as the last
element of a scan: tl.reduce combines lanes out of order.
"""
import torch
import torch.nn as nn
import triton
import triton.language as tl

TILE = 4096
CARRY_BLOCK = 1024


@triton.jit
def _combine(pa, oa, ea, pb, ob, eb):
    flip = pa != 0
    return pa ^ pb, oa + tl.where(flip, eb, ob), ea + tl.where(flip, ob, eb)


@triton.jit
def _leaves(x_ptr, offs, n):
    x = tl.load(x_ptr + offs, mask=offs < n, other=0)
    p = (x > 0).to(tl.int32)
    return p, tl.where(p != 0, x, 0), tl.where(p != 0, 0, x)


@triton.jit
def _last(v, BLOCK: tl.constexpr):
    return tl.sum(tl.where(tl.arange(0, BLOCK) == BLOCK - 1, v, 0), axis=0, keep_dims=True)


@triton.jit
def _tile_totals(x_ptr, tot_ptr, n, TILE: tl.constexpr):
    t = tl.program_id(0)
    p, o, e = _leaves(x_ptr, t * TILE + tl.arange(0, TILE), n)
    p, o, e = tl.associative_scan((p, o, e), 0, _combine)
    one = tl.arange(0, 1)
    tl.store(tot_ptr + t * 3 + one, _last(p, TILE))
    tl.store(tot_ptr + t * 3 + 1 + one, _last(o, TILE))
    tl.store(tot_ptr + t * 3 + 2 + one, _last(e, TILE))


@triton.jit
def _scan_totals(tot_ptr, TILES: tl.constexpr, BLOCK: tl.constexpr):
    # one program: the inclusive scan of the tile totals, a block at a time with the carry in front (TILES is a
    # constant: one build per input size)
    cp = tl.zeros([1], dtype=tl.int32)
    co = tl.zeros([1], dtype=tl.int32)
    ce = tl.zeros([1], dtype=tl.int32)
    for start in range(0, TILES, BLOCK):
        offs = start + tl.arange(0, BLOCK)
        mask = offs < TILES
        p = tl.load(tot_ptr + offs * 3, mask=mask, other=0)
        o = tl.load(tot_ptr + offs * 3 + 1, mask=mask, other=0)
        e = tl.load(tot_ptr + offs * 3 + 2, mask=mask, other=0)
        sp, so, se = tl.associative_scan((p, o, e), 0, _combine)
        sp, so, se = _combine(cp, co, ce, sp, so, se)
        tl.store(tot_ptr + offs * 3, sp, mask=mask)
        tl.store(tot_ptr + offs * 3 + 1, so, mask=mask)
        tl.store(tot_ptr + offs * 3 + 2, se, mask=mask)
        # masked lanes are the identity: the last lane holds everything up to the end of this block
        cp, co, ce = _last(sp, BLOCK), _last(so, BLOCK), _last(se, BLOCK)


@triton.jit
def _apply(x_ptr, tot_ptr, y_ptr, n, TILE: tl.constexpr):
    t = tl.program_id(0)
    offs = t * TILE + tl.arange(0, TILE)
    p, o, e = _leaves(x_ptr, offs, n)
    p, o, e = tl.associative_scan((p, o, e), 0, _combine)
    before = (t - 1) * 3
    has = t > 0
    bp = tl.load(tot_ptr + before, mask=has, other=0)
    bo = tl.load(tot_ptr + before + 1, mask=has, other=0)
    # started with an even count, the running sum is the odd half of everything up to here
    tl.store(y_ptr + offs, bo + tl.where(bp != 0, e, o), mask=offs < n)


class ModelNew(nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x.contiguous()
        n = x.numel()
        tiles = triton.cdiv(n, TILE)
        totals = torch.empty(tiles * 3, device=x.device, dtype=torch.int32)
        y = torch.empty_like(x)
        _tile_totals[(tiles,)](x, totals, n, TILE=TILE, num_warps=8)
        _scan_totals[(1,)](totals, TILES=tiles, BLOCK=CARRY_BLOCK, num_warps=8)
        _apply[(tiles,)](x, totals, y, n, TILE=TILE, num_warps=8)
        return y
