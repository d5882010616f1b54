// Running one operator: its signature, the kernel it gets, an inference forward pass through the
// executor, and a training forward and backward pass through its kernel.
#include <map>

#include "one_node.h"
#include "training_kernel.h"
#include "weft/executor.h"

namespace weft::testing {

NodeSignature infer_op(const PluginSet& plugins, const std::string& op, const Attributes& attrs,
                       const std::vector<TensorDesc>& inputs) {
    const Graph g = single_node_graph(plugins.registry(), op, attrs, inputs);
    NodeSignature signature{{}, g.nodes[0].params, g.nodes[0].macs};
    for (int v : g.outputs) signature.outputs.push_back(g.values[v].desc);
    return signature;
}

namespace {
// The kernel an inference run of the call gets, checked as select_kernel checks a forced one.
const RegisteredKernel& inference_kernel(const Registry& registry, const OpCall& call, const OneNode& n) {
    const std::unique_ptr<Device> device = registry.create_device(call.backend, {});
    return select_kernel(registry, call, kernel_config(n, *device, /*training=*/false));
}
}  // namespace

std::string chosen_kernel(const PluginSet& plugins, const OpCall& call) {
    const OneNode n = one_node(plugins.registry(), call);
    return kernel_label(inference_kernel(plugins.registry(), call, n));
}

std::vector<Tensor> run_op(const PluginSet& plugins, const OpCall& call) {
    const Registry& registry = plugins.registry();
    const OneNode n = one_node(registry, call);
    CompileOptions options;
    options.backend = call.backend;
    if (!call.kernel.empty()) {
        inference_kernel(registry, call, n);  // throws when the forced kernel declines the node
        options.kernel_overrides = {{call.op, call.kernel}};
    }
    Executor executor(n.graph, registry, n.weights, options);
    std::vector<Tensor> outputs = executor.make_outputs();
    executor.run(call.inputs, outputs);
    return outputs;
}

BackwardResult run_op_backward(const PluginSet& plugins, const OpCall& call, const std::vector<Tensor>& grad_outputs) {
    TrainingKernel kernel(plugins.registry(), call);
    return kernel.backward(call.inputs, kernel.node().params(), grad_outputs);
}

}  // namespace weft::testing
