// Planning and running the training step. The plan is made over one timeline: forward positions
// 0..F-1, backward positions F..2F-1 (node at forward position p runs backward at 2F-1-p). Each
// buffer is an interval on it; intervals are placed first-fit in one arena, so an activation's
// bytes serve a gradient once backward no longer needs the activation.
#include "weft/training.h"

#include <algorithm>
#include <chrono>
#include <map>

#include <fmt/format.h>

#include "arena_allocator.h"
#include "device_buffer.h"
#include "graph_boundary.h"
#include "weft/registry.h"

namespace weft {
namespace {

using detail::align_up;
using detail::ArenaAllocator;

struct Interval {
    int start = 0, end = 0;  // inclusive positions; start -1: before the first node
    std::size_t bytes = 0;
    std::size_t* offset = nullptr;  // where the placement is written
    std::vector<std::size_t*> aliases;  // in-place outputs that share this interval's bytes
};

// First fit over the timeline: at each position, place what starts there, then free what ends
// there (a node's outputs never share bytes with its own inputs).
std::size_t place(std::vector<Interval>& intervals) {
    int first = 0, last = 0;
    for (const Interval& i : intervals) first = std::min(first, i.start), last = std::max(last, i.end);
    std::map<int, std::vector<int>> starts, ends;
    for (int k = 0; k < static_cast<int>(intervals.size()); ++k) {
        starts[intervals[k].start].push_back(k);
        ends[intervals[k].end].push_back(k);
    }
    ArenaAllocator arena;
    for (int t = first; t <= last; ++t) {
        if (auto it = starts.find(t); it != starts.end())
            for (int k : it->second) {
                Interval& i = intervals[k];
                *i.offset = arena.allocate(k, align_up(i.bytes));
                for (std::size_t* a : i.aliases) *a = *i.offset;
            }
        if (auto it = ends.find(t); it != ends.end())
            for (int k : it->second) arena.release(k);
    }
    return arena.peak();
}

}  // namespace

TrainingPlan plan_training(const Graph& graph, const Registry& registry, int loss_value,
                           const std::vector<std::size_t>& saved_bytes, std::size_t workspace_bytes,
                           bool reuse_memory) {
    TrainingPlan plan;
    const int n_nodes = static_cast<int>(graph.nodes.size());
    const int n_values = static_cast<int>(graph.values.size());
    if (loss_value < 0 || loss_value >= n_values) throw Error("training: no loss value");
    const Value& loss = graph.values[loss_value];
    if (loss.desc.numel() != 1 || loss.desc.dtype != DType::f32)
        throw Error(fmt::format("training: the loss '{}' must be one f32 number, it is {}", loss.name,
                                loss.desc.str()));
    plan.loss_value = loss_value;
    plan.order = graph.topological_order();
    const int F = static_cast<int>(plan.order.size());
    const int end_of_step = 2 * F;
    std::vector<int> fwd(n_nodes, -1);
    for (int p = 0; p < F; ++p) fwd[plan.order[p]] = p;
    auto bwd = [&](int node) { return 2 * F - 1 - fwd[node]; };

    // Which values the loss depends on, and which depend on a learnable parameter: gradients
    // exist where both hold.
    std::vector<bool> reaches(n_values, false), requires_grad(n_values, false);
    std::vector<bool> node_reaches(n_nodes, false);
    reaches[loss_value] = true;
    for (int p = F - 1; p >= 0; --p) {
        const Node& node = graph.nodes[plan.order[p]];
        for (int v : node.outputs) node_reaches[plan.order[p]] = node_reaches[plan.order[p]] || reaches[v];
        if (node_reaches[plan.order[p]])
            for (int v : node.inputs) reaches[v] = true;
    }
    plan.needs_backward.assign(n_nodes, false);
    for (int p = 0; p < F; ++p) {
        const int n = plan.order[p];
        const Node& node = graph.nodes[n];
        bool flows = std::any_of(node.params.begin(), node.params.end(), [](const ParamSpec& s) { return s.learnable; });
        for (int v : node.inputs) flows = flows || requires_grad[v];
        for (int v : node.outputs) requires_grad[v] = flows;
        plan.needs_backward[n] = flows && node_reaches[n];
        if (plan.needs_backward[n]) {
            const OpSchema* schema = registry.find_op(node.op);
            if (schema && !schema->differentiable)
                throw Error(fmt::format("{}: node '{}': op '{}' has no gradient, but the loss '{}' depends on it "
                                        "through learnable parameters",
                                        node.loc.str(), node.name, node.op, loss.name));
        }
    }
    auto has_grad = [&](int v) { return requires_grad[v] && reaches[v]; };

    plan.values.assign(n_values, {});
    plan.grads.assign(n_values, {});
    plan.saved.assign(n_nodes, {});
    plan.in_place.assign(n_nodes, false);
    plan.grad_inputs.assign(n_nodes, {});
    plan.zero_grad_outputs.assign(n_nodes, {});

    // Activations: alive from their producer to their last forward reader, or to the backward of
    // a node whose gradient rule reads them.
    std::vector<int> act_end(n_values, -1), act_start(n_values, -1);
    for (int v : graph.inputs) act_start[v] = -1, act_end[v] = end_of_step;
    for (int p = 0; p < F; ++p) {
        const int n = plan.order[p];
        const Node& node = graph.nodes[n];
        const OpSchema* schema = registry.find_op(node.op);
        const BackwardNeeds needs = schema ? schema->backward_needs : BackwardNeeds{};
        for (int v : node.outputs) act_start[v] = p, act_end[v] = std::max(act_end[v], p);
        for (int v : node.inputs) {
            act_end[v] = std::max(act_end[v], p);
            if (plan.needs_backward[n] && needs.inputs) act_end[v] = std::max(act_end[v], bwd(n));
        }
        if (plan.needs_backward[n] && needs.outputs)
            for (int v : node.outputs) act_end[v] = std::max(act_end[v], bwd(n));
    }
    for (int v : graph.outputs) act_end[v] = end_of_step;

    std::vector<Interval> intervals;
    intervals.reserve(2 * n_values + n_nodes * 4);
    std::vector<int> interval_of(n_values, -1);
    auto add = [&](int start, int end, std::size_t bytes, std::size_t* offset) {
        intervals.push_back(Interval{start, end, bytes, offset, {}});
        return static_cast<int>(intervals.size()) - 1;
    };
    for (int v : graph.inputs) {
        plan.values[v].bytes = graph.values[v].desc.bytes();
        interval_of[v] = add(-1, end_of_step, plan.values[v].bytes, &plan.values[v].offset);
    }
    for (int p = 0; p < F; ++p) {
        const int n = plan.order[p];
        const Node& node = graph.nodes[n];
        const OpSchema* schema = registry.find_op(node.op);
        for (std::size_t o = 0; o < node.outputs.size(); ++o) {
            const int out = node.outputs[o];
            plan.values[out].bytes = graph.values[out].desc.bytes();
            plan.activation_bytes += plan.values[out].bytes;
            // In place when the input dies here, forward and backward alike.
            if (o == 0 && schema && schema->inplace_input && *schema->inplace_input < static_cast<int>(node.inputs.size())) {
                const int in = node.inputs[*schema->inplace_input];
                const bool dies_here = act_end[in] == p;
                const bool read_twice = std::count(node.inputs.begin(), node.inputs.end(), in) > 1;
                if (reuse_memory && dies_here && !read_twice && interval_of[in] >= 0 &&
                    graph.values[in].desc.bytes() == plan.values[out].bytes) {
                    Interval& shared = intervals[interval_of[in]];
                    shared.end = std::max(shared.end, act_end[out]);
                    shared.aliases.push_back(&plan.values[out].offset);
                    interval_of[out] = interval_of[in];
                    plan.in_place[n] = true;
                    continue;
                }
            }
            interval_of[out] = add(p, act_end[out], plan.values[out].bytes, &plan.values[out].offset);
        }
        if (n < static_cast<int>(saved_bytes.size()) && saved_bytes[n] > 0) {
            plan.saved[n].bytes = saved_bytes[n];
            plan.saved_bytes += saved_bytes[n];
            add(p, plan.needs_backward[n] ? bwd(n) : p, saved_bytes[n], &plan.saved[n].offset);
        }
    }

    // Gradients. Backward visits readers latest-first, so the first reader of a value in that
    // order writes its gradient buffer, every later one writes scratch and adds it in.
    std::vector<bool> written(n_values, false);
    std::vector<int> grad_start(n_values, -1);
    // grad_inputs slots must outlive reallocation of `intervals`: size them first.
    for (int p = 0; p < F; ++p) {
        const int n = plan.order[p];
        plan.grad_inputs[n].resize(graph.nodes[n].inputs.size());
        plan.zero_grad_outputs[n].assign(graph.nodes[n].outputs.size(), false);
    }
    // The loss gradient (dL/dL = 1) is seeded just before the loss's producer runs backward.
    const int loss_producer = graph.values[loss_value].producer;
    if (loss_producer < 0 || !plan.needs_backward[loss_producer])
        throw Error(fmt::format("training: the loss '{}' does not depend on any learnable parameter", loss.name));
    grad_start[loss_value] = bwd(loss_producer);
    written[loss_value] = true;
    for (int p = F - 1; p >= 0; --p) {
        const int n = plan.order[p];
        if (!plan.needs_backward[n]) continue;
        const Node& node = graph.nodes[n];
        const int t = bwd(n);
        // Outputs whose gradient nobody produced get zeros (a second output nothing reads).
        for (std::size_t o = 0; o < node.outputs.size(); ++o) {
            const int v = node.outputs[o];
            if (!written[v]) {
                plan.zero_grad_outputs[n][o] = true;
                written[v] = true;
                grad_start[v] = t;
            }
            plan.grads[v].bytes = graph.values[v].desc.bytes();
            plan.gradient_bytes += plan.grads[v].bytes;
            add(grad_start[v], t, plan.grads[v].bytes, &plan.grads[v].offset);
        }
        for (std::size_t i = 0; i < node.inputs.size(); ++i) {
            const int v = node.inputs[i];
            TrainingPlan::GradTarget& target = plan.grad_inputs[n][i];
            target.slot.bytes = graph.values[v].desc.bytes();
            if (has_grad(v) && !written[v]) {
                written[v] = true;
                grad_start[v] = t;
                target.slot.offset = 0;  // filled once grads[v] is placed (below)
                continue;
            }
            target.accumulate = has_grad(v);
            add(t, t, target.slot.bytes, &target.slot.offset);
        }
    }
    if (!reuse_memory)
        for (Interval& i : intervals) i.start = -1, i.end = end_of_step;
    plan.arena_bytes = place(intervals);
    // Direct writers share the gradient's slot.
    for (int p = 0; p < F; ++p) {
        const int n = plan.order[p];
        if (!plan.needs_backward[n]) continue;
        for (std::size_t i = 0; i < graph.nodes[n].inputs.size(); ++i) {
            TrainingPlan::GradTarget& target = plan.grad_inputs[n][i];
            const int v = graph.nodes[n].inputs[i];
            if (!target.accumulate && has_grad(v) && plan.grads[v].bytes > 0 && grad_start[v] == bwd(n))
                target.slot = plan.grads[v];
        }
    }

    for (const Node& node : graph.nodes)
        for (const ParamSpec& p : node.params) {
            const std::size_t bytes = align_up(p.desc.bytes());
            plan.param_bytes += bytes;
            plan.param_grad_bytes += bytes;
            if (p.learnable) plan.optimizer_bytes += bytes;
        }
    plan.workspace_bytes = workspace_bytes;
    return plan;
}

namespace {

using detail::DeviceBuffer;
using detail::copy_graph_inputs;
using detail::copy_graph_outputs;
using detail::make_graph_outputs;

struct CompiledNode {
    int node = -1;
    std::unique_ptr<Kernel> kernel;
    std::string kernel_name;
    std::vector<TensorView> inputs, outputs, params, grad_params;
    std::vector<TensorView> grad_outputs, grad_inputs;
    std::vector<std::pair<TensorView, TensorView>> accumulate;  // (gradient, scratch) after backward
    std::vector<TensorView> zero_fill;                          // output gradients nothing wrote
    void* saved = nullptr;
};

}  // namespace

struct TrainingExecutor::Impl {
    Graph graph;
    std::unique_ptr<Device> device;
    TrainingPlan plan;
    DeviceBuffer arena, param_storage, grad_storage, workspace;
    std::vector<CompiledNode> nodes;
    std::vector<Parameter> parameters;
    TensorView loss_grad;
    bool profiling = false;
    std::vector<double> forward_seconds, backward_seconds;

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
    TrainingPlan provisional = plan_training(s.graph, registry, loss_value, {}, 0, options.reuse_memory);
    std::vector<std::size_t> saved(n_nodes, 0);
    std::size_t workspace_bytes = 0;
    std::vector<std::unique_ptr<Kernel>> kernels(n_nodes);
    std::vector<std::string> names(n_nodes);
    auto make_kernels = [&](const TrainingPlan& plan) {
        for (int n : plan.order) {
            const Node& node = s.graph.nodes[n];
            try {
                const RegisteredKernel& k = registry.select_kernel(node.op, options.backend, options.kernel_overrides);
                std::vector<TensorDesc> in_descs, out_descs;
                for (int v : node.inputs) in_descs.push_back(s.graph.values[v].desc);
                for (int v : node.outputs) out_descs.push_back(s.graph.values[v].desc);
                KernelConfig config{node.name, node.attrs, in_descs, out_descs, node.params, *s.device,
                                    /*training=*/true, plan.in_place[n]};
                kernels[n] = k.factory.create(config);
                if (!kernels[n]) throw Error(fmt::format("kernel {} returned nothing", k.factory.name));
                if (plan.needs_backward[n] && !kernels[n]->has_backward())
                    throw Error(fmt::format("kernel {} has no backward pass", k.factory.name));
                names[n] = fmt::format("{}:{}", k.library.stem().string(), k.factory.name);
                saved[n] = kernels[n]->saved_bytes();
                workspace_bytes = std::max(workspace_bytes, kernels[n]->workspace_bytes());
            } catch (const std::exception& e) {
                throw Error(fmt::format("{}: node '{}': cannot create a {} training kernel for op '{}': {}",
                                        node.loc.str(), node.name, options.backend, node.op, e.what()));
            }
        }
    };
    make_kernels(provisional);
    s.plan = plan_training(s.graph, registry, loss_value, saved, workspace_bytes, options.reuse_memory);
    if (s.plan.in_place != provisional.in_place) make_kernels(s.plan);  // saved sizes do not move in-place choices

