// First-fit placement of buffers in one arena, shared by the inference and training planners.
#pragma once

#include <cstddef>
#include <iterator>
#include <map>
#include <set>
#include <unordered_map>

#include "weft/checked_arithmetic.h"
#include "weft/executor.h"

namespace weft::detail {

inline std::size_t align_up(std::size_t n) {
    const std::size_t padded = checked_add_bytes(n, BufferPlan::kAlignment - 1, "a buffer's size");
    return padded / BufferPlan::kAlignment * BufferPlan::kAlignment;
}

// Live allocations ordered by offset; a new one goes into the lowest gap between them that is
// large enough (first fit), else on top. The gaps are kept apart, with their sizes, so that a
// training step of 100,000 nodes — every activation alive until its backward — places each buffer
// in logarithmic time while none fits below the top, instead of walking every live block.
class ArenaAllocator {
public:
    std::size_t allocate(int value, std::size_t bytes);
    void release(int value);
    // Hands a live block over to another value (in-place execution).
    void transfer(int from, int to);
    std::size_t peak() const { return peak_; }

private:
    struct Block {
        std::size_t bytes;
        int value;
    };
    std::size_t top() const { return blocks_.empty() ? 0 : blocks_.rbegin()->first + blocks_.rbegin()->second.bytes; }
    void add_gap(std::size_t offset, std::size_t bytes);
    void remove_gap(std::map<std::size_t, std::size_t>::iterator gap);

    std::map<std::size_t, Block> blocks_;              // offset -> live block (never empty blocks)
    std::unordered_map<int, std::size_t> offset_of_;  // value -> offset of its live block
    std::map<std::size_t, std::size_t> gaps_;          // offset -> bytes of a free gap below top()
    std::multiset<std::size_t> gap_sizes_;
    std::size_t peak_ = 0;
};

inline std::size_t ArenaAllocator::allocate(int value, std::size_t bytes) {
    if (bytes == 0) return 0;  // occupies nothing, so overlaps nothing
    std::size_t offset = top();
    if (!gap_sizes_.empty() && *gap_sizes_.rbegin() >= bytes) {
        auto gap = gaps_.begin();
        while (gap->second < bytes) ++gap;
        offset = gap->first;
        const std::size_t rest = gap->second - bytes;
        remove_gap(gap);
        if (rest > 0) add_gap(offset + bytes, rest);
    }
    const std::size_t end = checked_add_bytes(offset, bytes, "the arena of activations");
    blocks_.emplace(offset, Block{bytes, value});
    offset_of_[value] = offset;
    peak_ = std::max(peak_, end);
    return offset;
}

inline void ArenaAllocator::release(int value) {
    const auto found = offset_of_.find(value);
    if (found == offset_of_.end()) return;  // an empty buffer, never placed
    auto block = blocks_.find(found->second);
    std::size_t start = block->first, end = start + block->second.bytes;
    offset_of_.erase(found);
    block = blocks_.erase(block);
    // Merge with the gaps on either side; what reaches the top is no gap but free space above.
    if (auto after = gaps_.find(end); after != gaps_.end()) {
        end += after->second;
        remove_gap(after);
    }
    if (auto before = gaps_.lower_bound(start); before != gaps_.begin()) {
        --before;
        if (before->first + before->second == start) {
            start = before->first;
            remove_gap(before);
        }
    }
    if (block != blocks_.end()) add_gap(start, end - start);
}

inline void ArenaAllocator::transfer(int from, int to) {
    const auto found = offset_of_.find(from);
    if (found == offset_of_.end()) return;
    const std::size_t offset = found->second;
    offset_of_.erase(found);
    offset_of_[to] = offset;
    blocks_.at(offset).value = to;
}

inline void ArenaAllocator::add_gap(std::size_t offset, std::size_t bytes) {
    gaps_.emplace(offset, bytes);
    gap_sizes_.insert(bytes);
}

inline void ArenaAllocator::remove_gap(std::map<std::size_t, std::size_t>::iterator gap) {
    gap_sizes_.erase(gap_sizes_.find(gap->second));
    gaps_.erase(gap);
}

}  // namespace weft::detail
