// relu: y = max(x, 0), the non-linearity after batch norm in every block (section 5.2).
#include "fuse_relu_pass.h"
#include <fmt/format.h>

#include "weft/error.h"
#include "weft/plugin.h"

namespace {

weft::NodeSignature infer_relu(const weft::InferContext& ctx) {
    const weft::TensorDesc& x = ctx.inputs[0];
    if (x.rank() < 1)
        throw weft::Error(
            fmt::format("relu: expected a tensor of rank 1 or more, got {}", x.str()));
    // Element-wise: same shape, no parameters, and no multiply-adds in the paper's counts.
    weft::NodeSignature signature;
    signature.outputs = {x};
    return signature;
}

weft::OpSchema relu_schema() {
    weft::OpSchema schema;
    schema.name = "relu";
    schema.doc = "Rectified linear unit, y = max(x, 0), element-wise.";
    schema.infer = infer_relu;
    // Each output element depends only on the same input element, so it may overwrite it.
    schema.inplace_input = 0;
    // The gradient is g·[y > 0]: the output alone decides it, and the input may be gone when
    // the node ran in place.
    schema.backward_needs.inputs = false;
    schema.backward_needs.outputs = true;
    // The same max(x, 0) everywhere: it commutes with moving channels, and an op with a
    // `fused_relu` attribute can apply it itself (fuse_relu, fuse_batch_norm_relu).
    schema.traits.elementwise = true;
    schema.traits.activation = "relu";
    // Inference computes every sample from that sample alone (sample-parallel inference).
    schema.traits.independent_samples = [](const weft::Attributes&) { return true; };
    return schema;
}

}  // namespace

WEFT_PLUGIN("relu", "1.0") {
    registrar.add_op(relu_schema());
    registrar.add_pass(weft::relu::fuse_relu_pass());
}
