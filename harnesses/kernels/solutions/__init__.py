"""Hand-written solutions the tests and bench/kernels_gpu.py run through the harness. Loaded by path, never imported.

- reference/: correct solutions that use PyTorch glue only (what CPU mode can run).
- fast/: hand-written kernels expected to beat the reference on a GPU (CUDA via load_inline, or Triton).
The cheating ones are in harnesses/kernels/adversarial/.
"""
