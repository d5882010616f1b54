// The paper's channel permutation P (Eq. 2 and 4) as arithmetic, for the passes of other
// operators that look through permutations (a per-channel operation commutes with moving
// channels, so batch norm and ReLU can be folded across them). Header-only, no kernel code.
#pragma once

#include <cstdint>
#include <numeric>
#include <optional>
#include <vector>

#include "weft/graph.h"
#include "weft/graph_pass.h"

namespace weft::channel_permutation {

// Eq. 2: with C channels viewed as a (g, C/g) matrix and transposed, channel i·(C/g) + j moves
// to position j·g + i.
inline std::int64_t destination(std::int64_t channel, std::int64_t channels, std::int64_t groups) {
    const std::int64_t per_group = channels / groups;
    return (channel % per_group) * groups + channel / per_group;
}

struct Trace {
    int source = -1;              // the value the chain starts from
    std::vector<int> permutes;    // channel_permute nodes passed, nearest first
    // position[k]: where channel k of `source` ends up in the traced value.
    std::vector<std::int64_t> position;
};

// Follows `value` back through channel_permute nodes, as long as each value on the way is read
// by exactly one node (so rewriting the producer at the start changes nothing else). Channels
// are dimension 1 of the value's shape.
inline Trace trace_back(const Graph& graph, int value) {
    Trace t;
    t.source = value;
    const std::int64_t channels = graph.values[value].desc.shape.at(1);
    t.position.resize(static_cast<std::size_t>(channels));
    std::iota(t.position.begin(), t.position.end(), 0);
    for (;;) {
        const int producer = graph.values[t.source].producer;
        if (producer < 0 || graph.nodes[producer].op != "channel_permute") break;
        const Node& permute = graph.nodes[producer];
        const int input = permute.inputs.at(0);
        if (readers_of(graph, input).size() != 1) break;
        const std::int64_t groups = permute.attrs.get_int("groups");
        std::vector<std::int64_t> position(t.position.size());
        for (std::int64_t k = 0; k < channels; ++k)
            position[k] = t.position[destination(k, channels, groups)];
        t.position = std::move(position);
        t.permutes.push_back(producer);
        t.source = input;
    }
    return t;
}

// The node whose output reaches `value` only through channel permutations, with every value on
// the way (and `value` itself) read by exactly one node — so a per-channel operation on `value`
// can be moved into that producer. nullopt when there is no such producer.
struct ExclusiveProducer {
    int node = -1;
    Trace trace;
};
inline std::optional<ExclusiveProducer> exclusive_producer(const Graph& graph, int value) {
    if (readers_of(graph, value).size() != 1) return std::nullopt;
    Trace trace = trace_back(graph, value);
    const int producer = graph.values[trace.source].producer;
    if (producer < 0 || readers_of(graph, trace.source).size() != 1) return std::nullopt;
    return ExclusiveProducer{producer, std::move(trace)};
}

}  // namespace weft::channel_permutation
