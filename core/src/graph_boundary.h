// The graph boundary both executors share: host tensors in, host tensors out. Inputs and outputs
// are checked against the graph (count, shape and dtype) before anything is copied, so a caller's
// mistake is an error naming the value rather than a silent reinterpretation of its bytes.
#pragma once

#include <span>
#include <vector>

#include <fmt/format.h>

#include "weft/device.h"
#include "weft/error.h"
#include "weft/graph.h"
#include "weft/tensor.h"

namespace weft::detail {

inline std::vector<Tensor> make_graph_outputs(const Graph& graph) {
    std::vector<Tensor> out;
    for (int v : graph.outputs) out.emplace_back(graph.values[v].desc);
    return out;
}

// `call` names the entry point in the error ("run", "step").
inline void check_graph_inputs(const Graph& graph, std::span<const Tensor> inputs, std::size_t output_count,
                               const char* call) {
    if (inputs.size() != graph.inputs.size() || output_count != graph.outputs.size())
        throw Error(fmt::format("graph takes {} input(s) and {} output(s), {}() was given {} and {}",
                                graph.inputs.size(), graph.outputs.size(), call, inputs.size(), output_count));
    for (std::size_t i = 0; i < inputs.size(); ++i) {
        const Value& value = graph.values[graph.inputs[i]];
        // The dtype too: an f32 tensor where i32 labels belong would be reinterpreted silently.
        if (inputs[i].shape() != value.desc.shape || inputs[i].desc().dtype != value.desc.dtype)
            throw Error(fmt::format("input '{}' should be {}, got {}", value.name, value.desc.str(),
                                    inputs[i].desc().str()));
    }
}

inline void check_graph_outputs(const Graph& graph, std::span<Tensor> outputs) {
    for (std::size_t i = 0; i < outputs.size(); ++i) {
        const Value& value = graph.values[graph.outputs[i]];
        if (outputs[i].shape() != value.desc.shape)
            throw Error(fmt::format("output '{}' buffer should have shape {}, got {}", value.name,
                                    shape_str(value.desc.shape), shape_str(outputs[i].shape())));
    }
}

// Checks the inputs (check_graph_inputs) and copies them in. `device_view(v)` is where value v
// lives on the device in this executor's plan.
template <class DeviceView>
void copy_graph_inputs(const Graph& graph, Device& device, std::span<const Tensor> inputs,
                       std::size_t output_count, const char* call, DeviceView&& device_view) {
    check_graph_inputs(graph, inputs, output_count, call);
    for (std::size_t i = 0; i < inputs.size(); ++i)
        device.copy_from_host(device_view(graph.inputs[i]).data, inputs[i].data(), inputs[i].bytes());
}

// Call after the device has finished the step (synchronize).
template <class DeviceView>
void copy_graph_outputs(const Graph& graph, Device& device, std::span<Tensor> outputs, DeviceView&& device_view) {
    check_graph_outputs(graph, outputs);
    for (std::size_t i = 0; i < outputs.size(); ++i)
        device.copy_to_host(outputs[i].data(), device_view(graph.outputs[i]).data, outputs[i].bytes());
}

}  // namespace weft::detail
