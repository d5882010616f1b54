// The CUDA kernels of pool, launched on the device's stream (pool_cuda.cu).
#pragma once

#include <cstdint>

#include "pool_windows.h"
#include "weft/cuda/cuda_device.h"

namespace weft::pool {

// N·C planes pooled over three spatial axes (depth, height, width); fewer spatial dimensions are
// the last ones, the others of extent 1 with a window of 1.
struct Planes {
    std::int64_t planes = 0;
    Axis axis[3];
    WEFT_HOST_DEVICE std::int64_t in_items() const { return axis[0].in * axis[1].in * axis[2].in; }
    WEFT_HOST_DEVICE std::int64_t out_items() const { return axis[0].out * axis[1].out * axis[2].out; }
};

// Max over each window; `argmax` (nullable; int32 per output) receives where each maximum came
// from, as an index into its input plane.
void max_forward(cuda::CudaDevice& device, const Planes& p, const float* x, float* y, std::int32_t* argmax);
// dx = Σ over the windows whose maximum an item was of their dy.
void max_backward(cuda::CudaDevice& device, const Planes& p, const std::int32_t* argmax, const float* dy, float* dx);
// The mean of each window's real (unpadded) items.
void avg_forward(cuda::CudaDevice& device, const Planes& p, const float* x, float* y);
// dx = Σ over the windows holding an item of dy / (that window's real items).
void avg_backward(cuda::CudaDevice& device, const Planes& p, const float* dy, float* dx);
// The mean of each whole plane (a warp per plane).
void global_avg_forward(cuda::CudaDevice& device, std::int64_t planes, std::int64_t items, const float* x, float* y);
// dx = dy / items over each plane.
void global_avg_backward(cuda::CudaDevice& device, std::int64_t planes, std::int64_t items, const float* dy, float* dx);

}  // namespace weft::pool
