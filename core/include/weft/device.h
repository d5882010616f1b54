// A device: where tensors live and kernels run. Backends (backends/cpu, backends/cuda) implement
// it and register a factory through the plugin interface, so core never links a device runtime.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

namespace weft {

struct DeviceOptions {
    int index = 0;    // which device of the backend (GPUs)
    int threads = 0;  // CPU threads; 0 = the backend's default
    // CPU: run each kernel with only as many of `threads` as other processes leave cores free,
    // measured as it runs (weft/cpu/cpu_device.h, CpuDevice::threads_now). Off, the team is fixed.
    bool adapt_threads = false;
};

class Device {
public:
    virtual ~Device() = default;
    virtual const std::string& backend() const = 0;  // "cpu", "cuda"
    virtual std::string description() const = 0;     // for logs: "cpu (2 threads, avx512_core)"

    // Memory for activations and parameters. 64-byte aligned at least. Never on a hot path:
    // the scheduler allocates its arena once per compiled graph.
    virtual void* allocate(std::size_t bytes) = 0;
    virtual void deallocate(void* ptr) noexcept = 0;

    virtual void copy_from_host(void* dst, const void* src, std::size_t bytes) = 0;
    virtual void copy_to_host(void* dst, const void* src, std::size_t bytes) = 0;
    virtual void fill_zero(void* dst, std::size_t bytes) = 0;
    virtual void synchronize() = 0;

    // The one piece of a training step's arithmetic that belongs to no operator and no
    // optimiser: summing the gradients of a value read by several nodes. The default runs on the
    // host and suits any backend whose memory the CPU can address; GPU backends override it.
    // Optimisers bring their own update kernels per backend (weft/optimizer_kernel.h), so a new
    // optimiser never changes this interface.
    virtual void accumulate(float* dst, const float* src, std::int64_t n);  // dst += src
};

struct BackendFactory {
    std::string name;  // "cpu", "cuda"
    // Empty when usable here; otherwise why not ("no CUDA driver found").
    std::function<std::string()> unavailable_reason;
    std::function<std::unique_ptr<Device>(const DeviceOptions&)> create;
};

}  // namespace weft
