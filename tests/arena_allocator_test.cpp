// The arena planner's allocator keeps its free gaps indexed so that a 100,000-node training step
// is placed in n log n; it must place every buffer exactly where the plain first-fit walk it
// replaced did (same offsets, same peak), or every buffer plan — and with it memory and speed —
// would silently change. This checks the two against each other on random workloads shaped like
// the planners' (allocations of aligned sizes, some empty, releases in any order, in-place
// hand-overs).
#include <algorithm>
#include <cstddef>
#include <list>
#include <random>
#include <vector>

#include <gtest/gtest.h>

#include "arena_allocator.h"

namespace weft {
namespace {

// The unoptimised reference: live blocks in a list ordered by offset, walked from the bottom for
// the first gap that is large enough.
class WalkingFirstFit {
public:
    std::size_t allocate(int value, std::size_t bytes) {
        std::size_t offset = 0;
        auto it = blocks_.begin();
        for (; it != blocks_.end(); ++it) {
            if (it->offset >= offset + bytes) break;
            offset = std::max(offset, it->offset + it->bytes);
        }
        blocks_.insert(it, Block{offset, bytes, value});
        peak_ = std::max(peak_, offset + bytes);
        return offset;
    }
    void release(int value) {
        blocks_.remove_if([value](const Block& b) { return b.value == value; });
    }
    void transfer(int from, int to) {
        for (Block& b : blocks_)
            if (b.value == from) b.value = to;
    }
    std::size_t peak() const { return peak_; }

private:
    struct Block {
        std::size_t offset, bytes;
        int value;
    };
    std::list<Block> blocks_;
    std::size_t peak_ = 0;
};

TEST(ArenaAllocator, PlacesEveryBufferWhereThePlainFirstFitWalkDoes) {
    for (unsigned seed = 1; seed <= 40; ++seed) {
        SCOPED_TRACE(::testing::Message() << "seed " << seed);
        std::mt19937 rng(seed);
        detail::ArenaAllocator indexed;
        WalkingFirstFit walking;
        std::vector<int> live;
        int next_value = 0;
        for (int op = 0; op < 3000; ++op) {
            const unsigned dice = rng() % 10;
            if (live.empty() || dice < 5) {
                // Sizes from empty to large, in the planners' 64-byte units, skewed small.
                const std::size_t units = (rng() % 8 == 0) ? 0 : (rng() % 4 == 0 ? rng() % 4096 : rng() % 64 + 1);
                const int value = next_value++;
                const std::size_t bytes = units * 64;
                ASSERT_EQ(indexed.allocate(value, bytes), walking.allocate(value, bytes)) << "allocation " << op;
                live.push_back(value);
            } else if (dice < 9) {
                const std::size_t i = rng() % live.size();
                indexed.release(live[i]);
                walking.release(live[i]);
                live.erase(live.begin() + static_cast<std::ptrdiff_t>(i));
            } else {
                const std::size_t i = rng() % live.size();
                const int to = next_value++;
                indexed.transfer(live[i], to);
                walking.transfer(live[i], to);
                live[i] = to;
            }
            ASSERT_EQ(indexed.peak(), walking.peak()) << "after operation " << op;
        }
    }
}

TEST(ArenaAllocator, ReusesTheLowestGapAndMergesFreedNeighbours) {
    detail::ArenaAllocator a;
    EXPECT_EQ(a.allocate(0, 128), 0u);
    EXPECT_EQ(a.allocate(1, 64), 128u);
    EXPECT_EQ(a.allocate(2, 64), 192u);
    EXPECT_EQ(a.allocate(3, 64), 256u);
    a.release(1);
    a.release(2);                          // 128..256 free, merged
    EXPECT_EQ(a.allocate(4, 128), 128u);   // fits the merged gap exactly
    a.release(0);
    EXPECT_EQ(a.allocate(5, 64), 0u);      // the lowest gap first
    EXPECT_EQ(a.allocate(6, 128), 320u);   // 64..128 is too small: on top
    EXPECT_EQ(a.peak(), 448u);
}

}  // namespace
}  // namespace weft
