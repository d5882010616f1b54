// Inference pass: a batch norm with running statistics is a per-channel affine map, so it folds
// into the convolution (or fully connected layer) that produces its input — even across channel
// permutations (any op declaring the permutation trait), which only move channels — leaving
// y = (s·W) x + (s·b + t) and no batch norm. Only where every value on the way has one use: a
// graph output in between must keep the values the user asked for.
#include <cmath>

#include <fmt/format.h>

#include "fold_batch_norm_pass.h"
#include "weft/channel_permutation.h"
#include "weft/registry.h"

namespace weft::batch_norm {
namespace {

// A producer we can fold into: it has a `weight` parameter whose first dimension is the output
// channel, and a boolean `bias` attribute (group_conv, pointwise_conv, fc).
bool can_absorb_affine(const Node& node, const Registry& registry) {
    return !node.params.empty() && node.params[0].name == "weight" &&
           op_has_attribute(registry, node.op, "bias", AttrType::boolean);
}

bool fold_one(PassContext& c, int bn_index) {
    Graph& g = c.graph;
    const Node& bn = g.nodes[bn_index];
    if (bn.attrs.get_bool("fused_relu")) return false;  // the ReLU would be lost
    const int input = bn.inputs.at(0);
    const auto producer = channel_permutation::exclusive_producer(c, input);
    if (!producer || !can_absorb_affine(g.nodes[producer->node], c.registry)) return false;
    const channel_permutation::Trace& trace = producer->trace;
    Node& conv = g.nodes[producer->node];

    const double eps = bn.attrs.get_real("eps");
    const auto param = [&](const char* name) -> const float* {
        return c.weights.at(bn.name + "." + name).as<float>();
    };
    const float *gamma = param("weight"), *beta = param("bias"), *mean = param("running_mean"),
                *var = param("running_var");
    Tensor& weight = c.weights.at(conv.name + ".weight");
    const std::int64_t out = weight.shape().at(0), per_out = weight.numel() / out;
    if (out != static_cast<std::int64_t>(trace.position.size())) return false;

    const std::string bias_name = conv.name + ".bias";
    const bool had_bias = conv.attrs.get_bool("bias");
    Tensor bias = had_bias ? c.weights.at(bias_name) : Tensor(TensorDesc{DType::f32, {out}, Layout::row_major});
    float* w = weight.as<float>();
    float* b = bias.as<float>();
    for (std::int64_t k = 0; k < out; ++k) {
        const std::int64_t ch = trace.position[k];  // the batch-norm channel conv output k becomes
        const double scale = gamma[ch] / std::sqrt(double(var[ch]) + eps);
        for (std::int64_t i = 0; i < per_out; ++i) w[k * per_out + i] = static_cast<float>(w[k * per_out + i] * scale);
        b[k] = static_cast<float>(b[k] * scale + beta[ch] - mean[ch] * scale);
    }
    c.weights[bias_name] = bias;
    conv.attrs.set("bias", true);
    replace_uses(c, bn.outputs.at(0), input);  // the batch norm is now dead and will be removed
    return true;
}

}  // namespace

GraphPass fold_batch_norm_pass() {
    GraphPass pass;
    pass.name = "fold_batch_norm";
    pass.doc = "fold inference batch norm into the preceding convolution or FC (through channel permutations)";
    pass.order = 10;
    pass.inference_only = true;
    pass.run = [](PassContext& c) { return rewrite_each(c, "batch_norm", fold_one); };
    return pass;
}

}  // namespace weft::batch_norm
