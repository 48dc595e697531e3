"""Series of different lengths as one flat float32 array plus offsets: how they travel in .npz files."""

from __future__ import annotations

import numpy as np


def pack(arrays: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    offsets = np.zeros(len(arrays) + 1, dtype=np.int64)
    offsets[1:] = np.cumsum([len(a) for a in arrays])
    flat = np.concatenate(arrays).astype(np.float32, copy=False) if arrays else np.zeros(0, np.float32)
    return flat, offsets


def unpack(flat: np.ndarray, offsets: np.ndarray) -> list[np.ndarray]:
    return [flat[offsets[i]: offsets[i + 1]] for i in range(len(offsets) - 1)]
