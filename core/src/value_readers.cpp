#include "weft/value_readers.h"

#include <algorithm>

#include <fmt/format.h>

#include "weft/error.h"

namespace weft {

ValueReaders::ValueReaders(const Graph& graph)
    : readers_(graph.values.size()), output_uses_(graph.values.size(), 0), node_count_(graph.nodes.size()) {
    for (std::size_t n = 0; n < graph.nodes.size(); ++n)
        for (int v : graph.nodes[n].inputs) {
            std::vector<int>& readers = readers_.at(static_cast<std::size_t>(v));
            // Nodes come in ascending order, so a repeat can only be the last one added.
            if (readers.empty() || readers.back() != static_cast<int>(n)) readers.push_back(static_cast<int>(n));
        }
    for (int v : graph.outputs) ++output_uses_.at(static_cast<std::size_t>(v));
}

const std::vector<int>& ValueReaders::nodes_reading(int v) const { return readers_.at(static_cast<std::size_t>(v)); }

int ValueReaders::uses(int v) const {
    return static_cast<int>(readers_.at(static_cast<std::size_t>(v)).size()) + output_uses_.at(static_cast<std::size_t>(v));
}

void ValueReaders::replace_uses(Graph& graph, int from, int to) {
    if (from == to) return;
    std::vector<int>& moved = readers_.at(static_cast<std::size_t>(from));
    std::vector<int>& target = readers_.at(static_cast<std::size_t>(to));
    for (int n : moved) {
        std::vector<int>& inputs = graph.nodes[n].inputs;
        std::replace(inputs.begin(), inputs.end(), from, to);
        const auto at = std::lower_bound(target.begin(), target.end(), n);
        if (at == target.end() || *at != n) target.insert(at, n);
    }
    moved.clear();
    if (output_uses_[from] > 0) {
        std::replace(graph.outputs.begin(), graph.outputs.end(), from, to);
        output_uses_[to] += output_uses_[from];
        output_uses_[from] = 0;
    }
}

bool ValueReaders::describes(const Graph& graph) const {
    return node_count_ == graph.nodes.size() && readers_.size() == graph.values.size();
}

}  // namespace weft
