// Turning CUDA, cuDNN and cuBLAS status codes into weft::Error, with the call that failed and
// where: a failed launch or allocation is one line naming it, never a crash later.
#pragma once

#include <cublas_v2.h>
#include <cuda_runtime.h>
#include <cudnn.h>

#include <string>

#include "weft/error.h"

namespace weft::cuda {

[[noreturn]] void throw_cuda_error(const char* what, const char* file, int line, const std::string& why);

inline void check(cudaError_t status, const char* what, const char* file, int line) {
    if (status != cudaSuccess) throw_cuda_error(what, file, line, cudaGetErrorString(status));
}
inline void check(cudnnStatus_t status, const char* what, const char* file, int line) {
    if (status != CUDNN_STATUS_SUCCESS) throw_cuda_error(what, file, line, cudnnGetErrorString(status));
}
void check(cublasStatus_t status, const char* what, const char* file, int line);

}  // namespace weft::cuda

// WEFT_CUDA_CHECK(cudaMalloc(&p, n)) throws weft::Error("cudaMalloc(&p, n) failed at file:line: out of memory").
#define WEFT_CUDA_CHECK(call) ::weft::cuda::check((call), #call, __FILE__, __LINE__)
// After a kernel launch: the launch's own error (bad configuration), without synchronising.
#define WEFT_CUDA_CHECK_LAUNCH(name) ::weft::cuda::check(cudaGetLastError(), name, __FILE__, __LINE__)
