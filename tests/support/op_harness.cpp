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
                                       std::uint64_t seed) {
    return run_op(build_plugins(), OpCall{op, attrs, inputs, params, "cpu", kernel, seed});
}

BackwardResult run_op_backward(const std::string& op, const Attributes& attrs, const std::vector<Tensor>& inputs,
                               const std::vector<Tensor>& grad_outputs, const WeightMap& params,
                               const std::string& kernel, std::uint64_t seed, const std::string& backend) {
    return run_op_backward(build_plugins(), OpCall{op, attrs, inputs, params, backend, kernel, seed}, grad_outputs);
}

std::string cuda_unavailable_reason() { return build_plugins().backend_unavailable_reason("cuda"); }

NodeSignature infer_op(const std::string& op, const Attributes& attrs, const std::vector<TensorDesc>& inputs) {
    return infer_op(build_plugins(), op, attrs, inputs);
}

}  // namespace weft::testing
