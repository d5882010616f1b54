// Tracing values back through ops that declare the channel-permutation trait (see
// weft/channel_permutation.h).
#include "weft/channel_permutation.h"

#include <numeric>

#include <fmt/format.h>

#include "weft/error.h"
#include "weft/graph_pass.h"
#include "weft/registry.h"

namespace weft::channel_permutation {

std::vector<std::int64_t> shuffle(std::int64_t channels, std::int64_t groups) {
    if (groups < 1 || channels % groups != 0)
        throw Error(fmt::format("channel shuffle: groups {} must divide the {} channels", groups, channels));
    const std::int64_t per_group = channels / groups;
    std::vector<std::int64_t> destination(static_cast<std::size_t>(channels));
    for (std::int64_t c = 0; c < channels; ++c) destination[c] = (c % per_group) * groups + c / per_group;
    return destination;
}

std::string not_a_permutation(const std::vector<std::int64_t>& map, std::int64_t size,
                              const std::string& name) {
    if (static_cast<std::int64_t>(map.size()) != size)
        return fmt::format("{} has {} entries, expected one per channel ({})", name, map.size(), size);
    std::vector<bool> seen(static_cast<std::size_t>(size), false);
    for (const std::int64_t c : map) {
        if (c < 0 || c >= size || seen[static_cast<std::size_t>(c)])
            return fmt::format("{} is not a permutation of 0..{}", name, size - 1);
        seen[static_cast<std::size_t>(c)] = true;
    }
    return {};
}

std::optional<std::vector<std::int64_t>> of_node(const Graph& graph, const Registry& registry, int node) {
    const Node& n = graph.nodes[node];
    const OpSchema* schema = registry.find_op(n.op);
    if (!schema || !schema->traits.channel_permutation || n.inputs.size() != 1) return std::nullopt;
    const TensorDesc& input = graph.values[n.inputs[0]].desc;
    if (input.rank() < 2) return std::nullopt;
    const std::int64_t channels = input.shape[1];
    std::vector<std::int64_t> destination = schema->traits.channel_permutation(n.attrs, channels);
    // A plugin's map is checked once here rather than trusted by every pass that reads it.
    std::vector<bool> hit(static_cast<std::size_t>(channels), false);
    bool valid = static_cast<std::int64_t>(destination.size()) == channels;
    for (std::size_t c = 0; valid && c < destination.size(); ++c) {
        valid = destination[c] >= 0 && destination[c] < channels && !hit[destination[c]];
        if (valid) hit[destination[c]] = true;
    }
    if (!valid)
        throw Error(fmt::format("{}: node '{}': op '{}' declares a channel permutation that is not a permutation of "
                                "its {} channels",
                                n.loc.str(), n.name, n.op, channels));
    return destination;
}

Trace trace_back(PassContext& context, int value) {
    const Graph& graph = context.graph;
    Trace t;
    t.source = value;
    const std::int64_t channels = graph.values[value].desc.shape.at(1);
    t.position.resize(static_cast<std::size_t>(channels));
    std::iota(t.position.begin(), t.position.end(), 0);
    for (;;) {
        const int producer = graph.values[t.source].producer;
        if (producer < 0) break;
        const auto destination = of_node(graph, context.registry, producer);
        if (!destination) break;
        const int input = graph.nodes[producer].inputs[0];
        if (uses_of(context, input) != 1) break;
        // Input channel k lands at destination[k] of the permutation's output, and from there
        // wherever the chain so far takes it.
        std::vector<std::int64_t> position(t.position.size());
        for (std::int64_t k = 0; k < channels; ++k) position[k] = t.position[(*destination)[k]];
        t.position = std::move(position);
        t.permutes.push_back(producer);
        t.source = input;
    }
    return t;
}

std::optional<ExclusiveProducer> exclusive_producer(PassContext& context, int value) {
    if (uses_of(context, value) != 1) return std::nullopt;
    Trace trace = trace_back(context, value);
    const int producer = context.graph.values[trace.source].producer;
    if (producer < 0 || uses_of(context, trace.source) != 1) return std::nullopt;
    return ExclusiveProducer{producer, std::move(trace)};
}

}  // namespace weft::channel_permutation
