// Compile once, run many: kernels are created and every buffer placed when the executor is
// built; run() only copies the graph inputs in, calls each kernel, and copies the outputs out.
#include "weft/executor.h"

#include <algorithm>
#include <optional>

#include <fmt/format.h>

#include "graph_boundary.h"
#include "node_compiler.h"
#include "numerics_check.h"
#include "weft/registry.h"

namespace weft {

using detail::CompiledNode;
using detail::DeviceBuffer;
using detail::copy_graph_inputs;
using detail::copy_graph_outputs;
using detail::make_graph_outputs;

struct Executor::Impl {
    Graph graph;
    std::unique_ptr<Device> device;
    BufferPlan plan;
    DeviceBuffer arena, workspace;
    detail::ParameterStorage params;
    std::vector<CompiledNode> nodes;
    std::vector<std::string> kernel_names;  // by node index
    std::vector<DeviceBuffer> saved;  // per compiled node; empty for inference kernels
    bool profiling = false;
    std::vector<double> node_seconds;
    std::optional<detail::NumericsCheck> numerics;  // with CompileOptions::check_numerics

    TensorView value_view(int v) const {
        return TensorView{arena.bytes() + plan.values[v].offset, graph.values[v].desc};
    }
};

Executor::Executor(const Graph& graph, const Registry& registry, const WeightMap& weights,
                   const CompileOptions& options)
    : impl_(std::make_unique<Impl>()) {
    Impl& s = *impl_;
    s.graph = graph;
    check_weights(s.graph, weights);
    s.device = registry.create_device(options.backend, options.device);
    s.plan = plan_buffers(s.graph, registry);
    s.arena = DeviceBuffer(*s.device, s.plan.arena_bytes);
    s.node_seconds.assign(s.graph.nodes.size(), 0.0);
    // Parameters live on the device for the executor's lifetime.
    s.params = detail::allocate_parameters(s.graph, *s.device);
    detail::upload_parameters(s.params, s.graph, weights, *s.device);

    std::size_t workspace_bytes = 0;
    for (int n : s.plan.order) {
        const Node& node = s.graph.nodes[n];
        CompiledNode c;
        c.node = n;
        for (int v : node.inputs) c.inputs.push_back(s.value_view(v));
        for (int v : node.outputs) c.outputs.push_back(s.value_view(v));
        c.params = s.params.views[n];
        detail::create_kernel(c, s.graph, registry, options, *s.device, /*training=*/false, s.plan.in_place[n]);
        workspace_bytes = std::max(workspace_bytes, c.kernel->workspace_bytes());
        s.saved.emplace_back(*s.device, c.kernel->saved_bytes());
        c.saved = s.saved.back().ptr;
        s.nodes.push_back(std::move(c));
    }
    s.kernel_names = detail::kernel_names_by_node(s.nodes, s.graph.nodes.size());
    s.plan.workspace_bytes = workspace_bytes;
    s.workspace = DeviceBuffer(*s.device, workspace_bytes);
    if (options.check_numerics) s.numerics.emplace(s.graph);
}

Executor::~Executor() = default;

std::vector<Tensor> Executor::make_outputs() const { return make_graph_outputs(impl_->graph); }

void Executor::run(std::span<const Tensor> inputs, std::span<Tensor> outputs) {
    Impl& s = *impl_;
    auto device_view = [&](int v) { return s.value_view(v); };
    copy_graph_inputs(s.graph, *s.device, inputs, outputs.size(), "run", device_view);
    if (s.numerics) s.numerics->check_inputs(s.graph, inputs);
    detail::run_forward(s.graph, s.nodes, *s.device, s.workspace.ptr, s.profiling ? &s.node_seconds : nullptr,
                        s.numerics ? &*s.numerics : nullptr);
    s.device->synchronize();
    copy_graph_outputs(s.graph, *s.device, outputs, device_view);
}

const BufferPlan& Executor::plan() const { return impl_->plan; }
const Graph& Executor::graph() const { return impl_->graph; }
Device& Executor::device() { return *impl_->device; }

std::string Executor::kernel_name(int node) const { return impl_->kernel_names.at(static_cast<std::size_t>(node)); }

void Executor::set_profiling(bool on) { impl_->profiling = on; }
const std::vector<double>& Executor::node_seconds() const { return impl_->node_seconds; }
void Executor::reset_profile() { std::fill(impl_->node_seconds.begin(), impl_->node_seconds.end(), 0.0); }

}  // namespace weft
