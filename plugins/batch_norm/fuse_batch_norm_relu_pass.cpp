// Pass for training and inference: a ReLU (any op with the relu activation trait) reading a batch
// norm's output, which nothing else uses, becomes the batch norm's fused_relu. In training this is what pays: oneDNN's fused
// batch norm keeps a one-bit mask instead of the ReLU's output and applies it inside its
// backward, so two passes over the activation (and one over its gradient) disappear.
// Inference runs it after fold_batch_norm and fuse_relu, for batch norms left unfolded.
#include "fold_batch_norm_pass.h"
#include "weft/registry.h"

namespace weft::batch_norm {
namespace {

bool fuse_one(PassContext& c, int relu_index) {
    Graph& g = c.graph;
    const int input = g.nodes[relu_index].inputs.at(0);
    const int producer = g.values[input].producer;
    if (producer < 0 || g.nodes[producer].op != "batch_norm" || g.nodes[producer].attrs.get_bool("fused_relu"))
        return false;
    if (uses_of(c, input) != 1) return false;  // a graph output or a second reader needs it as it is
    g.nodes[producer].attrs.set("fused_relu", true);
    replace_uses(c, g.nodes[relu_index].outputs.at(0), input);
    return true;
}

}  // namespace

GraphPass fuse_batch_norm_relu_pass() {
    GraphPass pass;
    pass.name = "fuse_batch_norm_relu";
    pass.doc = "a ReLU right after a batch norm becomes the batch norm's fused_relu (training and inference)";
    pass.order = 30;
    pass.inference_only = false;
    pass.run = [](PassContext& c) {
        return rewrite_each(c, [](const OpSchema& s) { return s.traits.activation == "relu"; }, fuse_one);
    };
    return pass;
}

}  // namespace weft::batch_norm
