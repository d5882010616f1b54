// The CUDA kernel of channel_permute, launched on the device's stream (channel_permute_cuda.cu).
#pragma once

#include <cstdint>

#include "weft/cuda/cuda_device.h"

namespace weft::channel_permute {

// dst plane (n, c) = src plane (n, source_channel[c]) for every image n of `batch` and channel c
// of `channels`, planes of `plane_items` floats; source_channel is in device memory.
void gather_planes(cuda::CudaDevice& device, const float* src, float* dst, const std::int32_t* source_channel,
                   std::int64_t batch, std::int64_t channels, std::int64_t plane_items);

}  // namespace weft::channel_permute
