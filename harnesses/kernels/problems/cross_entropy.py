"""Mean cross-entropy loss of logits against integer class targets."""
import torch
import torch.nn as nn
import torch.nn.functional as F

BATCH = 4096
CLASSES = 8192
SMALL_SIZES = {"BATCH": 8, "CLASSES": 32}


class Model(nn.Module):
    def __init__(self):
        super().__init__()

    def forward(self, logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        return F.cross_entropy(logits, targets)


def get_inputs():
    return [torch.randn(BATCH, CLASSES), torch.randint(0, CLASSES, (BATCH,))]


def get_init_inputs():
    return []
