// The CPU backend: host memory and the oneDNN engine and stream every CPU kernel runs on.
// CPU kernel libraries link this library and reach the engine through cpu_device(config.device).
#pragma once

#include <string>

#include <oneapi/dnnl/dnnl.hpp>

#include "weft/device.h"
#include "weft/tensor.h"

namespace weft::cpu {

class CpuDevice final : public Device {
public:
    explicit CpuDevice(const DeviceOptions& options);

    const std::string& backend() const override;
    std::string description() const override;
    void* allocate(std::size_t bytes) override;
    void deallocate(void* ptr) noexcept override;
    void copy_from_host(void* dst, const void* src, std::size_t bytes) override;
    void copy_to_host(void* dst, const void* src, std::size_t bytes) override;
    void fill_zero(void* dst, std::size_t bytes) override;
    void synchronize() override;

    dnnl::engine& engine() { return engine_; }
    dnnl::stream& stream() { return stream_; }
    int threads() const { return threads_; }

private:
    dnnl::engine engine_;
    dnnl::stream stream_;
    int threads_;
};

// The CPU device behind a Device& handed to a kernel; throws weft::Error if it is another backend.
CpuDevice& cpu_device(Device& device);

// Wraps a weft tensor view as oneDNN memory in the plain (row-major) format, no copy.
dnnl::memory as_dnnl_memory(const TensorView& view, dnnl::engine& engine);
dnnl::memory::dims to_dnnl_dims(const Shape& shape);

}  // namespace weft::cpu
