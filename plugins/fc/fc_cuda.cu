// The CUDA kernels of fc besides its cuBLAS products: the bias broadcast that the forward GEMM
// then accumulates onto, and the bias gradient as column sums (a thread per column, reading rows
// in order: coalesced across the threads, the same sum on every run).
#include "fc_cuda.h"
#include "weft/cuda/cuda_check.h"
#include "weft/cuda/device_helpers.cuh"

namespace weft::fc {
namespace {

__global__ void fill_rows_kernel(const float* __restrict__ bias, float* __restrict__ y, std::int64_t rows,
                                 std::int64_t columns) {
    for (std::int64_t row = cuda::first_plane(); row < rows; row += cuda::plane_stride())
        for (std::int64_t o = cuda::first_item(); o < columns; o += cuda::item_stride()) y[row * columns + o] = bias[o];
}

__global__ void column_sums_kernel(const float* __restrict__ dy, float* __restrict__ sums, std::int64_t rows,
                                   std::int64_t columns) {
    for (std::int64_t o = cuda::first_index(); o < columns; o += cuda::index_stride()) {
        float sum = 0.f;
        for (std::int64_t row = 0; row < rows; ++row) sum += dy[row * columns + o];
        sums[o] = sum;
    }
}

}  // namespace

void fill_rows_with(cuda::CudaDevice& device, const float* bias, float* y, std::int64_t rows, std::int64_t columns) {
    const cuda::PlaneGrid g = cuda::plane_grid(rows, columns, device);
    fill_rows_kernel<<<cuda::grid_of(g), cuda::block_of(g), 0, device.stream()>>>(bias, y, rows, columns);
    WEFT_CUDA_CHECK_LAUNCH("fc fill_rows_kernel");
}

void column_sums(cuda::CudaDevice& device, const float* dy, float* sums, std::int64_t rows, std::int64_t columns) {
    const cuda::LaunchShape shape = cuda::elementwise_launch(columns, device);
    column_sums_kernel<<<shape.blocks, shape.threads, 0, device.stream()>>>(dy, sums, rows, columns);
    WEFT_CUDA_CHECK_LAUNCH("fc column_sums_kernel");
}

}  // namespace weft::fc
