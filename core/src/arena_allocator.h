// First-fit placement of buffers in one arena, shared by the inference and training planners.
#pragma once

#include <algorithm>
#include <cstddef>
#include <list>

#include "weft/executor.h"

namespace weft::detail {

inline std::size_t align_up(std::size_t n) {
    return (n + BufferPlan::kAlignment - 1) / BufferPlan::kAlignment * BufferPlan::kAlignment;
}

// Active allocations ordered by offset; first fit into the lowest gap that is large enough.
class ArenaAllocator {
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
    // Hands a live block over to another value (in-place execution).
    void transfer(int from, int to) {
        for (auto& b : blocks_)
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


}  // namespace weft::detail
