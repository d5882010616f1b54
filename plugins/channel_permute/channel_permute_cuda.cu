// The CUDA kernel of channel_permute: whole H·W planes gathered through a channel table in device
// memory. Threads along x copy the items of one plane (consecutive threads, consecutive
// addresses: coalesced on both sides), float4 at a time when a plane is a multiple of four floats
// and both tensors are 16-byte aligned (then every plane starts aligned too).
#include "channel_permute_cuda.h"
#include "weft/cuda/cuda_check.h"
#include "weft/cuda/device_helpers.cuh"

namespace weft::channel_permute {
namespace {

// T is float or float4; items counts T per plane.
template <class T>
__global__ void gather_planes_kernel(const T* __restrict__ src, T* __restrict__ dst,
                                     const std::int32_t* __restrict__ source_channel, std::int64_t channels,
                                     std::int64_t planes, std::int64_t items) {
    for (std::int64_t plane = cuda::first_plane(); plane < planes; plane += cuda::plane_stride()) {
        const std::int64_t image = plane / channels;
        const std::int64_t from = image * channels + source_channel[plane - image * channels];
        const T* in = src + from * items;
        T* out = dst + plane * items;
        for (std::int64_t i = cuda::first_item(); i < items; i += cuda::item_stride()) out[i] = in[i];
    }
}

template <class T>
void launch(cuda::CudaDevice& device, const T* src, T* dst, const std::int32_t* source_channel, std::int64_t channels,
            std::int64_t planes, std::int64_t items) {
    const cuda::PlaneGrid g = cuda::plane_grid(planes, items, device);
    gather_planes_kernel<<<cuda::grid_of(g), cuda::block_of(g), 0, device.stream()>>>(src, dst, source_channel,
                                                                                       channels, planes, items);
    WEFT_CUDA_CHECK_LAUNCH("channel_permute gather_planes_kernel");
}

}  // namespace

void gather_planes(cuda::CudaDevice& device, const float* src, float* dst, const std::int32_t* source_channel,
                   std::int64_t batch, std::int64_t channels, std::int64_t plane_items) {
    const std::int64_t planes = batch * channels;
    if (planes == 0 || plane_items == 0) return;
    if (plane_items % 4 == 0 && cuda::aligned16(src, dst))
        launch(device, reinterpret_cast<const float4*>(src), reinterpret_cast<float4*>(dst), source_channel, channels,
               planes, plane_items / 4);
    else
        launch(device, src, dst, source_channel, channels, planes, plane_items);
}

}  // namespace weft::channel_permute
