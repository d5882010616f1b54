// Device-side helpers shared by the CUDA kernels of weft's operators (.cu files only): grid-stride
// loops over flat ranges, over the planes of weft/cuda/launch_geometry.h and a warp per row, the
// 16-byte alignment test that float4 paths need, and warp and block reductions. Device code, so
// not among the installed plugin headers (each of those compiles with a plain C++ compiler).
#pragma once

#include <cuda_runtime.h>

#include <cstdint>

#include "weft/cuda/cuda_device.h"
#include "weft/cuda/launch_geometry.h"

namespace weft::cuda {

// Whether every pointer allows float4 (16-byte) loads and stores.
template <class... T>
inline bool aligned16(const T*... pointers) {
    return ((reinterpret_cast<std::uintptr_t>(pointers) % 16 == 0) && ...);
}

inline dim3 grid_of(const PlaneGrid& g) { return dim3(g.grid_x, g.grid_y); }
inline dim3 block_of(const PlaneGrid& g) { return dim3(g.block_x, g.block_y); }
inline PlaneGrid plane_grid(std::int64_t planes, std::int64_t items, const CudaDevice& device) {
    return plane_grid(planes, items, device.properties().multiProcessorCount);
}

// A 1D grid-stride loop: for (i = first_index(); i < n; i += index_stride()).
__device__ inline std::int64_t first_index() {
    return static_cast<std::int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
}
__device__ inline std::int64_t index_stride() { return static_cast<std::int64_t>(gridDim.x) * blockDim.x; }

// The 2D loop of a plane_grid launch: planes along y, the items of a plane along x.
__device__ inline std::int64_t first_plane() {
    return static_cast<std::int64_t>(blockIdx.y) * blockDim.y + threadIdx.y;
}
__device__ inline std::int64_t plane_stride() { return static_cast<std::int64_t>(gridDim.y) * blockDim.y; }
__device__ inline std::int64_t first_item() { return first_index(); }
__device__ inline std::int64_t item_stride() { return index_stride(); }

// A warp per row, over 1D blocks of whole warps (warp_rows_launch):
// for (row = first_warp(); row < rows; row += warp_stride()), lanes 0..31 sharing each trip, so
// warp reductions inside the loop see all 32 lanes.
__device__ inline std::int64_t first_warp() { return first_index() / 32; }
__device__ inline std::int64_t warp_stride() { return index_stride() / 32; }
__device__ inline unsigned lane() { return threadIdx.x % 32; }
inline LaunchShape warp_rows_launch(std::int64_t rows, const CudaDevice& device) {
    return elementwise_launch(rows * 32, device);  // blocks of 256 threads: whole warps
}

// The thread's place in its block, counting x fastest (how the hardware forms warps).
__device__ inline unsigned linear_thread() {
    return threadIdx.x + blockDim.x * (threadIdx.y + blockDim.y * threadIdx.z);
}
__device__ inline unsigned block_threads() { return blockDim.x * blockDim.y * blockDim.z; }

// Sum and maximum over the 32 lanes of a full warp; every lane gets the result.
template <class T>
__device__ T warp_sum(T value) {
    for (int offset = 16; offset > 0; offset /= 2) value += __shfl_xor_sync(0xffffffffu, value, offset);
    return value;
}
template <class T>
__device__ T warp_max(T value) {
    for (int offset = 16; offset > 0; offset /= 2) {
        const T other = __shfl_xor_sync(0xffffffffu, value, offset);
        value = other > value ? other : value;
    }
    return value;
}

// Sum over a whole block of whole warps (at most 1024 threads), in a fixed order, so the result
// is the same on every run; valid in thread 0. Every thread of the block must call it.
template <class T>
__device__ T block_sum(T value) {
    __shared__ T warp_sums[32];
    value = warp_sum(value);
    const unsigned lane = linear_thread() % 32, warp = linear_thread() / 32;
    __syncthreads();  // a previous block_sum may still be reading warp_sums
    if (lane == 0) warp_sums[warp] = value;
    __syncthreads();
    if (warp == 0) {
        value = lane < block_threads() / 32 ? warp_sums[lane] : T{};
        value = warp_sum(value);
    }
    return value;
}

}  // namespace weft::cuda
