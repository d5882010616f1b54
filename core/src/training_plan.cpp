// Planning the training step, in four steps: which nodes a gradient flows through (flow), how long
// each activation must live (liveness), where each node's input gradients go (routing), and where
// every buffer sits in the one arena (placement, timeline_placement.h). The timeline: forward
// positions 0..F-1, backward positions F..2F-1 (the node at forward position p runs backward at
// 2F-1-p), so an activation's bytes serve a gradient once backward no longer needs the activation.
#include <algorithm>

#include <fmt/format.h>

#include "arena_allocator.h"
#include "timeline_placement.h"
#include "weft/registry.h"
#include "weft/training.h"

namespace weft {
namespace {

using detail::align_up;
using detail::Interval;

// Positions of each node on the step's timeline.
struct Timeline {
    int forward_count = 0;
    std::vector<int> forward;  // per node
    int backward(int node) const { return 2 * forward_count - 1 - forward[node]; }
    int end() const { return 2 * forward_count; }
};

// Which values the loss depends on (`reaches`) and which depend on a learnable parameter
// (`requires_grad`): gradients exist where both hold.
struct GradientFlow {
    std::vector<bool> reaches, requires_grad;
    bool has_grad(int v) const { return requires_grad[v] && reaches[v]; }
};

GradientFlow find_gradient_flow(const Graph& graph, const Registry& registry, TrainingPlan& plan) {
    const int n_values = static_cast<int>(graph.values.size());
    const int F = static_cast<int>(plan.order.size());
    GradientFlow flow{std::vector<bool>(n_values, false), std::vector<bool>(n_values, false)};
    std::vector<bool> node_reaches(graph.nodes.size(), false);
    flow.reaches[plan.loss_value] = true;
    for (int p = F - 1; p >= 0; --p) {
        const int n = plan.order[p];
        for (int v : graph.nodes[n].outputs) node_reaches[n] = node_reaches[n] || flow.reaches[v];
        if (node_reaches[n])
            for (int v : graph.nodes[n].inputs) flow.reaches[v] = true;
    }
    plan.needs_backward.assign(graph.nodes.size(), false);
    for (int p = 0; p < F; ++p) {
        const int n = plan.order[p];
        const Node& node = graph.nodes[n];
        bool flows = std::any_of(node.params.begin(), node.params.end(), [](const ParamSpec& s) { return s.learnable; });
        for (int v : node.inputs) flows = flows || flow.requires_grad[v];
        for (int v : node.outputs) flow.requires_grad[v] = flows;
        plan.needs_backward[n] = flows && node_reaches[n];
        const OpSchema* schema = registry.find_op(node.op);
        if (plan.needs_backward[n] && schema && !schema->differentiable)
            throw Error(fmt::format("{}: node '{}': op '{}' has no gradient, but the loss '{}' depends on it "
                                    "through learnable parameters",
                                    node.loc.str(), node.name, node.op, graph.values[plan.loss_value].name));
    }
    return flow;
}

// The last position at which each activation is read: by a forward reader, by the backward of a
// node whose gradient rule needs it (the schema's BackwardNeeds), or at the end (graph outputs).
std::vector<int> activation_ends(const Graph& graph, const Registry& registry, const TrainingPlan& plan,
                                 const Timeline& t) {
    std::vector<int> end(graph.values.size(), -1);
    for (int v : graph.inputs) end[v] = t.end();
    for (int p = 0; p < t.forward_count; ++p) {
        const int n = plan.order[p];
        const Node& node = graph.nodes[n];
        const OpSchema* schema = registry.find_op(node.op);
        const BackwardNeeds needs = schema ? schema->backward_needs : BackwardNeeds{};
        for (int v : node.outputs) end[v] = std::max(end[v], p);
        for (int v : node.inputs) {
            end[v] = std::max(end[v], p);
            if (plan.needs_backward[n] && needs.inputs) end[v] = std::max(end[v], t.backward(n));
        }
        if (plan.needs_backward[n] && needs.outputs)
            for (int v : node.outputs) end[v] = std::max(end[v], t.backward(n));
    }
    for (int v : graph.outputs) end[v] = t.end();
    return end;
}

// Intervals for the graph inputs, every activation (an in-place output shares its input's
// interval when the input dies at that node) and every kernel's saved state.
void add_activation_intervals(const Graph& graph, const Registry& registry, TrainingPlan& plan, const Timeline& t,
                              const std::vector<int>& end, const std::vector<std::size_t>& saved_bytes,
                              bool reuse_memory, std::vector<Interval>& intervals) {
    std::vector<int> interval_of(graph.values.size(), -1);
    auto add = [&](int start, int stop, std::size_t bytes, std::size_t* offset) {
        intervals.push_back(Interval{start, stop, bytes, offset, {}});
        return static_cast<int>(intervals.size()) - 1;
    };
    for (int v : graph.inputs) {
        plan.values[v].bytes = graph.values[v].desc.bytes();
        interval_of[v] = add(-1, t.end(), plan.values[v].bytes, &plan.values[v].offset);
    }
    for (int p = 0; p < t.forward_count; ++p) {
        const int n = plan.order[p];
        const Node& node = graph.nodes[n];
        const OpSchema* schema = registry.find_op(node.op);
        for (std::size_t o = 0; o < node.outputs.size(); ++o) {
            const int out = node.outputs[o];
            plan.values[out].bytes = graph.values[out].desc.bytes();
            plan.activation_bytes = checked_add_bytes(plan.activation_bytes, plan.values[out].bytes, "the activations");
            // In place when the input dies here, forward and backward alike.
            if (o == 0 && schema && schema->inplace_input && *schema->inplace_input < static_cast<int>(node.inputs.size())) {
                const int in = node.inputs[*schema->inplace_input];
                const bool read_twice = std::count(node.inputs.begin(), node.inputs.end(), in) > 1;
                if (reuse_memory && end[in] == p && !read_twice && interval_of[in] >= 0 &&
                    graph.values[in].desc.bytes() == plan.values[out].bytes) {
                    Interval& shared = intervals[interval_of[in]];
                    shared.end = std::max(shared.end, end[out]);
                    shared.aliases.push_back(&plan.values[out].offset);
                    interval_of[out] = interval_of[in];
                    plan.in_place[n] = true;
                    continue;
                }
            }
            interval_of[out] = add(p, end[out], plan.values[out].bytes, &plan.values[out].offset);
        }
        if (n < static_cast<int>(saved_bytes.size()) && saved_bytes[n] > 0) {
            plan.saved[n].bytes = saved_bytes[n];
            plan.saved_bytes = checked_add_bytes(plan.saved_bytes, saved_bytes[n], "the kernels' saved state");
            add(p, plan.needs_backward[n] ? t.backward(n) : p, saved_bytes[n], &plan.saved[n].offset);
        }
    }
}

// Gradient routing. Backward visits readers latest-first, so the first reader of a value in that
// order writes its gradient buffer directly; every later one writes scratch that is added in.
// Returns, per value, the position its gradient buffer is first written (-1: none).
std::vector<int> route_gradients(const Graph& graph, TrainingPlan& plan, const Timeline& t, const GradientFlow& flow,
                                 std::vector<Interval>& intervals) {
    std::vector<bool> written(graph.values.size(), false);
    std::vector<int> grad_start(graph.values.size(), -1);
    auto add = [&](int start, int stop, std::size_t bytes, std::size_t* offset) {
        intervals.push_back(Interval{start, stop, bytes, offset, {}});
    };
    // The loss gradient (dL/dL = 1) is seeded just before the loss's producer runs backward.
    grad_start[plan.loss_value] = t.backward(graph.values[plan.loss_value].producer);
    written[plan.loss_value] = true;
    for (int p = t.forward_count - 1; p >= 0; --p) {
        const int n = plan.order[p];
        if (!plan.needs_backward[n]) continue;
        const Node& node = graph.nodes[n];
        const int now = t.backward(n);
        // Outputs whose gradient nobody produced get zeros (a second output nothing reads).
        for (std::size_t o = 0; o < node.outputs.size(); ++o) {
            const int v = node.outputs[o];
            if (!written[v]) {
                plan.zero_grad_outputs[n][o] = true;
                written[v] = true;
                grad_start[v] = now;
            }
            plan.grads[v].bytes = graph.values[v].desc.bytes();
            plan.gradient_bytes = checked_add_bytes(plan.gradient_bytes, plan.grads[v].bytes, "the gradients");
            add(grad_start[v], now, plan.grads[v].bytes, &plan.grads[v].offset);
        }
        for (std::size_t i = 0; i < node.inputs.size(); ++i) {
            const int v = node.inputs[i];
            TrainingPlan::GradTarget& target = plan.grad_inputs[n][i];
            target.slot.bytes = graph.values[v].desc.bytes();
            if (flow.has_grad(v) && !written[v]) {
                written[v] = true;
                grad_start[v] = now;  // the slot is grads[v], known once placed
                continue;
            }
            target.accumulate = flow.has_grad(v);
            add(now, now, target.slot.bytes, &target.slot.offset);
        }
    }
    return grad_start;
}

// After placement: direct writers of a gradient share its slot.
void point_direct_writers_at_gradients(const Graph& graph, TrainingPlan& plan, const Timeline& t,
                                       const GradientFlow& flow, const std::vector<int>& grad_start) {
    for (int n : plan.order) {
        if (!plan.needs_backward[n]) continue;
        for (std::size_t i = 0; i < graph.nodes[n].inputs.size(); ++i) {
            TrainingPlan::GradTarget& target = plan.grad_inputs[n][i];
            const int v = graph.nodes[n].inputs[i];
            if (!target.accumulate && flow.has_grad(v) && plan.grads[v].bytes > 0 && grad_start[v] == t.backward(n))
                target.slot = plan.grads[v];
        }
    }
}

void count_parameter_bytes(const Graph& graph, TrainingPlan& plan) {
    for (const Node& node : graph.nodes)
        for (const ParamSpec& p : node.params) {
            const std::size_t bytes = align_up(p.desc.bytes());
            plan.param_bytes = checked_add_bytes(plan.param_bytes, bytes, "the parameters");
            plan.param_grad_bytes = plan.param_bytes;
            if (p.learnable) plan.optimizer_bytes = checked_add_bytes(plan.optimizer_bytes, bytes, "the parameters");
        }
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
    Timeline t;
    t.forward_count = static_cast<int>(plan.order.size());
    t.forward.assign(n_nodes, -1);
    for (int p = 0; p < t.forward_count; ++p) t.forward[plan.order[p]] = p;

    const GradientFlow flow = find_gradient_flow(graph, registry, plan);
    if (loss.producer < 0 || !plan.needs_backward[loss.producer])
        throw Error(fmt::format("training: the loss '{}' does not depend on any learnable parameter", loss.name));
    plan.values.assign(n_values, {});
    plan.grads.assign(n_values, {});
    plan.saved.assign(n_nodes, {});
    plan.in_place.assign(n_nodes, false);
    plan.grad_inputs.assign(n_nodes, {});
    plan.zero_grad_outputs.assign(n_nodes, {});
    // Sized before any interval points into them: the pointers must stay valid.
    for (int n : plan.order) {
        plan.grad_inputs[n].resize(graph.nodes[n].inputs.size());
        plan.zero_grad_outputs[n].assign(graph.nodes[n].outputs.size(), false);
    }

    std::vector<Interval> intervals;
    intervals.reserve(2 * n_values + n_nodes * 4);
    const std::vector<int> end = activation_ends(graph, registry, plan, t);
    add_activation_intervals(graph, registry, plan, t, end, saved_bytes, reuse_memory, intervals);
    const std::vector<int> grad_start = route_gradients(graph, plan, t, flow, intervals);
    if (!reuse_memory)
        for (Interval& i : intervals) i.start = -1, i.end = t.end();
    plan.arena_bytes = detail::place_on_timeline(intervals);
    point_direct_writers_at_gradients(graph, plan, t, flow, grad_start);
    count_parameter_bytes(graph, plan);
    plan.workspace_bytes = workspace_bytes;
    return plan;
}

}  // namespace weft
