// The CUDA kernel of add, launched on the device's stream (add_cuda.cu).
#pragma once

#include <cstdint>
#include <span>

#include "weft/cuda/cuda_device.h"

namespace weft::add {

// out = Σ inputs over n elements, summed left to right; out may be inputs[0] (in place).
void add_forward(cuda::CudaDevice& device, std::span<const float* const> inputs, float* out, std::int64_t n);

}  // namespace weft::add
