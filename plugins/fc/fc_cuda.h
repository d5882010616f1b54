// The CUDA kernels of fc besides its cuBLAS products, launched on the device's stream (fc_cuda.cu).
#pragma once

#include <cstdint>

#include "weft/cuda/cuda_device.h"

namespace weft::fc {

// y[n, o] = bias[o] for the rows n < rows of a row-major [rows, columns] y.
void fill_rows_with(cuda::CudaDevice& device, const float* bias, float* y, std::int64_t rows, std::int64_t columns);
// sums[o] = Σ_n dy[n, o] over the rows of a row-major [rows, columns] dy, in row order.
void column_sums(cuda::CudaDevice& device, const float* dy, float* sums, std::int64_t rows, std::int64_t columns);

}  // namespace weft::fc
