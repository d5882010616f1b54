#include "op_harness.h"

namespace weft::testing {

const PluginSet& build_plugins() {
    static const PluginSet plugins({WEFT_TEST_PLUGIN_DIR});
    return plugins;
}

const Registry& build_registry() { return build_plugins().registry(); }

std::vector<Tensor> run_op(const std::string& op, const Attributes& attrs, const std::vector<Tensor>& inputs,
                           const WeightMap& params, const std::string& backend, std::uint64_t seed) {
    return run_op(build_plugins(), OpCall{op, attrs, inputs, params, backend, {}, seed});
}

std::vector<Tensor> run_op_with_kernel(const std::string& kernel, const std::string& op, const Attributes& attrs,
                                       const std::vector<Tensor>& inputs, const WeightMap& params,
                                       std::uint64_t seed, const std::string& backend) {
    return run_op(build_plugins(), OpCall{op, attrs, inputs, params, backend, kernel, seed});
}

BackwardResult run_op_backward(const std::string& op, const Attributes& attrs, const std::vector<Tensor>& inputs,
                               const std::vector<Tensor>& grad_outputs, const WeightMap& params,
                               const std::string& kernel, std::uint64_t seed, const std::string& backend) {
    return run_op_backward(build_plugins(), OpCall{op, attrs, inputs, params, backend, kernel, seed}, grad_outputs);
}

BackwardResult run_op_backward_sharded(const std::string& op, const Attributes& attrs,
                                       const std::vector<Tensor>& inputs,
                                       const std::vector<Tensor>& grad_outputs, int shards,
                                       const WeightMap& params, const std::string& kernel,
                                       const std::string& backend) {
    return run_op_backward_sharded(build_plugins(), OpCall{op, attrs, inputs, params, backend, kernel, 1},
                                   grad_outputs, shards);
}

ForwardResult run_op_forward(const std::string& op, const Attributes& attrs, const std::vector<Tensor>& inputs,
                             bool in_place, const std::string& backend, const WeightMap& params, std::uint64_t seed) {
    return run_op_forward(build_plugins(), OpCall{op, attrs, inputs, params, backend, {}, seed}, in_place);
}

OpNode op_node(const std::string& op, const Attributes& attrs, const std::vector<TensorDesc>& inputs) {
    const Graph g = single_node_graph(build_registry(), op, attrs, inputs);
    const Node& node = g.nodes.at(0);
    OpNode result{node.attrs, inputs, {}, node.params};
    for (int v : node.outputs) result.outputs.push_back(g.values[v].desc);
    return result;
}

std::string cuda_unavailable_reason() { return build_plugins().backend_unavailable_reason("cuda"); }

NodeSignature infer_op(const std::string& op, const Attributes& attrs, const std::vector<TensorDesc>& inputs) {
    return infer_op(build_plugins(), op, attrs, inputs);
}

}  // namespace weft::testing
