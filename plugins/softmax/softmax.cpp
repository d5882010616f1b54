// softmax {axis}: y_k = exp(x_k - max_j x_j) / sum_j exp(x_j - max_j x_j) along `axis`, the
// classifier head's last step (Table 2: "average pool, fc, softmax"). Subtracting the maximum
// changes nothing mathematically and keeps exp() from overflowing on large logits.
#include <fmt/format.h>

#include "weft/error.h"
#include "weft/plugin.h"

namespace {

weft::NodeSignature infer_softmax(const weft::InferContext& ctx) {
    const weft::TensorDesc& x = ctx.inputs[0];
    const std::int64_t axis = ctx.attrs.get_int("axis");
    if (axis >= x.rank())
        throw weft::Error(fmt::format(
            "softmax: axis {} does not exist in {} (expected 0 to {}; the class axis of [N, K] "
            "and [N, K, 1, 1] is 1)",
            axis, x.str(), x.rank() - 1));
    weft::NodeSignature signature;
    signature.outputs = {x};
    return signature;  // no parameters; MACs 0 (the paper counts convolutions and FC only)
}

weft::OpSchema softmax_schema() {
    weft::OpSchema schema;
    schema.name = "softmax";
    schema.doc =
        "Numerically stable softmax along one axis (the classes of [N, K] or "
        "[N, K, 1, 1]).";
    weft::AttrSpec axis;
    axis.name = "axis";
    axis.type = weft::AttrType::integer;
    axis.default_value = std::int64_t{1};
    axis.doc = "the axis normalised over; 1 is the class axis of [N, K] and [N, K, 1, 1]";
    axis.min = 0;
    schema.attrs.push_back(std::move(axis));
    schema.infer = infer_softmax;
    // The Jacobian-vector product needs only y: dx = y * (dy - sum(dy * y)).
    schema.backward_needs.inputs = false;
    schema.backward_needs.outputs = true;
    // Training puts its loss on the logits and drops a trailing softmax (the loss computes its
    // own, stably).
    schema.traits.probabilities = true;
    // Each sample alone, unless the axis normalised over is the batch's (sample-parallel inference).
    schema.traits.independent_samples = [](const weft::Attributes& attrs) { return attrs.get_int("axis") != 0; };
    return schema;
}

}  // namespace

WEFT_PLUGIN("softmax", "1.0") { registrar.add_op(softmax_schema()); }
