// Validation and shape inference, driven entirely by the registered operator schemas.
#include <cmath>
#include <set>

#include <algorithm>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "exception_text.h"
#include "weft/graph.h"
#include "weft/registry.h"

namespace weft {
namespace {

void infer_node(Graph& graph, Node& node, const Registry& registry) {
    const OpSchema* schema = registry.find_op(node.op);
    if (!schema) {
        auto names = registry.op_names();
        throw Error(fmt::format("unknown op '{}' (loaded ops: {})", node.op,
                                names.empty() ? std::string("none — no plugins loaded") : fmt::format("{}", fmt::join(names, ", "))));
    }
    const int n_in = static_cast<int>(node.inputs.size());
    if (n_in < schema->min_inputs || (schema->max_inputs >= 0 && n_in > schema->max_inputs)) {
        std::string expected = schema->max_inputs < 0 ? fmt::format("at least {}", schema->min_inputs)
                               : schema->min_inputs == schema->max_inputs ? fmt::format("{}", schema->min_inputs)
                               : fmt::format("{} to {}", schema->min_inputs, schema->max_inputs);
        throw Error(fmt::format("op '{}' takes {} input(s), got {}", node.op, expected, n_in));
    }
    if (static_cast<int>(node.outputs.size()) != schema->num_outputs)
        throw Error(fmt::format("op '{}' has {} output(s), node declares {}", node.op, schema->num_outputs,
                                node.outputs.size()));
    node.attrs = validate_attributes(fmt::format("op '{}'", schema->name), schema->attrs, node.attrs);
    std::vector<TensorDesc> inputs;
    for (int v : node.inputs) inputs.push_back(graph.values[v].desc);
    NodeSignature sig = schema->infer(InferContext{inputs, node.attrs});
    if (static_cast<int>(sig.outputs.size()) != schema->num_outputs)
        throw Error(fmt::format("op '{}' inferred {} outputs but declares {} (plugin {})", node.op,
                                sig.outputs.size(), schema->num_outputs, registry.op_library(node.op).string()));
    for (std::size_t i = 0; i < sig.outputs.size(); ++i) {
        for (auto d : sig.outputs[i].shape)
            if (d <= 0)
                throw Error(fmt::format("op '{}' inferred an invalid output shape {} (plugin {})", node.op,
                                        shape_str(sig.outputs[i].shape), registry.op_library(node.op).string()));
        (void)sig.outputs[i].bytes();  // rejects shapes too large to address
        graph.values[node.outputs[i]].desc = sig.outputs[i];
    }
    for (const ParamSpec& p : sig.params) (void)p.desc.bytes();  // likewise, here where the node is named
    if (sig.macs < 0)
        throw Error(fmt::format("op '{}' inferred a negative multiply-add count {} (plugin {})", node.op, sig.macs,
                                registry.op_library(node.op).string()));
    node.params = std::move(sig.params);
    node.macs = sig.macs;
}

}  // namespace

void infer_shapes(Graph& graph, const Registry& registry) {
    for (int v : graph.inputs) (void)graph.values[v].desc.bytes();
    for (int n : graph.topological_order()) {
        Node& node = graph.nodes[n];
        try {
            infer_node(graph, node, registry);
        } catch (const Error& e) {
            throw Error(fmt::format("{}: node '{}': {}", node.loc.str(), node.name, e.what()));
        } catch (...) {
            throw Error(fmt::format("{}: node '{}': op '{}' ({}) failed shape inference: {}", node.loc.str(),
                                    node.name, node.op, registry.op_library(node.op).string(),
                                    detail::current_exception_text()));
        }
    }
}

Graph single_node_graph(const Registry& registry, const std::string& op, const Attributes& attrs,
                        const std::vector<TensorDesc>& inputs, const std::string& node_name) {
    Graph graph;
    graph.name = op;
    Node node;
    node.name = node_name;
    node.op = op;
    node.attrs = attrs;
    for (std::size_t i = 0; i < inputs.size(); ++i)
        node.inputs.push_back(graph.add_input(fmt::format("x{}", i), inputs[i]));
    const OpSchema* schema = registry.find_op(op);
    const int id = graph.add_node(std::move(node), schema ? schema->num_outputs : 1);
    graph.outputs = graph.nodes[id].outputs;
    infer_shapes(graph, registry);
    return graph;
}

}  // namespace weft
