"""The trusted CUDA-kernel harness: KernelBench-format problems, correctness and timing of a `ModelNew` solution.

Entry point: `python -m harnesses.kernels.evaluate` (see evaluate.py).
"""
