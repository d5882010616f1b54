// The CPU backend: host memory and the oneDNN engine and stream every CPU kernel runs on.
// CPU kernel libraries link this library and reach the engine through cpu_device(config.device).
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

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

// Something built for each thread team it runs with: a oneDNN primitive. oneDNN fixes many
// primitives' split of the work when it builds them, from OpenMP's thread count then, and later
// runs that many threads whatever the team has become; a primitive built for two threads beside a
// busy process still waits at each barrier for the preempted one. So each team size gets its own,
// built with OpenMP's count set to it: the device's full team at once, smaller ones the first time
// threads_now() answers them. Workspace is planned once, for the full team's: a smaller team's
// that would need more (`workspace`, when given, says how much each needs) runs the full team's
// instead; none has been seen, since scratchpads grow with the threads.
template <class T>
class PerTeam {
public:
    // `build` makes a T under OpenMP's current thread count (called with it set to each team).
    PerTeam(CpuDevice& device, std::function<T()> build, std::function<std::size_t(const T&)> workspace = {})
        : device_(device),
          build_(std::move(build)),
          workspace_(std::move(workspace)),
          built_(static_cast<std::size_t>(device.threads())) {
        built_.back() = build_for(device.threads());
    }

    // The one for the team of the call starting now (asks the device's threads_now()).
    T& now() {
        const int team = device_.threads_now();
        std::optional<T>& slot = built_[static_cast<std::size_t>(team - 1)];
        if (!slot) {
            T built = build_for(team);
            slot = workspace_ && workspace_(built) > workspace_(most()) ? most() : std::move(built);
        }
        return *slot;
    }
    // The one for the device's full team: what workspace and saved memory are planned for.
    T& most() { return *built_.back(); }
    const T& most() const { return *built_.back(); }

private:
    T build_for(int team);

    CpuDevice& device_;
    std::function<T()> build_;
    std::function<std::size_t(const T&)> workspace_;
    std::vector<std::optional<T>> built_;  // [team - 1]
};

// OpenMP's thread count for this thread, set for a while and put back (PerTeam's builds).
int set_openmp_threads(int threads);

template <class T>
T PerTeam<T>::build_for(int team) {
    const int before = set_openmp_threads(team);
    struct Restore {
        int threads;
        ~Restore() { set_openmp_threads(threads); }
    } restore{before};
    return build_();
}

// The CPU device behind a Device& handed to a kernel; throws weft::Error if it is another backend.
CpuDevice& cpu_device(Device& device);

// Wraps a weft tensor view as oneDNN memory in the plain (row-major) format, no copy.
dnnl::memory as_dnnl_memory(const TensorView& view, dnnl::engine& engine);
dnnl::memory::dims to_dnnl_dims(const Shape& shape);

}  // namespace weft::cpu
