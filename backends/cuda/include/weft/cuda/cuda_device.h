// The CUDA backend: one GPU (`--device cuda[:N]`), one stream all kernels of a compiled graph
// run on in order, cuDNN and cuBLAS handles bound to that stream, a caching allocator over plain
// cudaMalloc (one per GPU, shared by every device object of the process), and pinned host
// buffers through which graph inputs and outputs cross (the only copies between host and
// device: everything else stays on the GPU). CUDA kernel libraries link this library and reach
// the device through cuda_device(config.device).
#pragma once

#include <cublas_v2.h>
#include <cuda_runtime.h>
#include <cudnn.h>

#include <cstddef>
#include <functional>
#include <memory>
#include <string>
#include <utility>

#include "weft/cuda/caching_allocator.h"
#include "weft/device.h"
#include "weft/kernel.h"

namespace weft::cuda {

// Why the cuda device cannot be used here ("no CUDA driver", "no CUDA device", "device 3 does
// not exist: this machine has 1"), or empty. `index` < 0 asks about any device.
std::string unavailable_reason(int index = -1);

class CudaDevice final : public Device {
public:
    // Selects GPU `options.index`, creates the stream and the pinned staging buffers; throws
    // weft::Error with unavailable_reason() when there is no such device.
    explicit CudaDevice(const DeviceOptions& options);
    ~CudaDevice() override;

    const std::string& backend() const override;
    std::string description() const override;  // "cuda:0 (NVIDIA H100 80GB HBM3, sm_90, 79.1 GiB, cuDNN 9.19.0)"
    void* allocate(std::size_t bytes) override;
    void deallocate(void* ptr) noexcept override;
    void copy_from_host(void* dst, const void* src, std::size_t bytes) override;
    void copy_to_host(void* dst, const void* src, std::size_t bytes) override;
    void fill_zero(void* dst, std::size_t bytes) override;
    void synchronize() override;
    void accumulate(float* dst, const float* src, std::int64_t n) override;

    int index() const;
    cudaStream_t stream() const;
    const cudaDeviceProp& properties() const;
    // Created on first use (an inference graph without convolutions never loads cuDNN's engines),
    // bound to stream().
    cudnnHandle_t cudnn();
    cublasHandle_t cublas();
    // Of this GPU's allocator, which every device object for the GPU shares.
    CachingAllocator::Stats allocator_stats() const;

private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

// The CUDA device behind a Device& handed to a kernel; throws weft::Error if it is another backend.
CudaDevice& cuda_device(Device& device);

// One-line registration of a CUDA kernel: kernel_factory<K> for the "cuda" backend, unavailable
// (with the reason `weft plugins` shows) wherever the cuda device is.
template <class K>
KernelFactory cuda_kernel_factory(std::string op, std::string name, int priority = 0,
                                  std::function<std::string(const KernelConfig&)> declines = {}) {
    KernelFactory factory = kernel_factory<K>(std::move(op), "cuda", std::move(name), priority, std::move(declines));
    factory.unavailable_reason = [] { return unavailable_reason(); };
    return factory;
}

// Launch geometry for an elementwise kernel over n items: blocks of 256 threads, at most enough
// blocks to fill the GPU several times over (the kernels loop with a grid stride).
struct LaunchShape {
    unsigned blocks = 1;
    unsigned threads = 256;
};
LaunchShape elementwise_launch(std::int64_t n, const CudaDevice& device);

}  // namespace weft::cuda
