#include "weft/cuda/caching_allocator.h"

#include <algorithm>
#include <utility>

namespace weft::cuda {

CachingAllocator::CachingAllocator(RawAllocate allocate, RawFree free)
    : raw_allocate_(std::move(allocate)), raw_free_(std::move(free)) {}

CachingAllocator::~CachingAllocator() {
    release_cached();
    for (const auto& [ptr, size] : live_) raw_free_(ptr);
}

std::size_t CachingAllocator::size_class(std::size_t bytes) {
    constexpr std::size_t small = 512, large = std::size_t{2} << 20, boundary = std::size_t{1} << 20;
    const std::size_t step = bytes <= boundary ? small : large;
    return (bytes + step - 1) / step * step;
}

void* CachingAllocator::allocate(std::size_t bytes) {
    if (bytes == 0) return nullptr;
    const std::size_t size = size_class(bytes);
    std::lock_guard lock(mutex_);
    void* ptr = nullptr;
    if (auto it = free_lists_.find(size); it != free_lists_.end() && !it->second.empty()) {
        ptr = it->second.back();
        it->second.pop_back();
        stats_.cached_bytes -= size;
        ++stats_.reuses;
    } else {
        try {
            ptr = raw_allocate_(size);
        } catch (...) {
            // Out of memory with blocks sitting in the cache: give them back and try once more.
            if (stats_.cached_bytes == 0) throw;
            for (auto& [cached_size, blocks] : free_lists_)
                for (void* block : blocks) raw_free_(block);
            free_lists_.clear();
            stats_.cached_bytes = 0;
            ptr = raw_allocate_(size);
        }
        ++stats_.raw_allocations;
    }
    live_.emplace(ptr, size);
    stats_.in_use_bytes += size;
    stats_.peak_in_use_bytes = std::max(stats_.peak_in_use_bytes, stats_.in_use_bytes);
    return ptr;
}

void CachingAllocator::deallocate(void* ptr) noexcept {
    if (!ptr) return;
    std::lock_guard lock(mutex_);
    const auto it = live_.find(ptr);
    if (it == live_.end()) {
        ++stats_.unknown_frees;
        return;
    }
    const std::size_t size = it->second;
    live_.erase(it);
    stats_.in_use_bytes -= size;
    try {
        free_lists_[size].push_back(ptr);
        stats_.cached_bytes += size;
    } catch (...) {
        raw_free_(ptr);  // no room to remember it: give it back rather than lose it
    }
}

void CachingAllocator::release_cached() noexcept {
    std::lock_guard lock(mutex_);
    for (auto& [size, blocks] : free_lists_)
        for (void* block : blocks) raw_free_(block);
    free_lists_.clear();
    stats_.cached_bytes = 0;
}

CachingAllocator::Stats CachingAllocator::stats() const {
    std::lock_guard lock(mutex_);
    return stats_;
}

}  // namespace weft::cuda
