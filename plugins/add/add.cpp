// add: y = x_0 + x_1 + ... + x_{n-1}, element-wise over same-shaped inputs. It closes residual
// units (shortcut + block, Table 5's "+Ident." networks) and summation fusion (Eq. 21).
#include <fmt/format.h>

#include "weft/error.h"
#include "weft/plugin.h"

namespace {

weft::NodeSignature infer_add(const weft::InferContext& ctx) {
    const weft::TensorDesc& first = ctx.inputs[0];
    for (std::size_t i = 1; i < ctx.inputs.size(); ++i)
        if (!(ctx.inputs[i] == first))
            throw weft::Error(fmt::format(
                "add: every input must have the same shape and type (no broadcasting); input 0 is "
                "{} but input {} is {}",
                first.str(), i, ctx.inputs[i].str()));
    weft::NodeSignature signature;
    signature.outputs = {first};
    return signature;  // no parameters; MACs 0 (the paper counts convolutions and FC only)
}

weft::OpSchema add_schema() {
    weft::OpSchema schema;
    schema.name = "add";
    schema.doc = "Element-wise sum of two or more tensors of the same shape.";
    schema.min_inputs = 2;
    schema.max_inputs = -1;
    schema.infer = infer_add;
    // Each output element depends only on the same element of each input.
    schema.inplace_input = 0;
    // The gradient of a sum is the output gradient, unchanged, for every input.
    schema.backward_needs.inputs = false;
    schema.backward_needs.outputs = false;
    // Inference computes every sample from that sample alone (sample-parallel inference).
    schema.traits.independent_samples = [](const weft::Attributes&) { return true; };
    return schema;
}

}  // namespace

WEFT_PLUGIN("add", "1.0") { registrar.add_op(add_schema()); }
