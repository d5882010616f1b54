#include "timeline_placement.h"

#include <algorithm>
#include <map>

#include "arena_allocator.h"

namespace weft::detail {

std::size_t place_on_timeline(std::vector<Interval>& intervals) {
    int first = 0, last = 0;
    for (const Interval& i : intervals) first = std::min(first, i.start), last = std::max(last, i.end);
    std::map<int, std::vector<int>> starts, ends;
    for (int k = 0; k < static_cast<int>(intervals.size()); ++k) {
        starts[intervals[k].start].push_back(k);
        ends[intervals[k].end].push_back(k);
    }
    ArenaAllocator arena;
    for (int t = first; t <= last; ++t) {
        if (auto it = starts.find(t); it != starts.end())
            for (int k : it->second) {
                Interval& i = intervals[k];
                *i.offset = arena.allocate(k, align_up(i.bytes));
                for (std::size_t* a : i.aliases) *a = *i.offset;
            }
        if (auto it = ends.find(t); it != ends.end())
            for (int k : it->second) arena.release(k);
    }
    return arena.peak();
}

}  // namespace weft::detail