    s.arena = DeviceBuffer(*s.device, s.plan.arena_bytes);
    s.param_storage = DeviceBuffer(*s.device, s.plan.param_bytes);
    s.grad_storage = DeviceBuffer(*s.device, s.plan.param_grad_bytes);
    s.workspace = DeviceBuffer(*s.device, s.plan.workspace_bytes);
    s.forward_seconds.assign(n_nodes, 0.0);
    s.backward_seconds.assign(n_nodes, 0.0);
    s.loss_grad = s.at(s.plan.grads[loss_value], s.graph.values[loss_value].desc);

    std::size_t param_offset = 0;
    for (int n : s.plan.order) {
        const Node& node = s.graph.nodes[n];
        CompiledNode c;
        c.node = n;
        c.kernel = std::move(kernels[n]);
        c.kernel_name = names[n];
        for (int v : node.inputs) c.inputs.push_back(s.at(s.plan.values[v], s.graph.values[v].desc));
        for (int v : node.outputs) c.outputs.push_back(s.at(s.plan.values[v], s.graph.values[v].desc));
        for (const ParamSpec& p : node.params) {
            void* value = s.param_storage.bytes() + param_offset;
            void* grad = s.grad_storage.bytes() + param_offset;
            const Tensor& w = weights.at(node.name + "." + p.name);
            s.device->copy_from_host(value, w.data(), w.bytes());
            s.device->fill_zero(grad, p.desc.bytes());
            c.params.push_back(TensorView{value, p.desc});
            c.grad_params.push_back(TensorView{grad, p.desc});
            s.parameters.push_back(Parameter{node.name + "." + p.name, p, c.params.back(), c.grad_params.back()});
            param_offset += align_up(p.desc.bytes());
        }
        if (s.plan.saved[n].bytes > 0) c.saved = s.arena.bytes() + s.plan.saved[n].offset;
        if (s.plan.needs_backward[n]) {
            for (std::size_t o = 0; o < node.outputs.size(); ++o) {
                const int v = node.outputs[o];
                c.grad_outputs.push_back(s.at(s.plan.grads[v], s.graph.values[v].desc));
                if (s.plan.zero_grad_outputs[n][o]) c.zero_fill.push_back(c.grad_outputs.back());
            }
            for (std::size_t i = 0; i < node.inputs.size(); ++i) {
                const int v = node.inputs[i];
                const TrainingPlan::GradTarget& target = s.plan.grad_inputs[n][i];
                c.grad_inputs.push_back(s.at(target.slot, s.graph.values[v].desc));
                if (target.accumulate)
                    c.accumulate.emplace_back(s.at(s.plan.grads[v], s.graph.values[v].desc), c.grad_inputs.back());
            }
        }
        s.nodes.push_back(std::move(c));
    }
}

TrainingExecutor::~TrainingExecutor() = default;

std::vector<Tensor> TrainingExecutor::make_outputs() const { return make_graph_outputs(impl_->graph); }

void TrainingExecutor::step(std::span<const Tensor> inputs, std::span<Tensor> outputs) {
    Impl& s = *impl_;
    auto device_view = [&](int v) { return s.at(s.plan.values[v], s.graph.values[v].desc); };
    copy_graph_inputs(s.graph, *s.device, inputs, outputs.size(), "step", device_view);
    using Clock = std::chrono::steady_clock;
    auto fail = [&](const CompiledNode& c, const char* pass, const std::exception& e) {
        const Node& node = s.graph.nodes[c.node];
        return Error(fmt::format("{}: node '{}' (kernel {}) failed in {}: {}", node.loc.str(), node.name, c.kernel_name,
                                 pass, e.what()));
    };
    for (CompiledNode& c : s.nodes) {
        const auto start = s.profiling ? Clock::now() : Clock::time_point{};
        try {
            c.kernel->forward(ForwardArgs{c.inputs, c.outputs, c.params, s.workspace.ptr, c.saved});
        } catch (const std::exception& e) {
            throw fail(c, "forward", e);
        }
        if (s.profiling) {
            s.device->synchronize();
            s.forward_seconds[c.node] += std::chrono::duration<double>(Clock::now() - start).count();
        }
    }
    const float one = 1.f;
    s.device->copy_from_host(s.loss_grad.data, &one, sizeof one);
    for (auto it = s.nodes.rbegin(); it != s.nodes.rend(); ++it) {
        CompiledNode& c = *it;
        if (!s.plan.needs_backward[c.node]) continue;
        const auto start = s.profiling ? Clock::now() : Clock::time_point{};
        for (const TensorView& z : c.zero_fill) s.device->fill_zero(z.data, z.desc.bytes());
        try {
            c.kernel->backward(BackwardArgs{c.inputs, c.outputs, c.grad_outputs, c.grad_inputs, c.params,
                                            c.grad_params, s.workspace.ptr, c.saved});
        } catch (const std::exception& e) {
            throw fail(c, "backward", e);
        }
        for (const auto& [grad, scratch] : c.accumulate)
            s.device->accumulate(grad.as<float>(), scratch.as<const float>(), grad.numel());
        if (s.profiling) {
            s.device->synchronize();
            s.backward_seconds[c.node] += std::chrono::duration<double>(Clock::now() - start).count();
        }
    }
    s.device->synchronize();
    copy_graph_outputs(s.graph, *s.device, outputs, device_view);
}

const std::vector<TrainingExecutor::Parameter>& TrainingExecutor::parameters() const { return impl_->parameters; }

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
    for (const auto& c : impl_->nodes)
        if (c.node == node) return c.kernel_name;
    return {};
}

void TrainingExecutor::set_profiling(bool on) { impl_->profiling = on; }
const std::vector<double>& TrainingExecutor::forward_seconds() const { return impl_->forward_seconds; }
const std::vector<double>& TrainingExecutor::backward_seconds() const { return impl_->backward_seconds; }
void TrainingExecutor::reset_profile() {
    std::fill(impl_->forward_seconds.begin(), impl_->forward_seconds.end(), 0.0);
    std::fill(impl_->backward_seconds.begin(), impl_->backward_seconds.end(), 0.0);
}

}  // namespace weft
