// The graph IR: values (tensors flowing between nodes) and nodes (operator applications).
// A graph is built by the graph-file loader (or by code), then validated and shape-inferred
// against the registered operator schemas; nothing here knows any particular operator.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "weft/attributes.h"
#include "weft/error.h"
#include "weft/op_schema.h"
#include "weft/tensor.h"

namespace weft {

class Registry;

// One level of block nesting a node was expanded from: the instance name and the block
// (template) it instantiates. Statistics and visualisations group nodes by these.
struct ScopeEntry {
    std::string name;   // instance, e.g. "block0" (inside "stage2")
    std::string block;  // template, e.g. "igc_block"; empty for a plain group (repeat)
    bool operator==(const ScopeEntry&) const = default;
};

struct Value {
    std::string name;
    TensorDesc desc;    // filled by infer_shapes; graph inputs carry their declared shape
    int producer = -1;  // node index, -1 for graph inputs
};

struct Node {
    std::string name;  // unique, dotted by scope: "stage1.block0.primary"
    std::string op;
    Attributes attrs;  // after infer_shapes: validated with defaults filled in
    std::vector<int> inputs;   // value indices
    std::vector<int> outputs;  // value indices
    SourceLocation loc;
    std::vector<ScopeEntry> scope;
    // Filled by infer_shapes:
    std::vector<ParamSpec> params;
    std::int64_t macs = 0;  // whole batch
};

class Graph {
public:
    std::string name;                          // family or file stem
    std::map<std::string, std::string> meta;   // variant, paper reference, class names, ...
    std::vector<Node> nodes;
    std::vector<Value> values;
    std::vector<int> inputs;   // value indices; shapes include the batch dimension
    std::vector<int> outputs;  // value indices

    int add_input(std::string name, TensorDesc desc);
    // Adds a node producing `num_outputs` new values named after the node.
    int add_node(Node node, int num_outputs = 1);
    int find_node(const std::string& name) const;  // -1 if absent
    int find_value(const std::string& name) const;

    // Sets the batch dimension (dimension 0) of every graph input.
    void set_batch(std::int64_t batch);
    std::int64_t batch() const;

    // Node indices such that each node comes after its inputs' producers. Throws on a cycle.
    std::vector<int> topological_order() const;
};

// Validates every node against its schema (known op, input count, attribute names, types and
// ranges, defaults) and infers every value's shape, each node's parameters and cost, in
// topological order. Errors name the node and the graph-file place.
void infer_shapes(Graph& graph, const Registry& registry);

// One node `node_name` of `op` reading graph inputs x0, x1, ... described by `inputs`, its outputs
// the graph's, shape-inferred (throws as infer_shapes does): how tools and tests ask a schema
// about a single node.
Graph single_node_graph(const Registry& registry, const std::string& op, const Attributes& attrs,
                        const std::vector<TensorDesc>& inputs, const std::string& node_name = "node");

struct GraphTotals {
    std::int64_t params = 0;  // counted params (the paper's #params)
    std::int64_t all_params = 0;
    std::int64_t macs = 0;    // per the graph's current batch
};
GraphTotals graph_totals(const Graph& graph);

}  // namespace weft
