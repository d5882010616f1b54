// A device: where tensors live and kernels run. Backends (backends/cpu, backends/cuda) implement
// it and register a factory through the plugin interface, so core never links a device runtime.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

namespace weft {

// One SGD step for one tensor, PyTorch's formulation (the cross-check relies on it):
//   d = grad + weight_decay·w;  v = momentum·v + d;  w -= lr·(nesterov ? d + momentum·v : v)
struct SgdHyperparameters {
    float lr = 0.1f;
    float momentum = 0.9f;
    float weight_decay = 0.f;
    bool nesterov = true;
};

struct DeviceOptions {
    int index = 0;    // which device of the backend (GPUs)
    int threads = 0;  // CPU threads; 0 = the backend's default
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

    // The arithmetic of a training step that belongs to no operator: summing the gradients of a
    // value read by several nodes, and the optimiser's update. The defaults run on the host and
    // suit any backend whose memory the CPU can address; GPU backends override them.
    virtual void accumulate(float* dst, const float* src, std::int64_t n);  // dst += src
    virtual void sgd_update(float* weight, float* velocity, const float* grad, std::int64_t n,
                            const SgdHyperparameters& h);
};

struct BackendFactory {
    std::string name;  // "cpu", "cuda"
    // Empty when usable here; otherwise why not ("no CUDA driver found").
    std::function<std::string()> unavailable_reason;
    std::function<std::unique_ptr<Device>(const DeviceOptions&)> create;
};

}  // namespace weft
