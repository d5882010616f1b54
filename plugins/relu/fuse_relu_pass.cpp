// Inference pass: a ReLU whose input comes from an operator that can apply ReLU itself (its
// schema has a boolean `fused_relu` attribute; today group_conv, as a oneDNN post-op or inside
// the small-groups kernel) is folded into it. ReLU is per element, so it commutes with channel permutations in between.
#include "../channel_permute/channel_permutation.h"
#include "fuse_relu_pass.h"
#include "weft/registry.h"

namespace weft::relu {
namespace {

bool has_fused_relu_attribute(const Node& node, const Registry& registry) {
    const OpSchema* schema = registry.find_op(node.op);
    if (!schema) return false;
    for (const AttrSpec& a : schema->attrs)
        if (a.name == "fused_relu" && a.type == AttrType::boolean) return true;
    return false;
}

bool fuse_one(PassContext& c, int relu_index) {
    Graph& g = c.graph;
    const Node& relu = g.nodes[relu_index];
    const int input = relu.inputs.at(0);
    if (readers_of(g, input).size() != 1 || g.values[input].desc.rank() < 2) return false;
    const auto trace = channel_permutation::trace_back(g, input);
    const int producer = g.values[trace.source].producer;
    if (producer < 0 || !has_fused_relu_attribute(g.nodes[producer], c.registry)) return false;
    if (readers_of(g, trace.source).size() != 1) return false;
    g.nodes[producer].attrs.set("fused_relu", true);
    replace_uses(g, relu.outputs.at(0), input);
    return true;
}

}  // namespace

GraphPass fuse_relu_pass() {
    GraphPass pass;
    pass.name = "fuse_relu";
    pass.doc = "apply ReLU inside the producing op when its schema offers fused_relu (through channel permutations)";
    pass.order = 20;
    pass.inference_only = true;
    pass.run = [](PassContext& c) {
        int fused = 0;
        for (std::size_t n = 0; n < c.graph.nodes.size(); ++n)
            if (c.graph.nodes[n].op == "relu" && fuse_one(c, static_cast<int>(n))) ++fused;
        return fused;
    };
    return pass;
}

}  // namespace weft::relu
