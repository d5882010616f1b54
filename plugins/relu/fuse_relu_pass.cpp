// Inference pass: a ReLU whose input comes from an operator that can apply ReLU itself (its
// schema has a boolean `fused_relu` attribute; today group_conv, as a oneDNN post-op or inside
// the small-groups kernel) is folded into it. ReLU is per element, so it commutes with channel
// permutations in between (any op with the permutation trait). Any op with the relu activation
// trait counts as a ReLU, so a plugin's own ReLU is fused the same way.
#include "fuse_relu_pass.h"
#include "weft/channel_permutation.h"
#include "weft/registry.h"

namespace weft::relu {
namespace {

bool fuse_one(PassContext& c, int relu_index) {
    Graph& g = c.graph;
    const Node& relu = g.nodes[relu_index];
    const int input = relu.inputs.at(0);
    if (g.values[input].desc.rank() < 2) return false;
    const auto producer = channel_permutation::exclusive_producer(c, input);
    if (!producer || !op_has_attribute(c.registry, g.nodes[producer->node].op, "fused_relu", AttrType::boolean))
        return false;
    g.nodes[producer->node].attrs.set("fused_relu", true);
    replace_uses(c, relu.outputs.at(0), input);
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
        return rewrite_each(c, [](const OpSchema& s) { return s.traits.activation == "relu"; }, fuse_one);
    };
    return pass;
}

}  // namespace weft::relu
