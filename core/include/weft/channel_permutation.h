// Channel permutations, for passes and tools that look through them. An op declares that it only
// moves channels with OpTraits::channel_permutation; everything here reads that trait, never an
// op's name, so a plugin's own permutation op is traced like channel_permute. A per-channel
// operation (batch norm, ReLU) commutes with moving channels, which is what lets batch norm fold
// into the convolution before an IGC block's permutation. Part of the plugin SDK.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "weft/graph.h"
#include "weft/graph_pass.h"

namespace weft {

class Registry;

namespace channel_permutation {

// The paper's P (Eq. 2 and 4), the standard channel shuffle: the C channels viewed as a
// (groups, C/groups) matrix and transposed, so channel i·(C/groups) + j moves to j·groups + i.
// Returns destination[c] for every channel; `groups` must divide `channels`.
std::vector<std::int64_t> shuffle(std::int64_t channels, std::int64_t groups);

// Why `map` (an attribute named `name`, e.g. a channel map a pass wrote) is not a permutation of
// 0..size-1, in one line ("NAME has 2 entries, expected one per channel (48)"); empty if it is.
std::string not_a_permutation(const std::vector<std::int64_t>& map, std::int64_t size,
                              const std::string& name);

// destination[c] of node `node` when its op declares the permutation trait (channels =
// dimension 1 of its input); nullopt otherwise.
std::optional<std::vector<std::int64_t>> of_node(const Graph& graph, const Registry& registry, int node);

struct Trace {
    int source = -1;             // the value the chain starts from
    std::vector<int> permutes;   // permutation nodes passed, nearest first
    // position[k]: where channel k of `source` ends up in the traced value.
    std::vector<std::int64_t> position;
};

// Follows `value` back through permutation nodes as long as each value on the way has exactly
// one use (one reading node and no graph output), so rewriting the producer at the start
// changes nothing anyone else sees. Channels are dimension 1. For passes: uses come from the
// context's index of readers.
Trace trace_back(PassContext& context, int value);

// The node whose output reaches `value` only through permutations, with `value` and every value
// on the way used exactly once — so a per-channel operation on `value` can move into that
// producer. nullopt when there is none.
struct ExclusiveProducer {
    int node = -1;
    Trace trace;
};
std::optional<ExclusiveProducer> exclusive_producer(PassContext& context, int value);

}  // namespace channel_permutation
}  // namespace weft
