// The caching allocator's bookkeeping, over a fake raw allocator that hands out addresses it
// never dereferences: size classes, reuse, the peak, the retry after an out-of-memory, unknown
// frees, and that every block goes back at destruction. No GPU involved.
#include <cstdint>
#include <map>

#include <gtest/gtest.h>

#include "op_harness.h"
#include "weft/cuda/caching_allocator.h"
#include "weft/error.h"

using weft::cuda::CachingAllocator;

namespace {

constexpr std::size_t KiB = 1024, MiB = 1024 * KiB;

// Device memory as the allocator sees it: distinct addresses, a capacity beyond which a request
// fails as cudaMalloc would (weft::Error), and an account of what is outstanding.
struct FakeDeviceMemory {
    std::size_t capacity = 64 * MiB;
    std::map<void*, std::size_t> live;
    std::size_t in_use = 0, allocations = 0, frees = 0, failures = 0;
    std::uintptr_t next = 0x100000;

    CachingAllocator allocator() {
        return CachingAllocator([this](std::size_t bytes) { return allocate(bytes); },
                                [this](void* ptr) { free(ptr); });
    }
    void* allocate(std::size_t bytes) {
        if (in_use + bytes > capacity) {
            ++failures;
            throw weft::Error("fake cudaMalloc: out of memory");
        }
        void* ptr = reinterpret_cast<void*>(next);
        next += bytes + 4096;
        live.emplace(ptr, bytes);
        in_use += bytes;
        ++allocations;
        return ptr;
    }
    void free(void* ptr) {
        const auto it = live.find(ptr);
        ASSERT_NE(it, live.end()) << "freed a block the fake never handed out";
        in_use -= it->second;
        live.erase(it);
        ++frees;
    }
};

}  // namespace

TEST(CachingAllocator, SizeClassesAreHalfKibibytesUpToOneMebibyteAndTwoMebibytesAbove) {
    EXPECT_EQ(CachingAllocator::size_class(1), 512u);
    EXPECT_EQ(CachingAllocator::size_class(512), 512u);
    EXPECT_EQ(CachingAllocator::size_class(513), 1024u);
    EXPECT_EQ(CachingAllocator::size_class(1 * MiB - 1), 1 * MiB);
    EXPECT_EQ(CachingAllocator::size_class(1 * MiB), 1 * MiB);
    EXPECT_EQ(CachingAllocator::size_class(1 * MiB + 1), 2 * MiB);
    EXPECT_EQ(CachingAllocator::size_class(5 * MiB), 6 * MiB);
}

TEST(CachingAllocator, AFreedBlockServesTheNextRequestOfItsSizeClassWithoutTheRawAllocator) {
    FakeDeviceMemory memory;
    CachingAllocator allocator = memory.allocator();
    void* first = allocator.allocate(1000);  // class 1024
    allocator.deallocate(first);
    EXPECT_EQ(allocator.stats().cached_bytes, 1024u);
    void* again = allocator.allocate(700);  // the same class
    EXPECT_EQ(again, first);
    EXPECT_EQ(memory.allocations, 1u);
    EXPECT_EQ(allocator.stats().reuses, 1u);
    EXPECT_EQ(allocator.stats().cached_bytes, 0u);
    // Another class never takes a cached block, even a larger one.
    allocator.deallocate(again);
    void* other = allocator.allocate(400);  // class 512
    EXPECT_NE(other, first);
    EXPECT_EQ(memory.allocations, 2u);
    EXPECT_EQ(allocator.stats().raw_allocations, 2u);
}

TEST(CachingAllocator, ZeroBytesIsNullAndTouchesNothing) {
    FakeDeviceMemory memory;
    CachingAllocator allocator = memory.allocator();
    EXPECT_EQ(allocator.allocate(0), nullptr);
    allocator.deallocate(nullptr);
    EXPECT_EQ(memory.allocations, 0u);
    EXPECT_EQ(allocator.stats().unknown_frees, 0u);
}

TEST(CachingAllocator, PeakIsTheMostHandedOutAtOnce) {
    FakeDeviceMemory memory;
    CachingAllocator allocator = memory.allocator();
    void* big = allocator.allocate(3 * MiB);    // class 4 MiB
    void* small = allocator.allocate(10 * KiB);  // class 10 KiB
    EXPECT_EQ(allocator.stats().in_use_bytes, 4 * MiB + 10 * KiB);
    allocator.deallocate(big);
    void* medium = allocator.allocate(100 * KiB);
    const CachingAllocator::Stats s = allocator.stats();
    EXPECT_EQ(s.in_use_bytes, 110 * KiB);
    EXPECT_EQ(s.peak_in_use_bytes, 4 * MiB + 10 * KiB);
    EXPECT_EQ(s.cached_bytes, 4 * MiB);
    allocator.deallocate(small);
    allocator.deallocate(medium);
}

TEST(CachingAllocator, OutOfMemoryGivesTheCacheBackAndTriesOnceMore) {
    FakeDeviceMemory memory;
    memory.capacity = 4 * MiB;
    CachingAllocator allocator = memory.allocator();
    void* a = allocator.allocate(2 * MiB);
    void* b = allocator.allocate(2 * MiB);
    allocator.deallocate(a);
    allocator.deallocate(b);  // 4 MiB cached: the fake device is full
    void* large = allocator.allocate(4 * MiB);
    ASSERT_NE(large, nullptr);
    EXPECT_EQ(memory.failures, 1u);
    EXPECT_EQ(memory.frees, 2u);
    EXPECT_EQ(allocator.stats().cached_bytes, 0u);
    EXPECT_EQ(allocator.stats().in_use_bytes, 4 * MiB);
    // With nothing cached to give back, the raw allocator's error is the caller's, unchanged.
    EXPECT_TRUE(weft::testing::throws_error_containing([&] { allocator.allocate(1 * MiB); }, "fake cudaMalloc"));
    EXPECT_EQ(memory.failures, 2u);
    allocator.deallocate(large);
}

TEST(CachingAllocator, APointerItDidNotHandOutIsCountedAndNeverFreed) {
    FakeDeviceMemory memory;
    CachingAllocator allocator = memory.allocator();
    void* p = allocator.allocate(64);
    int stranger = 0;
    allocator.deallocate(&stranger);
    allocator.deallocate(p);
    allocator.deallocate(p);  // twice: the second is unknown too
    EXPECT_EQ(allocator.stats().unknown_frees, 2u);
    EXPECT_EQ(memory.frees, 0u);
    EXPECT_EQ(allocator.stats().cached_bytes, 512u);
}

TEST(CachingAllocator, DestructionReturnsEveryBlockCachedOrStillInUse) {
    FakeDeviceMemory memory;
    {
        CachingAllocator allocator = memory.allocator();
        void* cached = allocator.allocate(5000);
        allocator.allocate(3 * MiB);
        allocator.allocate(1);
        allocator.deallocate(cached);
        allocator.release_cached();
        EXPECT_EQ(memory.frees, 1u);
        EXPECT_EQ(allocator.stats().cached_bytes, 0u);
    }
    EXPECT_EQ(memory.allocations, 3u);
    EXPECT_EQ(memory.frees, 3u);
    EXPECT_TRUE(memory.live.empty());
    EXPECT_EQ(memory.in_use, 0u);
}
