// Running the training step: the executor compiles every node once in training mode (through the
// same path as inference, node_compiler.h), places every buffer by the plan (training_plan.cpp),
// and per batch runs forward, seeds dL/dL = 1, runs backward in reverse and sums gradients where
// a value has several readers.
#include <algorithm>
#include <optional>

#include <fmt/format.h>

#include "arena_allocator.h"
#include "graph_boundary.h"
#include "node_compiler.h"
#include "numerics_check.h"
#include "weft/registry.h"
#include "weft/training.h"

namespace weft {

namespace {

using detail::align_up;
using detail::CompiledNode;
using detail::DeviceBuffer;
using detail::copy_graph_inputs;
using detail::copy_graph_outputs;
using detail::make_graph_outputs;

// What backward needs of a node beyond what forward has (CompiledNode).
struct NodeGradients {
    std::vector<TensorView> grad_params, grad_outputs, grad_inputs;
    std::vector<std::pair<TensorView, TensorView>> accumulate;  // (gradient, scratch) after backward
    std::vector<TensorView> zero_fill;                          // output gradients nothing wrote
};

}  // namespace

struct TrainingExecutor::Impl {
    Graph graph;
    std::unique_ptr<Device> device;
    TrainingPlan plan;
    DeviceBuffer arena, workspace;
    detail::ParameterStorage params, grads;  // grads: the same layout as params
    std::vector<CompiledNode> nodes;
    std::vector<std::string> kernel_names;  // by node index
    std::vector<NodeGradients> gradients;  // per compiled node
    std::vector<Parameter> parameters;
    TensorView loss_grad;
    bool profiling = false;
    std::vector<double> forward_seconds, backward_seconds;
    std::vector<std::pair<std::size_t, std::size_t>> node_parameters;  // per compiled node: first, count
    GradientsReady gradients_ready;
    std::optional<detail::NumericsCheck> numerics;  // forward outputs, with CompileOptions::check_numerics

