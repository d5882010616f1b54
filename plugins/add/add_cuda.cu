// The CUDA kernel of add: one pass reading up to kMaxSummands inputs per element and writing the
// sum, with float4 loads and stores where every pointer is 16-byte aligned and a scalar pass over
// the remainder. More inputs take further passes that add the next ones onto the output, so the
// order of the sum is always x0 + x1 + x2 + … as on the cpu. Each element is read before it is
// written, so the output may be input 0.
#include <algorithm>

#include "add_cuda.h"
#include "weft/cuda/cuda_check.h"
#include "weft/cuda/device_helpers.cuh"

namespace weft::add {
namespace {

constexpr int kMaxSummands = 8;

// Passed by value: the kernel's parameters hold the pointers.
struct Summands {
    const float* input[kMaxSummands];
    int count;
};

__device__ inline float plus(float a, float b) { return a + b; }
__device__ inline float4 plus(float4 a, float4 b) { return make_float4(a.x + b.x, a.y + b.y, a.z + b.z, a.w + b.w); }

// T is float or float4; n counts T.
template <class T>
__global__ void sum_kernel(T* out, Summands summands, std::int64_t n) {
    for (std::int64_t i = cuda::first_index(); i < n; i += cuda::index_stride()) {
        T sum = reinterpret_cast<const T*>(summands.input[0])[i];
        for (int k = 1; k < summands.count; ++k) sum = plus(sum, reinterpret_cast<const T*>(summands.input[k])[i]);
        out[i] = sum;
    }
}

Summands offset_by(Summands summands, std::int64_t elements) {
    for (int k = 0; k < summands.count; ++k) summands.input[k] += elements;
    return summands;
}

void launch_sum(cuda::CudaDevice& device, const Summands& summands, float* out, std::int64_t n) {
    bool aligned = cuda::aligned16(out);
    for (int k = 0; k < summands.count; ++k) aligned = aligned && cuda::aligned16(summands.input[k]);
    const std::int64_t n4 = aligned ? n / 4 : 0;
    if (n4 > 0) {
        const cuda::LaunchShape shape = cuda::elementwise_launch(n4, device);
        sum_kernel<<<shape.blocks, shape.threads, 0, device.stream()>>>(reinterpret_cast<float4*>(out), summands, n4);
        WEFT_CUDA_CHECK_LAUNCH("add sum_kernel<float4>");
    }
    if (const std::int64_t rest = n - 4 * n4; rest > 0) {
        const cuda::LaunchShape shape = cuda::elementwise_launch(rest, device);
        sum_kernel<<<shape.blocks, shape.threads, 0, device.stream()>>>(out + 4 * n4, offset_by(summands, 4 * n4), rest);
        WEFT_CUDA_CHECK_LAUNCH("add sum_kernel<float>");
    }
}

}  // namespace

void add_forward(cuda::CudaDevice& device, std::span<const float* const> inputs, float* out, std::int64_t n) {
    // The first pass sums inputs 0..7 into out; each later one adds up to seven more onto it.
    std::size_t next = 0;
    while (next < inputs.size()) {
        Summands summands{};
        if (next > 0) summands.input[summands.count++] = out;
        while (summands.count < kMaxSummands && next < inputs.size()) summands.input[summands.count++] = inputs[next++];
        launch_sum(device, summands, out, n);
    }
}

}  // namespace weft::add
