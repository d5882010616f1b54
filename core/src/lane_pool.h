// A fixed set of threads that run one job together, each knowing its lane number: the executor's
// sample-parallel inference (CompileOptions::samples_per_slice) runs every lane's slices here.
// The caller only waits: a lane's kernels set the OpenMP team size of the thread they run on, and
// the caller's thread must keep the team its own executors were built for.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <exception>
#include <functional>
#include <mutex>
#include <thread>
#include <utility>
#include <vector>

namespace weft::detail {

class LanePool {
public:
    explicit LanePool(int lanes);
    ~LanePool();
    LanePool(const LanePool&) = delete;
    LanePool& operator=(const LanePool&) = delete;

    int lanes() const { return static_cast<int>(threads_.size()); }
    // Runs job(lane) once on every lane and returns when all have finished; the first exception
    // a lane threw is rethrown here (the others still finish their call first).
    void run(const std::function<void(int lane)>& job);

private:
    void work(int lane);

    std::mutex mutex_;
    std::condition_variable start_, done_;
    const std::function<void(int)>* job_ = nullptr;
    std::uint64_t generation_ = 0;  // one more per run(): how a waiting lane knows a job came
    int running_ = 0;
    bool stopping_ = false;
    std::exception_ptr error_;
    std::vector<std::thread> threads_;
};

}  // namespace weft::detail
