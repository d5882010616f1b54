// pool {mode, kernel, stride, padding}: spatial pooling of an [N, C, H, W] tensor.
//
// - max: ResNet's stem uses 3×3, stride 2, padding 1 (architectures notes, ImageNet networks).
// - avg: the divisor counts only the real (unpadded) elements of each window, so border outputs
//   are averages of data rather than shrunk towards zero. The paper's networks average only
//   globally, where no padding exists, so this choice changes none of them; note that PyTorch's
//   AvgPool2d defaults to count_include_pad=True, so an imported padded avg pool must set it False.
// - global_avg: the head's average over the whole map (8×8 on CIFAR, 7×7 on ImageNet) -> [N, C, 1,
// 1].
#include "pool_geometry.h"
#include "weft/plugin.h"

namespace {

weft::NodeSignature infer_pool(const weft::InferContext& ctx) {
    weft::NodeSignature signature;
    weft::TensorDesc out = ctx.inputs[0];
    out.shape = weft::pool::pool_geometry(ctx.attrs, ctx.inputs[0]).output;
    signature.outputs = {out};
    return signature;  // no parameters; MACs 0 (the paper counts convolutions and FC only)
}

weft::AttrSpec ints_attr(const char* name, double min, const char* doc) {
    weft::AttrSpec spec;
    spec.name = name;
    spec.type = weft::AttrType::integers;
    spec.default_value = std::vector<std::int64_t>{};  // empty: "not given", resolved in infer
    spec.doc = doc;
    spec.min = min;
    return spec;
}

weft::OpSchema pool_schema() {
    weft::OpSchema schema;
    schema.name = "pool";
    schema.doc =
        "Spatial pooling: max, avg (padding excluded from the divisor) or global_avg "
        "(-> [N, C, 1, 1]).";
    weft::AttrSpec mode;
    mode.name = "mode";
    mode.type = weft::AttrType::string;
    mode.doc = "max | avg | global_avg";
    mode.choices = {"max", "avg", "global_avg"};
    schema.attrs.push_back(std::move(mode));
    schema.attrs.push_back(ints_attr("kernel", 1,
                                     "window size, 1 value or one per spatial "
                                     "dimension; required for max and avg"));
    schema.attrs.push_back(ints_attr("stride", 1, "step between windows; default: the kernel"));
    schema.attrs.push_back(ints_attr("padding", 0, "implicit padding on each side; default 0"));
    schema.infer = infer_pool;
    // Max pooling's backward routes gradients to the argmax. The cpu kernel keeps it in its
    // workspace; the input stays available for backends that find it again from x.
    schema.backward_needs.inputs = true;
    schema.backward_needs.outputs = false;
    // Inference computes every sample from that sample alone (sample-parallel inference).
    schema.traits.independent_samples = [](const weft::Attributes&) { return true; };
    return schema;
}

}  // namespace

WEFT_PLUGIN("pool", "1.0") { registrar.add_op(pool_schema()); }
