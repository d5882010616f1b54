// Launch geometry for the CUDA kernels of weft's operators, as plain C++ (no CUDA header), so the
// arithmetic is tested on hosts without a GPU. Most activations are NCHW tensors seen as N·C
// planes of H·W contiguous items; a kernel walks them with a 2D grid: threads along x cover the
// items of a plane (coalesced), threads along y cover planes, and both loop with a grid stride,
// so any grid that fits the hardware limits covers every item.
#pragma once

#include <algorithm>
#include <cstdint>

// Arithmetic shared by host code and device code (window ranges, plane indices).
#if defined(__CUDACC__)
#define WEFT_HOST_DEVICE __host__ __device__
#else
#define WEFT_HOST_DEVICE
#endif

namespace weft::cuda {

WEFT_HOST_DEVICE inline std::int64_t ceil_div(std::int64_t a, std::int64_t b) { return (a + b - 1) / b; }

struct PlaneGrid {
    unsigned grid_x = 1, grid_y = 1;
    unsigned block_x = 1, block_y = 1;
};

inline constexpr unsigned kThreadsPerBlock = 256;
inline constexpr std::int64_t kMaxGridY = 65535;  // CUDA's limit on gridDim.y

// The block shape for planes of `items`: x the smallest power of two holding a plane (at most
// 256), y the planes that fill the rest of 256 threads — whole warps either way, so warp-wide
// reductions see 32 active lanes.
inline PlaneGrid plane_block(std::int64_t items) {
    unsigned x = 1;
    while (x < kThreadsPerBlock && static_cast<std::int64_t>(x) < items) x *= 2;
    PlaneGrid g;
    g.block_x = x;
    g.block_y = kThreadsPerBlock / x;
    return g;
}

// A grid over `planes` planes of `items` items each, with at most about eight blocks per
// multiprocessor (the kernels loop for the rest), never an empty dimension.
inline PlaneGrid plane_grid(std::int64_t planes, std::int64_t items, int multiprocessors) {
    PlaneGrid g = plane_block(items);
    const std::int64_t enough = std::max<std::int64_t>(std::int64_t{multiprocessors} * 8, 1);
    const std::int64_t x = std::clamp<std::int64_t>(ceil_div(std::max<std::int64_t>(items, 1), g.block_x), 1, enough);
    const std::int64_t y_wanted = ceil_div(std::max<std::int64_t>(planes, 1), g.block_y);
    const std::int64_t y = std::clamp<std::int64_t>(std::min(y_wanted, ceil_div(enough, x)), 1, kMaxGridY);
    g.grid_x = static_cast<unsigned>(x);
    g.grid_y = static_cast<unsigned>(y);
    return g;
}

}  // namespace weft::cuda
