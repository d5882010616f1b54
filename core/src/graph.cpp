#include "weft/graph.h"

#include <algorithm>
#include <functional>
#include <queue>

#include <fmt/format.h>

#include "weft/checked_arithmetic.h"

namespace weft {

int Graph::add_input(std::string name, TensorDesc desc) {
    values.push_back(Value{std::move(name), std::move(desc), -1});
    const int id = static_cast<int>(values.size()) - 1;
    inputs.push_back(id);
    return id;
}

int Graph::add_node(Node node, int num_outputs) {
    const int id = static_cast<int>(nodes.size());
    node.outputs.clear();
    for (int i = 0; i < num_outputs; ++i) {
        std::string value_name = num_outputs == 1 ? node.name : fmt::format("{}:{}", node.name, i);
        values.push_back(Value{std::move(value_name), TensorDesc{}, id});
        node.outputs.push_back(static_cast<int>(values.size()) - 1);
    }
    nodes.push_back(std::move(node));
    return id;
}

int Graph::find_node(const std::string& node_name) const {
    for (std::size_t i = 0; i < nodes.size(); ++i)
        if (nodes[i].name == node_name) return static_cast<int>(i);
    return -1;
}

int Graph::find_value(const std::string& value_name) const {
    for (std::size_t i = 0; i < values.size(); ++i)
        if (values[i].name == value_name) return static_cast<int>(i);
    return -1;
}

void Graph::set_batch(std::int64_t batch) {
    if (batch < 1) throw Error(fmt::format("batch size must be at least 1, got {}", batch));
    for (int v : inputs) {
        auto& shape = values[v].desc.shape;
        if (shape.empty()) throw Error(fmt::format("graph input '{}' has no shape", values[v].name));
        shape[0] = batch;
    }
}

std::int64_t Graph::batch() const {
    if (inputs.empty() || values[inputs[0]].desc.shape.empty()) return 0;
    return values[inputs[0]].desc.shape[0];
}

std::vector<int> Graph::topological_order() const {
    // Kahn's algorithm; ties keep file order so schedules (and buffer plans) are stable.
    std::vector<int> pending(nodes.size(), 0);
    std::vector<std::vector<int>> readers(values.size());
    for (std::size_t n = 0; n < nodes.size(); ++n)
        for (int v : nodes[n].inputs) {
            if (v < 0 || v >= static_cast<int>(values.size()))
                throw Error(fmt::format("{}: node '{}' reads a value that does not exist", nodes[n].loc.str(), nodes[n].name));
            if (values[v].producer >= 0) {
                ++pending[n];
                readers[v].push_back(static_cast<int>(n));
            }
        }
    // The lowest ready index first, from a heap: n log n, however many nodes are ready at once.
    std::priority_queue<int, std::vector<int>, std::greater<>> ready;
    std::vector<int> order;
    for (std::size_t n = 0; n < nodes.size(); ++n)
        if (pending[n] == 0) ready.push(static_cast<int>(n));
    while (!ready.empty()) {
        const int n = ready.top();
        ready.pop();
        order.push_back(n);
        for (int v : nodes[n].outputs)
            for (int r : readers[v])
                if (--pending[r] == 0) ready.push(r);
    }
    if (order.size() != nodes.size()) {
        for (std::size_t n = 0; n < nodes.size(); ++n)
            if (pending[n] > 0)
                throw Error(fmt::format("{}: graph has a cycle through node '{}'", nodes[n].loc.str(), nodes[n].name));
    }
    return order;
}

GraphTotals graph_totals(const Graph& graph) {
    GraphTotals t;
    for (const Node& n : graph.nodes) {
        // Each node's numbers are in range (shape inference checked them); their sum need not be.
        const std::string where = fmt::format("{}: node '{}': the graph's total", n.loc.str(), n.name);
        t.macs = checked_add(t.macs, n.macs, where + " of multiply-adds");
        for (const ParamSpec& p : n.params) {
            t.all_params = checked_add(t.all_params, p.desc.numel(), where + " of parameters");
            if (p.counted) t.params = checked_add(t.params, p.desc.numel(), where + " of parameters");
        }
    }
    return t;
}

}  // namespace weft