    TensorView at(const TrainingPlan::Slot& slot, const TensorDesc& desc) const {
        return TensorView{arena.bytes() + slot.offset, desc};
    }
};

TrainingExecutor::TrainingExecutor(const Graph& graph, const Registry& registry, const WeightMap& weights,
                                   const CompileOptions& options, const std::string& loss)
    : impl_(std::make_unique<Impl>()) {
    Impl& s = *impl_;
    s.graph = graph;
    check_weights(s.graph, weights);
    const int loss_value = s.graph.find_value(loss);
    if (loss_value < 0) throw Error(fmt::format("training: the graph has no value named '{}' to minimise", loss));
    if (std::find(s.graph.outputs.begin(), s.graph.outputs.end(), loss_value) == s.graph.outputs.end())
        throw Error(fmt::format("training: the loss '{}' must be a graph output", loss));
    s.device = registry.create_device(options.backend, options.device);
    const int n_nodes = static_cast<int>(s.graph.nodes.size());

    // Kernels first: their saved state and scratch sizes enter the plan. The in-place decision
    // does too, so kernels are made once with a provisional plan and remade only if it changed.
    const TrainingPlan provisional = plan_training(s.graph, registry, loss_value, {}, 0, options.reuse_memory);
    std::vector<CompiledNode> compiled(n_nodes);
    std::vector<std::size_t> saved(n_nodes, 0);
    std::size_t workspace_bytes = 0;
    auto make_kernels = [&](const TrainingPlan& plan) {
        for (int n : plan.order) {
            compiled[n].node = n;
            detail::create_kernel(compiled[n], s.graph, registry, options, *s.device, /*training=*/true,
                                  plan.in_place[n]);
            if (plan.needs_backward[n] && !compiled[n].kernel->has_backward()) {
                const Node& node = s.graph.nodes[n];
                throw Error(fmt::format("{}: node '{}': cannot create a {} training kernel for op '{}': kernel {} has "
                                        "no backward pass",
                                        node.loc.str(), node.name, options.backend, node.op, compiled[n].kernel_name));
            }
            saved[n] = compiled[n].kernel->saved_bytes();
            workspace_bytes = std::max(workspace_bytes, compiled[n].kernel->workspace_bytes());
        }
    };
    make_kernels(provisional);
    s.plan = plan_training(s.graph, registry, loss_value, saved, workspace_bytes, options.reuse_memory);
    if (s.plan.in_place != provisional.in_place) make_kernels(s.plan);  // saved sizes do not move in-place choices

    s.arena = DeviceBuffer(*s.device, s.plan.arena_bytes);
    s.workspace = DeviceBuffer(*s.device, s.plan.workspace_bytes);
    s.params = detail::allocate_parameters(s.graph, *s.device);
    s.grads = detail::allocate_parameters(s.graph, *s.device);
    detail::upload_parameters(s.params, s.graph, weights, *s.device);
    s.device->fill_zero(s.grads.buffer.ptr, s.plan.param_grad_bytes);
    s.forward_seconds.assign(n_nodes, 0.0);
    s.backward_seconds.assign(n_nodes, 0.0);
    s.loss_grad = s.at(s.plan.grads[loss_value], s.graph.values[loss_value].desc);
    if (options.check_numerics) s.numerics.emplace(s.graph);

    for (int n : s.plan.order) {
        const Node& node = s.graph.nodes[n];
        CompiledNode& c = compiled[n];
        for (int v : node.inputs) c.inputs.push_back(s.at(s.plan.values[v], s.graph.values[v].desc));
        for (int v : node.outputs) c.outputs.push_back(s.at(s.plan.values[v], s.graph.values[v].desc));
        c.params = s.params.views[n];
        if (s.plan.saved[n].bytes > 0) c.saved = s.arena.bytes() + s.plan.saved[n].offset;
        NodeGradients g;
        g.grad_params = s.grads.views[n];
        s.node_parameters.emplace_back(s.parameters.size(), node.params.size());
        for (std::size_t p = 0; p < node.params.size(); ++p)
            s.parameters.push_back(
                Parameter{node.name + "." + node.params[p].name, node.params[p], c.params[p], g.grad_params[p]});
        if (s.plan.needs_backward[n]) {
            for (std::size_t o = 0; o < node.outputs.size(); ++o) {
                const int v = node.outputs[o];
                g.grad_outputs.push_back(s.at(s.plan.grads[v], s.graph.values[v].desc));
                if (s.plan.zero_grad_outputs[n][o]) g.zero_fill.push_back(g.grad_outputs.back());
            }
            for (std::size_t i = 0; i < node.inputs.size(); ++i) {
                const int v = node.inputs[i];
                const TrainingPlan::GradTarget& target = s.plan.grad_inputs[n][i];
                g.grad_inputs.push_back(s.at(target.slot, s.graph.values[v].desc));
                if (target.accumulate)
                    g.accumulate.emplace_back(s.at(s.plan.grads[v], s.graph.values[v].desc), g.grad_inputs.back());
            }
        }
        s.nodes.push_back(std::move(c));
        s.gradients.push_back(std::move(g));
    }
    s.kernel_names = detail::kernel_names_by_node(s.nodes, s.graph.nodes.size());
}

TrainingExecutor::~TrainingExecutor() = default;

std::vector<Tensor> TrainingExecutor::make_outputs() const { return make_graph_outputs(impl_->graph); }

void TrainingExecutor::step(std::span<const Tensor> inputs, std::span<Tensor> outputs) {
    Impl& s = *impl_;
    auto device_view = [&](int v) { return s.at(s.plan.values[v], s.graph.values[v].desc); };
    copy_graph_inputs(s.graph, *s.device, inputs, outputs.size(), "step", device_view);
    if (s.numerics) s.numerics->check_inputs(s.graph, inputs);
    detail::run_forward(s.graph, s.nodes, *s.device, s.workspace.ptr, s.profiling ? &s.forward_seconds : nullptr,
                        s.numerics ? &*s.numerics : nullptr);
    const float one = 1.f;
    s.device->copy_from_host(s.loss_grad.data, &one, sizeof one);
    for (std::size_t k = s.nodes.size(); k-- > 0;) {
        CompiledNode& c = s.nodes[k];
        const NodeGradients& g = s.gradients[k];
        if (!s.plan.needs_backward[c.node]) continue;
        detail::timed(*s.device, s.profiling ? &s.backward_seconds : nullptr, c.node, [&] {
            for (const TensorView& z : g.zero_fill) s.device->fill_zero(z.data, z.desc.bytes());
            detail::run_node(s.graph, c, "backward", [&] {
                c.kernel->backward(BackwardArgs{c.inputs, c.outputs, g.grad_outputs, g.grad_inputs, c.params,
                                                g.grad_params, s.workspace.ptr, c.saved});
            });
            for (const auto& [grad, scratch] : g.accumulate)
                s.device->accumulate(grad.as<float>(), scratch.as<const float>(), grad.numel());
        });
        if (const auto [first, count] = s.node_parameters[k]; s.gradients_ready && count > 0) {
            s.device->synchronize();
            s.gradients_ready(first, count);
        }
    }
    s.device->synchronize();
    copy_graph_outputs(s.graph, *s.device, outputs, device_view);
}

const std::vector<TrainingExecutor::Parameter>& TrainingExecutor::parameters() const { return impl_->parameters; }

void TrainingExecutor::set_gradients_ready(GradientsReady hook) { impl_->gradients_ready = std::move(hook); }

WeightMap TrainingExecutor::weights() const {
    WeightMap out;
    impl_->device->synchronize();
    for (const Parameter& p : impl_->parameters) {
        Tensor t(p.spec.desc);
        impl_->device->copy_to_host(t.data(), p.value.data, t.bytes());
        out.emplace(p.name, std::move(t));
    }
    return out;
}

void TrainingExecutor::set_weights(const WeightMap& weights) {
    check_weights(impl_->graph, weights);
    for (const Parameter& p : impl_->parameters) {
        const Tensor& w = weights.at(p.name);
        impl_->device->copy_from_host(p.value.data, w.data(), w.bytes());
    }
    impl_->device->synchronize();
}

const TrainingPlan& TrainingExecutor::plan() const { return impl_->plan; }
const Graph& TrainingExecutor::graph() const { return impl_->graph; }
Device& TrainingExecutor::device() { return *impl_->device; }

std::string TrainingExecutor::kernel_name(int node) const {
    return impl_->kernel_names.at(static_cast<std::size_t>(node));
}

void TrainingExecutor::set_profiling(bool on) { impl_->profiling = on; }
const std::vector<double>& TrainingExecutor::forward_seconds() const { return impl_->forward_seconds; }
const std::vector<double>& TrainingExecutor::backward_seconds() const { return impl_->backward_seconds; }
void TrainingExecutor::reset_profile() {
    std::fill(impl_->forward_seconds.begin(), impl_->forward_seconds.end(), 0.0);
    std::fill(impl_->backward_seconds.begin(), impl_->backward_seconds.end(), 0.0);
}

}  // namespace weft
