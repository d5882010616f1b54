// The CUDA kernels of relu, launched on the device's stream (relu_cuda.cu).
#pragma once

#include <cstdint>

#include "weft/cuda/cuda_device.h"

namespace weft::relu {

// y = max(x, 0) over n elements; y may be x (in place).
void relu_forward(cuda::CudaDevice& device, const float* x, float* y, std::int64_t n);
// dx = dy·[y > 0] over n elements.
void relu_backward(cuda::CudaDevice& device, const float* y, const float* dy, float* dx, std::int64_t n);

}  // namespace weft::relu
