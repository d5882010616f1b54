// The CUDA kernels of softmax, launched on the device's stream (softmax_cuda.cu).
#pragma once

#include <cstdint>

#include "weft/cuda/cuda_device.h"

namespace weft::softmax {

// A row-major tensor seen along its softmax axis: outer × length × inner, so that row (o, i)
// holds the `length` items o·length·inner + k·inner + i.
struct Rows {
    std::int64_t outer = 1, length = 1, inner = 1;
};

// y = exp(x − max) / Σ exp(x − max) along each row.
void softmax_forward(cuda::CudaDevice& device, const Rows& rows, const float* x, float* y);
// dx = y·(dy − Σ dy·y) along each row.
void softmax_backward(cuda::CudaDevice& device, const Rows& rows, const float* y, const float* dy, float* dx);

}  // namespace weft::softmax
