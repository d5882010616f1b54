// The CUDA kernels of softmax: a warp per row, its lanes striding along the row (consecutive
// lanes, consecutive classes: coalesced when the axis is the last one, as for [N, K] and
// [N, K, 1, 1]). The maximum is subtracted before exponentiating, so no logit overflows exp;
// backward's dot product is summed in double, as on the cpu.
#include "softmax_cuda.h"
#include "weft/cuda/cuda_check.h"
#include "weft/cuda/device_helpers.cuh"

namespace weft::softmax {
namespace {

// Where row r's first item lies; its items follow every `inner` floats.
__device__ inline std::int64_t row_start(const Rows& rows, std::int64_t r) {
    const std::int64_t o = r / rows.inner;
    return o * rows.length * rows.inner + (r - o * rows.inner);
}

__global__ void softmax_kernel(const float* __restrict__ x, float* __restrict__ y, Rows rows) {
    const std::int64_t count = rows.outer * rows.inner, step = rows.inner;
    for (std::int64_t r = cuda::first_warp(); r < count; r += cuda::warp_stride()) {
        const float* in = x + row_start(rows, r);
        float* out = y + row_start(rows, r);
        float top = -INFINITY;
        for (std::int64_t k = cuda::lane(); k < rows.length; k += 32) top = fmaxf(top, in[k * step]);
        top = cuda::warp_max(top);
        float sum = 0.f;
        for (std::int64_t k = cuda::lane(); k < rows.length; k += 32) sum += expf(in[k * step] - top);
        const float inverse = 1.f / cuda::warp_sum(sum);
        for (std::int64_t k = cuda::lane(); k < rows.length; k += 32) out[k * step] = expf(in[k * step] - top) * inverse;
    }
}

__global__ void softmax_backward_kernel(const float* __restrict__ y, const float* __restrict__ dy,
                                        float* __restrict__ dx, Rows rows) {
    const std::int64_t count = rows.outer * rows.inner, step = rows.inner;
    for (std::int64_t r = cuda::first_warp(); r < count; r += cuda::warp_stride()) {
        const std::int64_t start = row_start(rows, r);
        double dot = 0.0;
        for (std::int64_t k = cuda::lane(); k < rows.length; k += 32)
            dot += static_cast<double>(dy[start + k * step]) * y[start + k * step];
        dot = cuda::warp_sum(dot);
        for (std::int64_t k = cuda::lane(); k < rows.length; k += 32) {
            const std::int64_t at = start + k * step;
            dx[at] = y[at] * static_cast<float>(dy[at] - dot);
        }
    }
}

}  // namespace

void softmax_forward(cuda::CudaDevice& device, const Rows& rows, const float* x, float* y) {
    const cuda::LaunchShape shape = cuda::warp_rows_launch(rows.outer * rows.inner, device);
    softmax_kernel<<<shape.blocks, shape.threads, 0, device.stream()>>>(x, y, rows);
    WEFT_CUDA_CHECK_LAUNCH("softmax softmax_kernel");
}

void softmax_backward(cuda::CudaDevice& device, const Rows& rows, const float* y, const float* dy, float* dx) {
    const cuda::LaunchShape shape = cuda::warp_rows_launch(rows.outer * rows.inner, device);
    softmax_backward_kernel<<<shape.blocks, shape.threads, 0, device.stream()>>>(y, dy, dx, rows);
    WEFT_CUDA_CHECK_LAUNCH("softmax softmax_backward_kernel");
}

}  // namespace weft::softmax
