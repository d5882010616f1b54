// Placement of buffers whose lifetimes are intervals on one timeline (the training step: forward
// positions 0..F-1, then backward positions F..2F-1), first fit in one arena, so bytes that one
// buffer no longer needs serve another.
#pragma once

#include <cstddef>
#include <vector>

namespace weft::detail {

struct Interval {
    int start = 0, end = 0;  // inclusive positions; start -1: before the first node
    std::size_t bytes = 0;
    std::size_t* offset = nullptr;      // where the placement is written
    std::vector<std::size_t*> aliases;  // in-place outputs that share this interval's bytes
};

// Places every interval and returns the arena's peak. At each position, what starts there is
// placed, then what ends there is freed (a node's outputs never share bytes with its inputs).
std::size_t place_on_timeline(std::vector<Interval>& intervals);

}  // namespace weft::detail
