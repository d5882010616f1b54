// One block per (image, channel) plane: the bias is read once, the plane streams through in float4
// where it is aligned. (No fmt here: its compile-time format checks do not build under nvcc.)
#include "convolution_epilogue.h"

#include <algorithm>
#include <cstdint>
#include <limits>
#include <string>

#include "weft/cuda/cuda_check.h"
#include "weft/cuda/cuda_device.h"
#include "weft/error.h"

namespace weft::cuda {
namespace {

__device__ __forceinline__ float bias_then_relu(float value, float bias, bool relu) {
    const float sum = value + bias;
    return relu ? fmaxf(sum, 0.f) : sum;
}

__global__ void bias_relu_kernel(float* __restrict__ output, const float* __restrict__ bias, int channels,
                                 std::int64_t plane, bool relu) {
    const std::int64_t index = blockIdx.x;  // n * channels + c
    const float b = bias != nullptr ? bias[index % channels] : 0.f;
    float* y = output + index * plane;
    for (std::int64_t i = threadIdx.x; i < plane; i += blockDim.x) y[i] = bias_then_relu(y[i], b, relu);
}

__global__ void bias_relu4_kernel(float4* __restrict__ output, const float* __restrict__ bias, int channels,
                                  std::int64_t plane4, bool relu) {
    const std::int64_t index = blockIdx.x;
    const float b = bias != nullptr ? bias[index % channels] : 0.f;
    float4* y = output + index * plane4;
    for (std::int64_t i = threadIdx.x; i < plane4; i += blockDim.x) {
        float4 v = y[i];
        v.x = bias_then_relu(v.x, b, relu), v.y = bias_then_relu(v.y, b, relu);
        v.z = bias_then_relu(v.z, b, relu), v.w = bias_then_relu(v.w, b, relu);
        y[i] = v;
    }
}

}  // namespace

void add_bias_and_relu(float* output, const float* bias, std::int64_t batch, std::int64_t channels,
                       std::int64_t plane, bool relu, const CudaDevice& device) {
    const std::int64_t planes = batch * channels;
    if (planes <= 0 || plane <= 0) return;
    if (planes > std::numeric_limits<int>::max())
        throw Error("bias and ReLU over " + std::to_string(planes) +
                    " planes: more than one launch can cover");
    const bool aligned = reinterpret_cast<std::uintptr_t>(output) % 16 == 0 && plane % 4 == 0;
    const std::int64_t items = aligned ? plane / 4 : plane;
    // A warp at least, at most 256 threads, about one item each.
    const unsigned threads = static_cast<unsigned>(std::clamp<std::int64_t>((items + 31) / 32 * 32, 32, 256));
    const unsigned blocks = static_cast<unsigned>(planes);
    const int c = static_cast<int>(channels);
    if (aligned) {
        bias_relu4_kernel<<<blocks, threads, 0, device.stream()>>>(reinterpret_cast<float4*>(output), bias, c,
                                                                   items, relu);
        WEFT_CUDA_CHECK_LAUNCH("bias_relu4_kernel");
    } else {
        bias_relu_kernel<<<blocks, threads, 0, device.stream()>>>(output, bias, c, items, relu);
        WEFT_CUDA_CHECK_LAUNCH("bias_relu_kernel");
    }
}

}  // namespace weft::cuda
