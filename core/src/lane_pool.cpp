#include "lane_pool.h"

namespace weft::detail {

LanePool::LanePool(int lanes) {
    threads_.reserve(static_cast<std::size_t>(lanes));
    for (int lane = 0; lane < lanes; ++lane) threads_.emplace_back([this, lane] { work(lane); });
}

LanePool::~LanePool() {
    {
        const std::lock_guard lock(mutex_);
        stopping_ = true;
    }
    start_.notify_all();
    for (std::thread& t : threads_) t.join();
}

void LanePool::run(const std::function<void(int)>& job) {
    std::unique_lock lock(mutex_);
    job_ = &job;
    error_ = nullptr;
    running_ = lanes();
    ++generation_;
    start_.notify_all();
    done_.wait(lock, [&] { return running_ == 0; });
    job_ = nullptr;
    if (error_) std::rethrow_exception(std::exchange(error_, nullptr));
}

void LanePool::work(int lane) {
    std::uint64_t seen = 0;
    std::unique_lock lock(mutex_);
    for (;;) {
        start_.wait(lock, [&] { return stopping_ || generation_ != seen; });
        if (stopping_) return;
        seen = generation_;
        const std::function<void(int)>& job = *job_;
        lock.unlock();
        std::exception_ptr error;
        try {
            job(lane);
        } catch (...) {
            error = std::current_exception();
        }
        lock.lock();
        if (error && !error_) error_ = error;
        if (--running_ == 0) done_.notify_one();
    }
}

}  // namespace weft::detail
