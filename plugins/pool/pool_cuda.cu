// The CUDA kernels of pool. Forward: one thread per output item walks its window (clipped to the
// input, so padding is never data). Backward is a gather, one thread per input item summing the
// gradients of the windows that hold it (pool_windows.h): no atomics, no zeroing pass, and the
// same sum on every run, overlapping windows included. Global average: a warp per plane.
#include "pool_cuda.h"
#include "weft/cuda/cuda_check.h"
#include "weft/cuda/device_helpers.cuh"

namespace weft::pool {
namespace {

// Ranges along depth, height and width.
struct Box {
    Span d, h, w;
    __device__ std::int64_t size() const { return d.size() * h.size() * w.size(); }
};

// Item i of a plane of extents (depth, height, width), row-major.
struct Position {
    std::int64_t d, h, w;
};
__device__ inline Position position_of(std::int64_t i, std::int64_t height, std::int64_t width) {
    return Position{i / (height * width), i / width % height, i % width};
}

// The input items of output item o's window, padding excluded.
__device__ inline Box window_of(const Planes& p, std::int64_t o) {
    const Position at = position_of(o, p.axis[1].out, p.axis[2].out);
    return Box{window_items(p.axis[0], at.d), window_items(p.axis[1], at.h), window_items(p.axis[2], at.w)};
}

// The output items whose windows hold input item i.
__device__ inline Box windows_holding_item(const Planes& p, std::int64_t i) {
    const Position at = position_of(i, p.axis[1].in, p.axis[2].in);
    return Box{windows_holding(p.axis[0], at.d), windows_holding(p.axis[1], at.h), windows_holding(p.axis[2], at.w)};
}

__device__ inline std::int64_t input_item(const Planes& p, std::int64_t d, std::int64_t h, std::int64_t w) {
    return (d * p.axis[1].in + h) * p.axis[2].in + w;
}

__device__ inline std::int64_t output_item(const Planes& p, std::int64_t d, std::int64_t h, std::int64_t w) {
    return (d * p.axis[1].out + h) * p.axis[2].out + w;
}

// The first maximum of each window in (d, h, w) order, as the cpu's pooling takes it.
__global__ void max_kernel(const float* __restrict__ x, float* __restrict__ y, std::int32_t* __restrict__ argmax,
                           Planes p) {
    const std::int64_t in_items = p.in_items(), out_items = p.out_items();
    for (std::int64_t plane = cuda::first_plane(); plane < p.planes; plane += cuda::plane_stride()) {
        const float* in = x + plane * in_items;
        for (std::int64_t o = cuda::first_item(); o < out_items; o += cuda::item_stride()) {
            const Box window = window_of(p, o);
            std::int64_t best_item = input_item(p, window.d.first, window.h.first, window.w.first);
            float best = in[best_item];
            for (std::int64_t d = window.d.first; d < window.d.last; ++d)
                for (std::int64_t h = window.h.first; h < window.h.last; ++h)
                    for (std::int64_t w = window.w.first; w < window.w.last; ++w) {
                        const std::int64_t item = input_item(p, d, h, w);
                        if (in[item] > best) {
                            best = in[item];
                            best_item = item;
                        }
                    }
            y[plane * out_items + o] = best;
            if (argmax) argmax[plane * out_items + o] = static_cast<std::int32_t>(best_item);
        }
    }
}

__global__ void avg_kernel(const float* __restrict__ x, float* __restrict__ y, Planes p) {
    const std::int64_t in_items = p.in_items(), out_items = p.out_items();
    for (std::int64_t plane = cuda::first_plane(); plane < p.planes; plane += cuda::plane_stride()) {
        const float* in = x + plane * in_items;
        for (std::int64_t o = cuda::first_item(); o < out_items; o += cuda::item_stride()) {
            const Box window = window_of(p, o);
            float sum = 0.f;
            for (std::int64_t d = window.d.first; d < window.d.last; ++d)
                for (std::int64_t h = window.h.first; h < window.h.last; ++h)
                    for (std::int64_t w = window.w.first; w < window.w.last; ++w) sum += in[input_item(p, d, h, w)];
            y[plane * out_items + o] = sum / static_cast<float>(window.size());
        }
    }
}

// One thread per input item: the gradients of the windows holding it, those of max pooling only
// where its maximum came from this item, those of average pooling shared by the window's items.
template <bool Max>
__global__ void gather_gradients_kernel(const std::int32_t* __restrict__ argmax, const float* __restrict__ dy,
                                        float* __restrict__ dx, Planes p) {
    const std::int64_t in_items = p.in_items(), out_items = p.out_items();
    for (std::int64_t plane = cuda::first_plane(); plane < p.planes; plane += cuda::plane_stride()) {
        const float* grad = dy + plane * out_items;
        const std::int32_t* from = Max ? argmax + plane * out_items : nullptr;
        for (std::int64_t i = cuda::first_item(); i < in_items; i += cuda::item_stride()) {
            const Box holding = windows_holding_item(p, i);
            float sum = 0.f;
            for (std::int64_t d = holding.d.first; d < holding.d.last; ++d)
                for (std::int64_t h = holding.h.first; h < holding.h.last; ++h)
                    for (std::int64_t w = holding.w.first; w < holding.w.last; ++w) {
                        const std::int64_t o = output_item(p, d, h, w);
                        if (Max) {
                            if (from[o] == i) sum += grad[o];
                        } else {
                            sum += grad[o] / static_cast<float>(window_of(p, o).size());
                        }
                    }
            dx[plane * in_items + i] = sum;
        }
    }
}

// A warp per plane: its lanes stride over the plane, then one warp sum.
__global__ void plane_mean_kernel(const float* __restrict__ x, float* __restrict__ y, std::int64_t planes,
                                  std::int64_t items) {
    const unsigned lane = cuda::lane();
    for (std::int64_t plane = cuda::first_warp(); plane < planes; plane += cuda::warp_stride()) {
        float sum = 0.f;
        for (std::int64_t i = lane; i < items; i += 32) sum += x[plane * items + i];
        sum = cuda::warp_sum(sum);
        if (lane == 0) y[plane] = sum / static_cast<float>(items);
    }
}

__global__ void spread_plane_gradient_kernel(const float* __restrict__ dy, float* __restrict__ dx, std::int64_t planes,
                                             std::int64_t items) {
    for (std::int64_t plane = cuda::first_plane(); plane < planes; plane += cuda::plane_stride()) {
        const float share = dy[plane] / static_cast<float>(items);
        for (std::int64_t i = cuda::first_item(); i < items; i += cuda::item_stride()) dx[plane * items + i] = share;
    }
}

}  // namespace

void max_forward(cuda::CudaDevice& device, const Planes& p, const float* x, float* y, std::int32_t* argmax) {
    const cuda::PlaneGrid g = cuda::plane_grid(p.planes, p.out_items(), device);
    max_kernel<<<cuda::grid_of(g), cuda::block_of(g), 0, device.stream()>>>(x, y, argmax, p);
    WEFT_CUDA_CHECK_LAUNCH("pool max_kernel");
}

void max_backward(cuda::CudaDevice& device, const Planes& p, const std::int32_t* argmax, const float* dy, float* dx) {
    const cuda::PlaneGrid g = cuda::plane_grid(p.planes, p.in_items(), device);
    gather_gradients_kernel<true><<<cuda::grid_of(g), cuda::block_of(g), 0, device.stream()>>>(argmax, dy, dx, p);
    WEFT_CUDA_CHECK_LAUNCH("pool gather_gradients_kernel<max>");
}

void avg_forward(cuda::CudaDevice& device, const Planes& p, const float* x, float* y) {
    const cuda::PlaneGrid g = cuda::plane_grid(p.planes, p.out_items(), device);
    avg_kernel<<<cuda::grid_of(g), cuda::block_of(g), 0, device.stream()>>>(x, y, p);
    WEFT_CUDA_CHECK_LAUNCH("pool avg_kernel");
}

void avg_backward(cuda::CudaDevice& device, const Planes& p, const float* dy, float* dx) {
    const cuda::PlaneGrid g = cuda::plane_grid(p.planes, p.in_items(), device);
    gather_gradients_kernel<false><<<cuda::grid_of(g), cuda::block_of(g), 0, device.stream()>>>(nullptr, dy, dx, p);
    WEFT_CUDA_CHECK_LAUNCH("pool gather_gradients_kernel<avg>");
}

void global_avg_forward(cuda::CudaDevice& device, std::int64_t planes, std::int64_t items, const float* x, float* y) {
    const cuda::LaunchShape shape = cuda::warp_rows_launch(planes, device);
    plane_mean_kernel<<<shape.blocks, shape.threads, 0, device.stream()>>>(x, y, planes, items);
    WEFT_CUDA_CHECK_LAUNCH("pool plane_mean_kernel");
}

void global_avg_backward(cuda::CudaDevice& device, std::int64_t planes, std::int64_t items, const float* dy, float* dx) {
    const cuda::PlaneGrid g = cuda::plane_grid(planes, items, device);
    spread_plane_gradient_kernel<<<cuda::grid_of(g), cuda::block_of(g), 0, device.stream()>>>(dy, dx, planes, items);
    WEFT_CUDA_CHECK_LAUNCH("pool spread_plane_gradient_kernel");
}

}  // namespace weft::pool
