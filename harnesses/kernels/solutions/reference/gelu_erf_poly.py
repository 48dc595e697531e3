"""Exact-form GELU from a polynomial erf (Abramowitz & Stegun 7.1.26, |error| <= 1.5e-7), in PyTorch glue: correct,
and free of the reference's gelu/erf ops. The honest twin of adversarial/alias_patch_functional.py."""
import torch

P = 0.3275911
A1, A2, A3, A4, A5 = 0.254829592, -0.284496736, 1.421413741, -1.453152027, 1.061405429


class ModelNew(torch.nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        z = (x * 0.7071067811865476).abs()
        t = 1.0 / (1.0 + P * z)
        erf = 1.0 - t * (A1 + t * (A2 + t * (A3 + t * (A4 + t * A5)))) * torch.exp(-z * z)
        return 0.5 * x * (1.0 + torch.where(x < 0, -erf, erf))
