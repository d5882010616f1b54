#include "one_node.h"

#include <algorithm>
#include <map>
#include <utility>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "weft/error.h"

namespace weft::testing {

std::vector<TensorDesc> OneNode::input_descs() const {
    std::vector<TensorDesc> descs;
    for (int v : node().inputs) descs.push_back(graph.values[v].desc);
    return descs;
}

std::vector<TensorDesc> OneNode::output_descs() const {
    std::vector<TensorDesc> descs;
    for (int v : node().outputs) descs.push_back(graph.values[v].desc);
    return descs;
}

std::vector<Tensor> OneNode::params() const {
    std::vector<Tensor> tensors;
    for (const ParamSpec& p : node().params) tensors.push_back(weights.at("node." + p.name));
    return tensors;
}

namespace {

void check_param_names(const Node& node, const WeightMap& given) {
    std::vector<std::string> declared;
    for (const ParamSpec& p : node.params) declared.push_back(p.name);
    for (const auto& [name, tensor] : given)
        if (std::find(declared.begin(), declared.end(), name) == declared.end())
            throw Error(fmt::format("op '{}' has no parameter '{}' on this node (it has: {})", node.op, name,
                                    declared.empty() ? std::string("none") : fmt::format("{}", fmt::join(declared, ", "))));
}

}  // namespace

OneNode one_node(const Registry& registry, const OpCall& call) {
    std::vector<TensorDesc> inputs;
    for (const Tensor& t : call.inputs) inputs.push_back(t.desc());
    OneNode n{single_node_graph(registry, call.op, call.attrs, inputs), {}};
    check_param_names(n.node(), call.params);
    n.weights = init_weights(n.graph, call.seed);
    for (const auto& [name, tensor] : call.params) n.weights["node." + name] = tensor;
    return n;
}

KernelConfig kernel_config(const OneNode& n, Device& device, bool training, bool in_place) {
    return KernelConfig{n.node().name, n.node().attrs, n.input_descs(), n.output_descs(), n.node().params,
                        device, training, in_place};
}

std::string kernel_label(const RegisteredKernel& kernel) {
    return fmt::format("{} ({})", kernel.factory.name, kernel.library.filename().string());
}

const RegisteredKernel& select_kernel(const Registry& registry, const OpCall& call, const KernelConfig& config) {
    std::map<std::string, std::string> overrides;
    if (!call.kernel.empty()) overrides[call.op] = call.kernel;
    std::vector<std::string> passed_over;
    const RegisteredKernel& chosen = registry.select_kernel(call.op, call.backend, overrides, &config, &passed_over);
    // A forced kernel is asked first: anything passed over means it declined the node.
    if (!call.kernel.empty() && !passed_over.empty())
        throw Error(fmt::format("the forced {} kernel '{}' declined the node ({}); {} would run it", call.op,
                                call.kernel, fmt::join(passed_over, "; "), kernel_label(chosen)));
    return chosen;
}

}  // namespace weft::testing
