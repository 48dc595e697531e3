"""val_bpb and the causality check, computed in the harness process from a loaded checkpoint.

val_bpb = total negative log-likelihood (nats) of the validation bytes / (ln 2 x number of bytes).
The bytes are tokenized with the experiment's own tokenizer and a BOS token is put in front, so every token of
the text is predicted exactly once and every byte is paid for, whatever the tokenizer: byte-level and BPE models
are compared on the same footing. Long texts are cut into windows of SEQ_LEN inputs; each window predicts the
SEQ_LEN tokens that follow its inputs' first position, so windows overlap by exactly one token.
"""

from __future__ import annotations

import math
from contextlib import nullcontext

import torch
import torch.nn.functional as F
from pydantic import BaseModel

from harnesses.base.errors import EvaluationFailure
from harnesses.speedrun.checkpoint import LoadedCheckpoint


class EvaluationError(EvaluationFailure):
    def __init__(self, message: str, signature: str):
        super().__init__(signature, message)


class BpbScore(BaseModel):
    val_bpb: float
    nll_nats: float
    n_bytes: int
    n_tokens: int


def logits_of(model: torch.nn.Module, ids: torch.Tensor) -> torch.Tensor:
    out = model(ids)
    logits = out[0] if isinstance(out, (tuple, list)) else out
    if not isinstance(logits, torch.Tensor) or logits.shape[:2] != ids.shape:
        shape = tuple(logits.shape) if isinstance(logits, torch.Tensor) else type(logits).__name__
        raise EvaluationError(f"forward(ids{tuple(ids.shape)}) must return logits [B, T, V]; got {shape}",
                              "bad_model_output")
    return logits


def token_ids(ckpt: LoadedCheckpoint, data: bytes) -> list[int]:
    """BOS + the tokens of `data`; the tokenizer must be lossless, or the bytes it drops would cost nothing."""
    ids = list(ckpt.tokenizer.encode(data))
    if bytes(ckpt.tokenizer.decode(ids)) != data:
        raise EvaluationError("decode(encode(text)) != text: the tokenizer must be lossless", "lossy_tokenizer")
    return [int(ckpt.tokenizer.bos_id)] + [int(i) for i in ids]


@torch.no_grad()
def score(ckpt: LoadedCheckpoint, data: bytes, device: torch.device, batch_tokens: int) -> BpbScore:
    ids = torch.tensor(token_ids(ckpt, data), dtype=torch.long)
    n_pred = ids.numel() - 1
    if n_pred <= 0:
        raise EvaluationError("nothing to score: the validation text is empty", "empty_validation")
    T = ckpt.seq_len
    n_full = n_pred // T
    inputs = ids[: n_full * T].view(n_full, T)
    targets = ids[1: n_full * T + 1].view(n_full, T)
    per_batch = max(1, batch_tokens // T)
    nll = 0.0
    for start in range(0, n_full, per_batch):
        nll += _nll(ckpt.model, inputs[start:start + per_batch], targets[start:start + per_batch], device)
    if n_pred % T:
        nll += _nll(ckpt.model, ids[n_full * T: n_pred].unsqueeze(0), ids[n_full * T + 1:].unsqueeze(0), device)
    return BpbScore(val_bpb=nll / (math.log(2) * len(data)), nll_nats=nll, n_bytes=len(data), n_tokens=n_pred)


def _nll(model: torch.nn.Module, inputs: torch.Tensor, targets: torch.Tensor, device: torch.device) -> float:
    inputs, targets = inputs.to(device), targets.to(device)
    with _autocast(device):
        logits = logits_of(model, inputs)
    vocab = logits.shape[-1]
    if int(targets.max()) >= vocab:
        raise EvaluationError(f"token id {int(targets.max())} has no logit (V={vocab})", "vocab_mismatch")
    # summed in float64: millions of per-token terms, so rounding does not accumulate
    nll = F.cross_entropy(logits.float().reshape(-1, vocab), targets.reshape(-1), reduction="none").double().sum()
    if not torch.isfinite(nll):
        raise EvaluationError("the model's loss on the validation set is not finite", "non_finite_loss")
    return float(nll)


def _autocast(device: torch.device):
    # models are trained under bf16 autocast on GPU; scoring them the same way keeps the numbers comparable
    return torch.autocast("cuda", dtype=torch.bfloat16) if device.type == "cuda" else nullcontext()


@torch.no_grad()
def check_causal(ckpt: LoadedCheckpoint, data: bytes, device: torch.device, tol: float = 1e-3) -> None:
    """Changing the tokens after position t must leave the predictions at positions <= t unchanged.

    Two windows run as one batch: the second is replaced as well, so a model that mixes information across the
    batch (where the next window is the future) fails too. Runs in float32 so that differences are the model's.
    """
    T = ckpt.seq_len
    ids = token_ids(ckpt, data)[: 2 * T]
    if len(ids) < 2 * T:
        ids = (ids * (2 * T // len(ids) + 1))[: 2 * T]
    base = torch.tensor(ids, dtype=torch.long).view(2, T)
    gen = torch.Generator().manual_seed(0)
    reference = logits_of(ckpt.model, base.to(device)).float()
    for t in sorted({0, T // 2, T - 2}):
        changed = base.clone()
        future = changed[:, t + 1:]
        changed[:, t + 1:] = future.flatten()[torch.randperm(future.numel(), generator=gen)].view_as(future)
        changed[1] = changed[1][torch.randperm(T, generator=gen)]
        if torch.equal(changed[0, t + 1:], base[0, t + 1:]):  # a constant tail cannot be shuffled: flip it
            changed[0, t + 1:] = (base[0, t + 1:] + 1) % max(int(base.max()) + 1, 2)
        after = logits_of(ckpt.model, changed.to(device)).float()
        drift = (after[0, : t + 1] - reference[0, : t + 1]).abs().max().item()
        if drift > tol * max(1.0, reference[0, : t + 1].abs().max().item()):
            raise EvaluationError(
                f"non-causal model: changing tokens after position {t} changed its predictions at positions "
                f"<= {t} (max logit change {drift:.3g})", "non_causal")
