"""The Llama FFN with cuBLAS fp32 GEMMs and one fused SiLU-multiply kernel.

At 256 tokens the three fp32 GEMMs are the whole cost (90 GFLOP; no TF32: the 1e-4 tolerance rules it out), and
cuBLAS is as fast at them as anything hand-written in fp32: what is left to win is the elementwise tail. The gate
and up GEMMs write side by side into one [tokens, 2 * hidden] buffer, one kernel reads both halves once and writes
silu(gate) * up, and the down GEMM reads that.
"""
import torch
import torch.nn as nn
from torch.utils.cpp_extension import load_inline

CPP_SOURCE = "torch::Tensor llama_ffn(torch::Tensor x, torch::Tensor w1, torch::Tensor w3, torch::Tensor w2);"

CUDA_SOURCE = r"""
#include <torch/extension.h>
#include <ATen/cuda/CUDAContext.h>
#include <cublas_v2.h>

__global__ void silu_mul_kernel(const float* __restrict__ gu, float* __restrict__ h, int64_t rows, int64_t hidden) {
  const int64_t n = rows * hidden;
  for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < n; i += (int64_t)gridDim.x * blockDim.x) {
    const int64_t r = i / hidden, c = i - r * hidden;
    const float g = gu[r * 2 * hidden + c];
    h[i] = g / (1.f + expf(-g)) * gu[r * 2 * hidden + hidden + c];
  }
}

// row-major Y[m, n] = X[m, k] @ W[n, k]^T, written with row stride ldy: the column-major Y^T = W X^T
static void linear(const float* x, const float* w, float* y, int64_t m, int64_t n, int64_t k, int64_t ldy) {
  const float one = 1.f, zero = 0.f;
  TORCH_CHECK(cublasSgemm(at::cuda::getCurrentCUDABlasHandle(), CUBLAS_OP_T, CUBLAS_OP_N, (int)n, (int)m, (int)k,
                          &one, w, (int)k, x, (int)k, &zero, y, (int)ldy) == CUBLAS_STATUS_SUCCESS, "cublasSgemm");
}

torch::Tensor llama_ffn(torch::Tensor x, torch::Tensor w1, torch::Tensor w3, torch::Tensor w2) {
  TORCH_CHECK(x.is_cuda() && x.is_contiguous() && x.scalar_type() == at::kFloat, "x: contiguous fp32 CUDA");
  const int64_t dim = x.size(-1), rows = x.numel() / dim, hidden = w1.size(0);
  auto gu = torch::empty({rows, 2 * hidden}, x.options());
  auto h = torch::empty({rows, hidden}, x.options());
  auto sizes = x.sizes().vec();
  auto y = torch::empty(sizes, x.options());
  linear(x.data_ptr<float>(), w1.data_ptr<float>(), gu.data_ptr<float>(), rows, hidden, dim, 2 * hidden);
  linear(x.data_ptr<float>(), w3.data_ptr<float>(), gu.data_ptr<float>() + hidden, rows, hidden, dim, 2 * hidden);
  const int64_t n = rows * hidden;
  const int blocks = (int)std::min<int64_t>((n + 255) / 256, 65535);
  silu_mul_kernel<<<blocks, 256, 0, at::cuda::getCurrentCUDAStream()>>>(gu.data_ptr<float>(), h.data_ptr<float>(),
                                                                         rows, hidden);
  linear(h.data_ptr<float>(), w2.data_ptr<float>(), y.data_ptr<float>(), rows, dim, hidden, dim);
  return y;
}
"""

_ext = load_inline(name="alphalab_llama_ffn_cublas_v1", cpp_sources=CPP_SOURCE, cuda_sources=CUDA_SOURCE,
                   functions=["llama_ffn"], extra_cuda_cflags=["-O3"], verbose=False)


class ModelNew(nn.Module):
    def __init__(self, dim: int, hidden: int):
        super().__init__()
        self.w1 = nn.Linear(dim, hidden, bias=False)
        self.w2 = nn.Linear(hidden, dim, bias=False)
        self.w3 = nn.Linear(dim, hidden, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return _ext.llama_ffn(x.contiguous(), self.w1.weight, self.w3.weight, self.w2.weight)
