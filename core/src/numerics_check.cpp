#include "numerics_check.h"

#include <algorithm>

#include <fmt/format.h>

#include "finite_values.h"

namespace weft::detail {

NumericsCheck::NumericsCheck(const Graph& graph) {
    std::int64_t largest = 0;
    for (const Value& v : graph.values)
        if (v.desc.dtype == DType::f32) largest = std::max(largest, v.desc.numel());
    scratch_.resize(static_cast<std::size_t>(largest));
}

void NumericsCheck::check_inputs(const Graph& graph, std::span<const Tensor> inputs) {
    for (std::size_t i = 0; i < inputs.size() && i < graph.inputs.size(); ++i) {
        if (inputs[i].desc().dtype != DType::f32) continue;
        const float* values = inputs[i].as<float>();
        if (auto at = first_non_finite(values, inputs[i].numel()))
            throw Error(fmt::format("--check-numerics: graph input '{}' {}: {}", graph.values[graph.inputs[i]].name,
                                    inputs[i].desc().str(), describe_element(inputs[i].shape(), *at, values[*at])));
    }
}

void NumericsCheck::check_outputs(const Graph& graph, const CompiledNode& compiled, Device& device) {
    device.synchronize();
    const Node& node = graph.nodes[compiled.node];
    for (std::size_t o = 0; o < compiled.outputs.size(); ++o) {
        const TensorView& out = compiled.outputs[o];
        if (out.desc.dtype != DType::f32) continue;
        device.copy_to_host(scratch_.data(), out.data, out.desc.bytes());
        if (auto at = first_non_finite(scratch_.data(), out.numel()))
            throw Error(fmt::format("{}: --check-numerics: node '{}' (op '{}', kernel {}) is the first to produce a "
                                    "non-finite value, from finite inputs: its output '{}' {}: {}",
                                    node.loc.str(), node.name, node.op, compiled.kernel_name,
                                    graph.values[node.outputs[o]].name, out.desc.str(),
                                    describe_element(out.desc.shape, *at, scratch_[*at])));
    }
}

}  // namespace weft::detail
