// Liveness-based buffer planning: activations share one arena; a value's bytes are reused once
// its last reader has run, and element-wise ops overwrite their input when nothing reads it later.
#include <algorithm>

#include "arena_allocator.h"
#include "weft/executor.h"
#include "weft/registry.h"

namespace weft {
namespace {

using detail::align_up;
using detail::ArenaAllocator;

}  // namespace

BufferPlan plan_buffers(const Graph& graph, const Registry& registry) {
    BufferPlan plan;
    plan.order = graph.topological_order();
    const int n_values = static_cast<int>(graph.values.size());
    constexpr int kForever = 1 << 30;

    // last_use[v]: position in the order of the last node reading v (graph outputs: forever).
    std::vector<int> last_use(n_values, -1);
    for (int pos = 0; pos < static_cast<int>(plan.order.size()); ++pos)
        for (int v : graph.nodes[plan.order[pos]].inputs) last_use[v] = pos;
    for (int v : graph.outputs) last_use[v] = kForever;

    plan.values.assign(n_values, {});
    plan.in_place.assign(graph.nodes.size(), false);
    ArenaAllocator arena;
    for (int v = 0; v < n_values; ++v) plan.largest_value_bytes = std::max(plan.largest_value_bytes, graph.values[v].desc.bytes());
    for (int v : graph.inputs) {
        plan.values[v] = {arena.allocate(v, align_up(graph.values[v].desc.bytes())), graph.values[v].desc.bytes()};
        if (last_use[v] < 0) arena.release(v);
    }

    for (int pos = 0; pos < static_cast<int>(plan.order.size()); ++pos) {
        const int n = plan.order[pos];
        const Node& node = graph.nodes[n];
        const OpSchema* schema = registry.find_op(node.op);
        for (std::size_t o = 0; o < node.outputs.size(); ++o) {
            const int out = node.outputs[o];
            const std::size_t bytes = graph.values[out].desc.bytes();
            if (o == 0 && schema && schema->inplace_input && *schema->inplace_input < static_cast<int>(node.inputs.size())) {
                const int in = node.inputs[*schema->inplace_input];
                const bool read_later = last_use[in] > pos;
                const bool read_twice_here = std::count(node.inputs.begin(), node.inputs.end(), in) > 1;
                if (!read_later && !read_twice_here && graph.values[in].desc.bytes() == bytes) {
                    plan.in_place[n] = true;
                    plan.values[out] = {plan.values[in].offset, bytes};
                    arena.transfer(in, out);
                    continue;
                }
            }
            plan.values[out] = {arena.allocate(out, align_up(bytes)), bytes};
        }
        // Inputs read for the last time here are free for the next node's outputs.
        for (int v : node.inputs)
            if (last_use[v] == pos) arena.release(v);
        // Outputs nobody reads (dead ends) are released at once.
        for (int out : node.outputs)
            if (last_use[out] < 0) arena.release(out);
    }
    plan.arena_bytes = arena.peak();
    return plan;
}

}  // namespace weft
