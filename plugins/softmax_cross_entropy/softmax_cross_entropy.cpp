// softmax_cross_entropy {label_smoothing}: the classifier's training loss,
//   L = 1/N · Σ_n Σ_k t_nk · (−log softmax(x_n)_k),   t_n = (1 − ε)·onehot(label_n) + ε/K,
// over logits x of [N, K] (or the head's [N, K, 1, 1]) and i32 class indices of [N]. Fusing the
// softmax into the loss is what keeps it finite: log softmax(x)_k = x_k − max − log Σ exp(x − max)
// never exponentiates a large number, whereas log(softmax(x)) underflows to log(0) = −inf as soon
// as a wrong class is confidently predicted. Label smoothing (ε > 0, Inception-v3's regulariser)
// keeps some target weight on every class so the logits need not grow without bound.
#include <fmt/format.h>

#include "weft/error.h"
#include "weft/plugin.h"
#include "weft/schema_helpers.h"

namespace {

// The logits as the head produces them: [N, K] after fc, [N, K, 1, 1] after a 1x1 convolution.
void check_logits(const weft::TensorDesc& logits) {
    if (logits.dtype != weft::DType::f32)
        throw weft::Error(fmt::format("softmax_cross_entropy: logits should be f32, got {}", logits.str()));
    const bool classes_only = logits.rank() == 2 || (logits.rank() == 4 && logits.shape[2] == 1 && logits.shape[3] == 1);
    if (!classes_only)
        throw weft::Error(fmt::format(
            "softmax_cross_entropy: logits should be [N, K] or [N, K, 1, 1], got {}", logits.str()));
    // A mean over no rows and a softmax over no classes are both 0/0.
    if (logits.shape[0] < 1 || logits.shape[1] < 1)
        throw weft::Error(fmt::format(
            "softmax_cross_entropy: logits {} need at least one row and one class", logits.str()));
}

void check_labels(const weft::TensorDesc& labels, const weft::TensorDesc& logits) {
    if (labels.dtype != weft::DType::i32)
        throw weft::Error(fmt::format(
            "softmax_cross_entropy: labels should be i32 class indices, got {}", labels.str()));
    if (labels.rank() != 1)
        throw weft::Error(fmt::format(
            "softmax_cross_entropy: labels should be [N], one class index per row, got {}", labels.str()));
    if (labels.shape[0] != logits.shape[0])
        throw weft::Error(fmt::format(
            "softmax_cross_entropy: labels {} have {} rows but logits {} have {} (expected equal N)",
            labels.str(), labels.shape[0], logits.str(), logits.shape[0]));
}

weft::NodeSignature infer_softmax_cross_entropy(const weft::InferContext& ctx) {
    check_logits(ctx.inputs[0]);
    check_labels(ctx.inputs[1], ctx.inputs[0]);
    // The attribute spec bounds ε from below only (its max is inclusive); ε = 1 would leave no
    // weight on the labels at all, a loss that ignores the data.
    const double smoothing = ctx.attrs.get_real("label_smoothing");
    if (smoothing >= 1.0)
        throw weft::Error(fmt::format(
            "softmax_cross_entropy: label_smoothing {} leaves no weight on the labels (expected "
            "at least 0 and below 1)",
            smoothing));
    weft::NodeSignature signature;
    signature.outputs = {weft::TensorDesc{weft::DType::f32, {1}, weft::Layout::row_major}};
    return signature;  // no parameters; MACs 0 (the paper counts convolutions and FC only)
}

weft::OpSchema softmax_cross_entropy_schema() {
    weft::OpSchema schema;
    schema.name = "softmax_cross_entropy";
    schema.doc =
        "Mean over the batch of -log softmax(logits)[label]: logits f32 [N, K] or [N, K, 1, 1], "
        "labels i32 [N] -> loss f32 [1]; computed stably, with optional label smoothing.";
    schema.min_inputs = 2;
    schema.max_inputs = 2;
    schema.attrs.push_back(weft::schema::attribute(
        "label_smoothing", weft::AttrType::real, 0.0,
        "ε in [0, 1): the target is (1 - ε)·onehot(label) + ε/K", /*min=*/0.0));
    schema.infer = infer_softmax_cross_entropy;
    // dL/dx = (softmax(x) − t)·dL/dL_out / N needs the logits and labels, not the scalar loss.
    schema.backward_needs.inputs = true;
    schema.backward_needs.outputs = false;
    // Differentiable in the logits; the labels' gradient is defined as zero.
    schema.differentiable = true;
    return schema;
}

}  // namespace

WEFT_PLUGIN("softmax_cross_entropy", "1.0") { registrar.add_op(softmax_cross_entropy_schema()); }
