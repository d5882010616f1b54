// The CPU backend: host memory and the oneDNN engine and stream every CPU kernel runs on.
// CPU kernel libraries link this library and reach the engine through cpu_device(config.device).
#pragma once

#include <functional>
#include <memory>
#include <string>

#include <oneapi/dnnl/dnnl.hpp>

#include "weft/device.h"
#include "weft/tensor.h"

namespace weft::cpu {

class FreeCoreMonitor;

class CpuDevice final : public Device {
public:
    explicit CpuDevice(const DeviceOptions& options);
    ~CpuDevice() override;

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
    // The most threads a parallel region may have: size per-thread scratch by this.
    int threads() const { return threads_; }

    // The threads for the work starting now, at most threads(). A kernel asks once per forward or
    // backward call and runs its parallel regions with that many. With DeviceOptions::adapt_threads
    // it is the cores other processes leave free, measured over the last half second (on a shared
    // machine a team larger than that waits at every barrier for a preempted thread); otherwise
    // always threads(). It also sets OpenMP's team for this thread, so that oneDNN's primitives and
    // plain `omp parallel` loops follow. Call it from the thread that runs the kernels.
    int threads_now();

    // Tests: replaces the measurement behind threads_now() with `team`, asked at every call (its
    // answer is kept within [1, threads()]), to run kernels at a team that changes between calls.
    void set_team_source(std::function<int()> team);

    // How many times threads_now() has changed the team (for logs and tests).
    long team_changes() const { return team_changes_; }

private:
    dnnl::engine engine_;
    dnnl::stream stream_;
    int threads_;
    int team_;
    long team_changes_ = 0;
    std::unique_ptr<FreeCoreMonitor> monitor_;  // null unless adapting
    std::function<int()> team_source_;
};

// The CPU device behind a Device& handed to a kernel; throws weft::Error if it is another backend.
CpuDevice& cpu_device(Device& device);

// Wraps a weft tensor view as oneDNN memory in the plain (row-major) format, no copy.
dnnl::memory as_dnnl_memory(const TensorView& view, dnnl::engine& engine);
dnnl::memory::dims to_dnnl_dims(const Shape& shape);

}  // namespace weft::cpu
