// A caching allocator for device memory: blocks freed by a compiled graph go to per-size-class
// free lists and serve the next graph of that size without cudaMalloc (which synchronises the
// device and costs milliseconds). Never managed memory: the raw allocation is plain cudaMalloc.
// Pure host bookkeeping over two functions, so it is tested without a GPU.
#pragma once

#include <cstddef>
#include <functional>
#include <map>
#include <mutex>
#include <unordered_map>
#include <vector>

namespace weft::cuda {

class CachingAllocator {
public:
    using RawAllocate = std::function<void*(std::size_t bytes)>;  // throws weft::Error when out of memory
    using RawFree = std::function<void(void* ptr)>;

    CachingAllocator(RawAllocate allocate, RawFree free);
    ~CachingAllocator();  // returns every block, cached or not, to the raw allocator
    CachingAllocator(const CachingAllocator&) = delete;
    CachingAllocator& operator=(const CachingAllocator&) = delete;

    // A block of at least `bytes` (0 gives nullptr). Reuses a cached block of the same size class;
    // otherwise allocates one, and if that fails, releases the cache and tries once more.
    void* allocate(std::size_t bytes);
    // Returns a block from allocate() to the cache. A pointer it did not hand out is ignored
    // (and counted), never freed.
    void deallocate(void* ptr) noexcept;
    // Gives every cached block back to the raw allocator.
    void release_cached() noexcept;

    struct Stats {
        std::size_t in_use_bytes = 0;       // handed out, by size class
        std::size_t cached_bytes = 0;       // on the free lists
        std::size_t peak_in_use_bytes = 0;
        std::size_t raw_allocations = 0;    // calls of the raw allocator
        std::size_t reuses = 0;             // allocations served from the cache
        std::size_t unknown_frees = 0;      // deallocate() of a pointer not handed out
    };
    Stats stats() const;

    // The size class of a request: a multiple of 512 bytes up to 1 MiB, of 2 MiB above, so that
    // the same graph compiled again finds its blocks and rounding wastes little.
    static std::size_t size_class(std::size_t bytes);

private:
    RawAllocate raw_allocate_;
    RawFree raw_free_;
    mutable std::mutex mutex_;
    std::unordered_map<void*, std::size_t> live_;          // block -> its size class
    std::map<std::size_t, std::vector<void*>> free_lists_;  // size class -> cached blocks
    Stats stats_;
};

}  // namespace weft::cuda
