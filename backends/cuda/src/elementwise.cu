// The device's own elementwise arithmetic (Device::accumulate): summing the gradients of a value
// read by several nodes. Vectorised by four where the pointers allow, grid-stride loops.
#include <cstdint>

#include "weft/cuda/cuda_check.h"
#include "weft/cuda/cuda_device.h"

namespace weft::cuda {
namespace {

__global__ void accumulate_kernel(float* __restrict__ dst, const float* __restrict__ src, std::int64_t n) {
    const std::int64_t stride = static_cast<std::int64_t>(gridDim.x) * blockDim.x;
    for (std::int64_t i = static_cast<std::int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < n; i += stride)
        dst[i] += src[i];
}

__global__ void accumulate4_kernel(float4* __restrict__ dst, const float4* __restrict__ src, std::int64_t n4) {
    const std::int64_t stride = static_cast<std::int64_t>(gridDim.x) * blockDim.x;
    for (std::int64_t i = static_cast<std::int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < n4; i += stride) {
        float4 d = dst[i];
        const float4 s = src[i];
        d.x += s.x, d.y += s.y, d.z += s.z, d.w += s.w;
        dst[i] = d;
    }
}

}  // namespace

void CudaDevice::accumulate(float* dst, const float* src, std::int64_t n) {
    if (n <= 0) return;
    const bool aligned = reinterpret_cast<std::uintptr_t>(dst) % 16 == 0 && reinterpret_cast<std::uintptr_t>(src) % 16 == 0;
    const std::int64_t n4 = aligned ? n / 4 : 0;
    if (n4 > 0) {
        const LaunchShape shape = elementwise_launch(n4, *this);
        accumulate4_kernel<<<shape.blocks, shape.threads, 0, stream()>>>(reinterpret_cast<float4*>(dst),
                                                                         reinterpret_cast<const float4*>(src), n4);
        WEFT_CUDA_CHECK_LAUNCH("accumulate4_kernel");
    }
    if (const std::int64_t rest = n - 4 * n4; rest > 0) {
        const LaunchShape shape = elementwise_launch(rest, *this);
        accumulate_kernel<<<shape.blocks, shape.threads, 0, stream()>>>(dst + 4 * n4, src + 4 * n4, rest);
        WEFT_CUDA_CHECK_LAUNCH("accumulate_kernel");
    }
}

}  // namespace weft::cuda
